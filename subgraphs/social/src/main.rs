use std::time::Duration;

use nova_core::config::{exit_on_error, required};
use nova_core::internal::InternalClient;
use nova_social::events::PostCleanup;
use nova_social::{internal, schema, MIGRATOR};

/// How long a like waits for content's answer on the post's author.
const INTERNAL_CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::ran_command("social", schema::sdl, &MIGRATOR).await? {
        return Ok(());
    }
    let content_url = exit_on_error(required(
        "CONTENT_SERVICE_URL",
        "the content subgraph's base URL (http://host:port), asked for a post's author",
    ));
    nova_core::http::run_subgraph("social", 4004, &MIGRATOR, |startup| async move {
        startup.events.spawn_consumer(PostCleanup)?;
        let content =
            InternalClient::new(&content_url, &startup.router_secret, INTERNAL_CALL_TIMEOUT)?;
        let internal = internal::routes(startup.db.clone(), &startup.router_secret);
        Ok((schema::build(startup.db, content), internal))
    })
    .await
}

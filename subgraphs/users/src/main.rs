use std::time::Duration;

use nova_core::config::{exit_on_error, required};
use nova_core::internal::InternalClient;
use nova_users::events::Erasure;
use nova_users::{internal, schema, MIGRATOR};

/// How long an avatar change waits for media's answer.
const INTERNAL_CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::ran_command("users", schema::sdl, &MIGRATOR).await? {
        return Ok(());
    }
    let media_url = exit_on_error(required(
        "MEDIA_SERVICE_URL",
        "the media subgraph's base URL (http://host:port), which attaches uploaded avatars",
    ));
    nova_core::http::run_subgraph("users", 4002, &MIGRATOR, |startup| async move {
        startup.events.spawn_consumer(Erasure)?;
        let media = InternalClient::new(&media_url, &startup.router_secret, INTERNAL_CALL_TIMEOUT)?;
        let internal = internal::routes(startup.db.clone(), &startup.router_secret);
        Ok((schema::build(startup.db, media), internal))
    })
    .await
}

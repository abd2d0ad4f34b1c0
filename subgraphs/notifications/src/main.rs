use std::time::Duration;

use nova_core::config::{exit_on_error, required};
use nova_core::internal::InternalClient;
use nova_core::live::redis_url_from_env;
use nova_notifications::events::NotificationBuilder;
use nova_notifications::live::NotificationHub;
use nova_notifications::{internal, schema, MIGRATOR};

/// How long building a notification waits for social's answer before the
/// event is retried.
const SOCIAL_TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::ran_command("notifications", schema::sdl, &MIGRATOR).await? {
        return Ok(());
    }
    let redis_url = exit_on_error(redis_url_from_env());
    let social_url = exit_on_error(required(
        "SOCIAL_SERVICE_URL",
        "the social subgraph's base URL (http://host:port), asked who is blocked or muted",
    ));
    nova_core::http::run_subgraph("notifications", 4006, &MIGRATOR, |startup| async move {
        let social = InternalClient::new(&social_url, &startup.router_secret, SOCIAL_TIMEOUT)?;
        let hub = NotificationHub::start(&redis_url, "notifications", &startup.metrics).await?;
        startup
            .events
            .spawn_consumer(NotificationBuilder::new(hub.clone(), social))?;
        let notices = nova_core::suspensions::SuspensionNotices::start(&redis_url)?;
        let internal = internal::routes(startup.db.clone(), &startup.router_secret);
        Ok((schema::build(startup.db, hub, notices), internal))
    })
    .await
}

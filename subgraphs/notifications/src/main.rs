use nova_core::config::exit_on_error;
use nova_core::live::redis_url_from_env;
use nova_notifications::events::NotificationBuilder;
use nova_notifications::live::NotificationHub;
use nova_notifications::{schema, MIGRATOR};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::printed_schema(schema::sdl) {
        return Ok(());
    }
    let redis_url = exit_on_error(redis_url_from_env());
    nova_core::http::run_subgraph("notifications", 4006, &MIGRATOR, |startup| async move {
        let hub = NotificationHub::start(&redis_url, "notifications", &startup.metrics).await?;
        startup
            .events
            .spawn_consumer(NotificationBuilder::new(hub.clone()))?;
        Ok((schema::build(startup.db, hub), axum::Router::new()))
    })
    .await
}

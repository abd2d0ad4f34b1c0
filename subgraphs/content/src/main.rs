use std::time::Duration;

use nova_content::{events, internal, schema, MIGRATOR};
use nova_core::config::{exit_on_error, required};
use nova_core::internal::InternalClient;

/// How long `node(id:)` waits for identity's answer, and a comment for social's.
const INTERNAL_CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::ran_command("content", schema::sdl, &MIGRATOR).await? {
        return Ok(());
    }
    let identity_url = exit_on_error(required(
        "IDENTITY_SERVICE_URL",
        "the identity subgraph's base URL (http://host:port), for its /internal/ routes",
    ));
    let social_url = exit_on_error(required(
        "SOCIAL_SERVICE_URL",
        "the social subgraph's base URL (http://host:port), asked about blocks",
    ));
    let media_url = exit_on_error(required(
        "MEDIA_SERVICE_URL",
        "the media subgraph's base URL (http://host:port), which attaches uploads to posts",
    ));
    let chat_url = exit_on_error(required(
        "CHAT_SERVICE_URL",
        "the chat subgraph's base URL (http://host:port), which keeps reported messages",
    ));
    let moderation_retention = exit_on_error(nova_core::config::moderation_retention());
    nova_core::http::run_subgraph("content", 4003, &MIGRATOR, |startup| async move {
        startup.events.spawn_consumer(events::Erasure)?;
        let pool = startup.db.background_pool().clone();
        nova_core::events::pruning::spawn_hourly("moderation log entries", move || {
            let pool = pool.clone();
            async move { events::prune_moderation_log(&pool, moderation_retention).await }
        });
        let identity =
            InternalClient::new(&identity_url, &startup.router_secret, INTERNAL_CALL_TIMEOUT)?;
        let social =
            InternalClient::new(&social_url, &startup.router_secret, INTERNAL_CALL_TIMEOUT)?;
        let media = InternalClient::new(&media_url, &startup.router_secret, INTERNAL_CALL_TIMEOUT)?;
        let chat = InternalClient::new(&chat_url, &startup.router_secret, INTERNAL_CALL_TIMEOUT)?;
        let internal = internal::routes(startup.db.clone(), &startup.router_secret);
        let views = nova_core::views::ViewRecorder::start(startup.db.clone(), &startup.shutdown);
        Ok((
            schema::build(startup.db, identity, social, media, chat, views),
            internal,
        ))
    })
    .await
}

use std::time::Duration;

use nova_core::config::exit_on_error;
use nova_core::internal::InternalClient;
use nova_core::live::{redis_url_from_env, LiveHub};
use nova_core::views::ViewRecorder;
use nova_feed::events::FeedBuilder;
use nova_feed::page::FeedReader;
use nova_feed::ranked::RankedFeeds;
use nova_feed::settings::FeedSettings;
use nova_feed::timeline::Timelines;
use nova_feed::{backfill, schema, MIGRATOR};

/// How long a page waits for content's answer.
const INTERNAL_CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::ran_command("feed", schema::sdl, &MIGRATOR).await? {
        return Ok(());
    }
    let redis_url = exit_on_error(redis_url_from_env());
    let settings = exit_on_error(FeedSettings::from_env());
    nova_core::http::run_subgraph("feed", 4007, &MIGRATOR, |startup| async move {
        let secret = &startup.router_secret;
        let content = InternalClient::new(&settings.content_url, secret, INTERNAL_CALL_TIMEOUT)?;
        let social = InternalClient::new(&settings.social_url, secret, INTERNAL_CALL_TIMEOUT)?;
        let timelines = Timelines::connect(
            &redis_url,
            settings.timeline_cap,
            settings.timeline_ttl_seconds(),
        )
        .await?;
        let hub = LiveHub::start(&redis_url, "feed", &startup.metrics).await?;
        let ranked = RankedFeeds::new(nova_core::live::redis_connection(&redis_url).await?);
        let builder = FeedBuilder::new(
            startup.db.background_pool().clone(),
            timelines.clone(),
            ranked.clone(),
            hub.clone(),
            settings.clone(),
        );
        // Not ready (not even listening) until the owners' data is copied: a
        // page read before would build timelines the copy never reaches.
        let pool = startup.db.background_pool().clone();
        backfill::run_until_done(&pool, &social, &content).await;
        startup.events.spawn_consumer(builder)?;
        let reader = FeedReader {
            db: startup.db,
            timelines,
            content,
            settings,
            ranked,
        };
        let notices = nova_core::suspensions::SuspensionNotices::start(&redis_url)?;
        let views = ViewRecorder::start(reader.db.clone(), &startup.shutdown);
        Ok((
            schema::build(reader, hub, notices, views),
            axum::Router::new(),
        ))
    })
    .await
}

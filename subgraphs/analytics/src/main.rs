use std::time::Duration;

use nova_analytics::clickhouse::ClickHouse;
use nova_analytics::features::Features;
use nova_analytics::ingest::Ingestion;
use nova_analytics::schema::{self, Owners};
use nova_analytics::settings::AnalyticsSettings;
use nova_analytics::MIGRATOR;
use nova_core::config::exit_on_error;
use nova_core::internal::InternalClient;

/// How long a read waits for content's or social's answer.
const INTERNAL_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How often readiness checks ClickHouse.
const CLICKHOUSE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::ran_command("analytics", schema::sdl, &MIGRATOR).await? {
        return Ok(());
    }
    let settings = exit_on_error(AnalyticsSettings::from_env());
    let redis_url = exit_on_error(nova_core::live::redis_url_from_env());
    nova_core::http::run_subgraph("analytics", 4010, &MIGRATOR, |startup| async move {
        let secret = &startup.router_secret;
        let owners = Owners {
            content: InternalClient::new(&settings.content_url, secret, INTERNAL_CALL_TIMEOUT)?,
            social: InternalClient::new(&settings.social_url, secret, INTERNAL_CALL_TIMEOUT)?,
        };
        let clickhouse = ClickHouse::new(&settings)?;
        let clickhouse_ready = startup.readiness.dependency("clickhouse");
        tokio::spawn(
            clickhouse
                .clone()
                .watch(clickhouse_ready.clone(), CLICKHOUSE_CHECK_INTERVAL),
        );
        let redis = nova_core::live::redis_connection(&redis_url).await?;
        let features = Features::new(
            clickhouse.clone(),
            redis,
            startup.db.background_pool().clone(),
            &startup.metrics,
        )?;
        tokio::spawn(features.clone().run(settings.features_interval));
        let ingestion = Ingestion {
            clickhouse: clickhouse.clone(),
            pool: startup.db.background_pool().clone(),
            kafka: startup.events.kafka().clone(),
            metrics: startup.events.metrics().clone(),
            settings,
            clickhouse_ready,
            features,
        };
        ingestion.register_metrics();
        tokio::spawn(async move {
            if let Err(error) = ingestion.run().await {
                // Only the client's creation can fail here: a configuration error.
                tracing::error!(error = %format!("{error:#}"), "analytics ingestion stopped");
            }
        });
        let internal = nova_analytics::internal::routes(clickhouse.clone(), secret);
        Ok((schema::build(clickhouse, owners), internal))
    })
    .await
}

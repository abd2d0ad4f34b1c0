//! Forgetting processed events once the broker can no longer deliver them again:
//! a consumer's `processed_events` records older than
//! `KafkaConfig::processed_events_retention` are deleted when the consumer
//! starts and then every hour, in batches so no statement holds many locks.

use std::time::Duration;

use sqlx::PgPool;

const INTERVAL: Duration = Duration::from_secs(60 * 60);
const BATCH: i64 = 10_000;

/// Delete `consumer`'s records processed more than `keep` ago; how many went.
pub async fn prune_processed(
    pool: &PgPool,
    consumer: &str,
    keep: Duration,
) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    loop {
        let batch = sqlx::query!(
            "DELETE FROM processed_events WHERE consumer = $1 AND event_id IN ( \
                 SELECT event_id FROM processed_events \
                 WHERE consumer = $1 AND processed_at < now() - make_interval(secs => $2) \
                 LIMIT $3)",
            consumer,
            keep.as_secs_f64(),
            BATCH,
        )
        .execute(pool)
        .await?
        .rows_affected();
        deleted += batch;
        if batch < BATCH as u64 {
            return Ok(deleted);
        }
    }
}

/// Prune `consumer`'s records now and every hour, for the life of the process.
pub fn spawn(pool: PgPool, consumer: &'static str, keep: Duration) {
    spawn_hourly("processed events past the broker's retention", move || {
        let pool = pool.clone();
        async move { prune_processed(&pool, consumer, keep).await }
    });
}

/// Run `prune` (which answers how many rows it removed) now and every hour,
/// for the life of the process; `what` names the rows in the logs. A failure
/// waits for the next hour.
pub fn spawn_hourly<F, Fut>(what: &'static str, prune: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<u64, sqlx::Error>> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        loop {
            tick.tick().await;
            match prune().await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(what, deleted, "pruned"),
                Err(error) => tracing::warn!(what, %error, "pruning failed; retrying in an hour"),
            }
        }
    });
}

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
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        loop {
            tick.tick().await;
            match prune_processed(&pool, consumer, keep).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(
                    consumer,
                    deleted,
                    "forgot processed events older than the broker keeps messages"
                ),
                Err(error) => {
                    tracing::warn!(consumer, %error, "pruning processed_events failed; retrying in an hour")
                }
            }
        }
    });
}

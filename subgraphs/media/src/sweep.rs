//! The sweep: intents never completed become deleted once their URL expired
//! long enough ago, and every deleted media loses its objects (upload and
//! variants), then its row. Deleting is marking: a deleted media is hidden at
//! once, and the objects go within one sweep. Data exports past their time
//! lose their object and row too.

use std::time::Duration;

use sqlx::PgPool;

use crate::storage::ObjectStore;
use crate::store;

/// How often the sweep runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Media whose objects one pass removes at most.
const BATCH: i64 = 100;

pub async fn run(pool: PgPool, objects: ObjectStore, abandoned_after: Duration) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        every.tick().await;
        if let Err(error) = sweep_once(&pool, &objects, abandoned_after).await {
            tracing::warn!(error = format!("{error:#}"), "media sweep failed; retrying");
        }
    }
}

pub async fn sweep_once(
    pool: &PgPool,
    objects: &ObjectStore,
    abandoned_after: Duration,
) -> anyhow::Result<()> {
    let abandoned = store::mark_abandoned(pool, abandoned_after.as_secs_f64()).await?;
    if abandoned > 0 {
        tracing::info!(abandoned, "abandoned upload intents removed");
    }
    for (media_id, keys) in store::deleted_batch(pool, BATCH).await? {
        objects.delete(&keys).await?;
        store::forget(pool, media_id).await?;
    }
    for (export_id, key) in store::exports::expired_exports(pool, BATCH).await? {
        objects.delete(&[key]).await?;
        store::exports::forget_export(pool, export_id).await?;
    }
    Ok(())
}

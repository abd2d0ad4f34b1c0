//! SQL of `nova_media`: uploads, their status and their variants.

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub mod exports;

#[derive(Clone, Debug)]
pub struct MediaRow {
    pub media_id: Uuid,
    pub owner_id: Uuid,
    pub kind: String,
    pub declared_type: String,
    pub byte_size: i64,
    pub status: String,
    pub failure: Option<String>,
    pub content_type: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_ms: Option<i64>,
    pub object_key: String,
}

#[derive(Clone, Debug)]
pub struct VariantRow {
    pub media_id: Uuid,
    pub name: String,
    pub width: i32,
    pub height: i32,
    pub content_type: String,
    pub object_key: String,
    pub byte_size: i64,
}

/// An intent: the row exists from the moment the upload URL is handed out.
pub struct NewIntent<'a> {
    pub media_id: Uuid,
    pub owner_id: Uuid,
    pub kind: &'a str,
    pub declared_type: &'a str,
    pub byte_size: i64,
    pub object_key: &'a str,
    pub upload_expires_at: DateTime<Utc>,
}

pub async fn insert_intent(db: &Db, intent: &NewIntent<'_>) -> Result<(), sqlx::Error> {
    db.count_statement();
    sqlx::query!(
        "INSERT INTO media (media_id, owner_id, kind, declared_type, byte_size, status, \
                            object_key, upload_expires_at) \
         VALUES ($1, $2, $3, $4, $5, 'awaiting_upload', $6, $7)",
        intent.media_id,
        intent.owner_id,
        intent.kind,
        intent.declared_type,
        intent.byte_size,
        intent.object_key,
        intent.upload_expires_at,
    )
    .execute(db.statement())
    .await?;
    Ok(())
}

/// Media rows by id, deleted and hidden (taken-down) ones left out.
pub async fn media_rows(db: &Db, ids: &[Uuid]) -> Result<Vec<MediaRow>, sqlx::Error> {
    db.count_statement();
    sqlx::query_as!(
        MediaRow,
        "SELECT media_id, owner_id, kind, declared_type, byte_size, status, failure, \
                content_type, width, height, duration_ms, object_key \
         FROM media WHERE media_id = ANY($1) AND status <> 'deleted' AND hidden_at IS NULL",
        ids,
    )
    .fetch_all(db.statement())
    .await
}

pub async fn variants_of(db: &Db, ids: &[Uuid]) -> Result<Vec<VariantRow>, sqlx::Error> {
    db.count_statement();
    sqlx::query_as!(
        VariantRow,
        "SELECT media_id, name, width, height, content_type, object_key, byte_size \
         FROM media_variants WHERE media_id = ANY($1) ORDER BY media_id, width",
        ids,
    )
    .fetch_all(db.statement())
    .await
}

/// The upload is in the store and passed the checks: PROCESSING, once. False
/// when it was not awaiting its upload (completed before, or not the owner's).
pub async fn start_processing(
    tx: &mut PgConnection,
    media_id: Uuid,
    owner_id: Uuid,
    content_type: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE media SET status = 'processing', content_type = $3, completed_at = now() \
         WHERE media_id = $1 AND owner_id = $2 AND status = 'awaiting_upload'",
        media_id,
        owner_id,
        content_type,
    )
    .execute(tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Refused for a reason the client can show (at completeUpload or processing).
pub async fn fail(pool: &PgPool, media_id: Uuid, reason: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE media SET status = 'failed', failure = $2, processed_at = now() \
         WHERE media_id = $1 AND status IN ('awaiting_upload', 'processing')",
        media_id,
        reason,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A processed upload: its size and variants, READY in one transaction.
pub async fn finish(
    pool: &PgPool,
    media_id: Uuid,
    (width, height): (i32, i32),
    duration_ms: Option<i64>,
    variants: &[VariantRow],
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query!(
        "UPDATE media SET status = 'ready', width = $2, height = $3, duration_ms = $4, \
                          processed_at = now() \
         WHERE media_id = $1 AND status = 'processing'",
        media_id,
        width,
        height,
        duration_ms,
    )
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    for variant in variants {
        sqlx::query!(
            "INSERT INTO media_variants (media_id, name, width, height, content_type, \
                                         object_key, byte_size) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            variant.media_id,
            variant.name,
            variant.width,
            variant.height,
            variant.content_type,
            variant.object_key,
            variant.byte_size,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The row as the worker sees it (no request counting).
pub async fn media_for_processing(
    pool: &PgPool,
    media_id: Uuid,
) -> Result<Option<MediaRow>, sqlx::Error> {
    sqlx::query_as!(
        MediaRow,
        "SELECT media_id, owner_id, kind, declared_type, byte_size, status, failure, \
                content_type, width, height, duration_ms, object_key \
         FROM media WHERE media_id = $1",
        media_id,
    )
    .fetch_optional(pool)
    .await
}

/// Intents whose URL expired `grace_seconds` ago and were never completed
/// become deleted: nobody can complete them any more, and the sweep removes
/// their objects.
pub async fn mark_abandoned(pool: &PgPool, grace_seconds: f64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE media SET status = 'deleted' \
         WHERE status = 'awaiting_upload' \
           AND upload_expires_at < now() - make_interval(secs => $1)",
        grace_seconds,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Deleted media whose objects are still to remove: id and every object key
/// (the upload and its variants).
pub async fn deleted_batch(
    pool: &PgPool,
    limit: i64,
) -> Result<Vec<(Uuid, Vec<String>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT m.media_id, m.object_key,
                  COALESCE(array_agg(v.object_key) FILTER (WHERE v.object_key IS NOT NULL), '{}') AS "variant_keys!"
           FROM media m LEFT JOIN media_variants v USING (media_id)
           WHERE m.status = 'deleted'
           GROUP BY m.media_id
           ORDER BY m.media_id LIMIT $1"#,
        limit,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut keys = vec![r.object_key];
            keys.extend(r.variant_keys);
            (r.media_id, keys)
        })
        .collect())
}

/// Forget a deleted media once its objects are gone.
pub async fn forget(pool: &PgPool, media_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM media WHERE media_id = $1 AND status = 'deleted'",
        media_id,
    )
    .execute(pool)
    .await?;
    Ok(())
}

// ---- Where media shows (attaching.rs, events.rs) ----

pub struct AttachRow {
    pub media_id: Uuid,
    pub owner_id: Uuid,
    pub status: String,
    pub used_by: Option<String>,
}

/// The live media among `ids`, locked until the attach commits.
pub async fn lock_for_attach(
    tx: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<AttachRow>, sqlx::Error> {
    sqlx::query_as!(
        AttachRow,
        "SELECT media_id, owner_id, status, used_by FROM media \
         WHERE media_id = ANY($1) AND status <> 'deleted' FOR UPDATE",
        ids,
    )
    .fetch_all(tx)
    .await
}

pub async fn mark_used(
    tx: &mut PgConnection,
    ids: &[Uuid],
    used_by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE media SET used_by = $2 WHERE media_id = ANY($1)",
        ids,
        used_by,
    )
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn unmark_used(
    pool: &PgPool,
    ids: &[Uuid],
    owner: Uuid,
    used_by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE media SET used_by = NULL \
         WHERE media_id = ANY($1) AND owner_id = $2 AND used_by = $3",
        ids,
        owner,
        used_by,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The media `used_by` showed until now, other than `keep`, become deleted.
pub async fn delete_others_used_by(
    tx: &mut PgConnection,
    used_by: &str,
    keep: &[Uuid],
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE media SET status = 'deleted' \
         WHERE used_by = $1 AND NOT (media_id = ANY($2)) AND status <> 'deleted'",
        used_by,
        keep,
    )
    .execute(tx)
    .await?;
    Ok(done.rows_affected())
}

/// Every media of a deleted account becomes deleted: hidden at once, its
/// objects removed by the next sweep.
pub async fn delete_owned_by(tx: &mut PgConnection, owner: Uuid) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE media SET status = 'deleted' WHERE owner_id = $1 AND status <> 'deleted'",
        owner,
    )
    .execute(tx)
    .await?;
    Ok(done.rows_affected())
}

/// Hide (or show again) the media shown by `used_by`: a moderator took its
/// place down (or restored it). Idempotent.
pub async fn set_hidden_used_by(
    tx: &mut PgConnection,
    used_by: &str,
    hidden: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE media SET hidden_at = CASE WHEN $2 THEN coalesce(hidden_at, now()) END \
         WHERE used_by = $1",
        used_by,
        hidden,
    )
    .execute(tx)
    .await?;
    Ok(())
}

//! SQL of `exportMyData` archives (`exports.rs`).

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// When the owner's latest archive was made.
pub async fn latest_export(db: &Db, owner: Uuid) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT created_at FROM exports WHERE owner_id = $1 ORDER BY created_at DESC LIMIT 1",
        owner
    )
    .fetch_optional(db.statement())
    .await
}

pub async fn record_export(
    db: &Db,
    export_id: Uuid,
    owner: Uuid,
    object_key: &str,
    byte_size: i64,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO exports (export_id, owner_id, object_key, byte_size, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
        export_id,
        owner,
        object_key,
        byte_size,
        expires_at,
    )
    .execute(db.statement())
    .await?;
    Ok(())
}

/// The owner's media, as the archive lists them.
pub struct OwnedMedia {
    pub media_id: Uuid,
    pub kind: String,
    pub status: String,
    pub content_type: Option<String>,
    pub byte_size: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub object_key: String,
    pub created_at: DateTime<Utc>,
    pub used_by: Option<String>,
}

pub async fn owned_media(db: &Db, owner: Uuid) -> Result<Vec<OwnedMedia>, sqlx::Error> {
    sqlx::query_as!(
        OwnedMedia,
        "SELECT media_id, kind, status, content_type, byte_size, width, height, object_key, \
           created_at, used_by FROM media WHERE owner_id = $1 AND status <> 'deleted' \
         ORDER BY media_id",
        owner
    )
    .fetch_all(db.statement())
    .await
}

/// Archives past their time: (id, object key).
pub async fn expired_exports(
    pool: &PgPool,
    limit: i64,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT export_id, object_key FROM exports WHERE expires_at <= now() \
         ORDER BY expires_at LIMIT $1",
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.export_id, r.object_key))
        .collect())
}

pub async fn forget_export(pool: &PgPool, export_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM exports WHERE export_id = $1", export_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// A deleted account's archives expire now (the sweep removes them).
pub async fn expire_exports_of(tx: &mut PgConnection, owner: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE exports SET expires_at = now() WHERE owner_id = $1 AND expires_at > now()",
        owner
    )
    .execute(tx)
    .await?;
    Ok(())
}

//! SQL of `nova_registry`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Clone, Debug, Serialize)]
pub struct SupergraphRow {
    pub id: Uuid,
    #[serde(skip)]
    pub sdl: String,
    pub sdl_sha256: String,
    /// subgraph → version id.
    pub members: BTreeMap<String, Uuid>,
    pub reason: String,
    pub subject: Option<Uuid>,
    pub created_by: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

/// A supergraph as stored: `members` is jsonb.
struct StoredSupergraph {
    id: Uuid,
    sdl: String,
    sdl_sha256: String,
    members: Json<BTreeMap<String, Uuid>>,
    reason: String,
    subject: Option<Uuid>,
    created_by: String,
    message: String,
    created_at: DateTime<Utc>,
}

impl From<StoredSupergraph> for SupergraphRow {
    fn from(row: StoredSupergraph) -> Self {
        SupergraphRow {
            id: row.id,
            sdl: row.sdl,
            sdl_sha256: row.sdl_sha256,
            members: row.members.0,
            reason: row.reason,
            subject: row.subject,
            created_by: row.created_by,
            message: row.message,
            created_at: row.created_at,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct VersionRow {
    pub id: Uuid,
    pub subgraph: String,
    pub routing_url: String,
    #[serde(skip)]
    pub sdl: String,
    pub published_by: String,
    pub message: String,
    pub published_at: DateTime<Utc>,
}

/// The current supergraph, locked until the transaction ends: publishes and
/// rollbacks apply one at a time.
pub async fn lock_current(tx: &mut PgConnection) -> Result<Option<SupergraphRow>, sqlx::Error> {
    let id = sqlx::query_scalar!(
        "SELECT supergraph_id FROM current_supergraph WHERE singleton FOR UPDATE"
    )
    .fetch_one(&mut *tx)
    .await?;
    match id {
        Some(id) => supergraph(&mut *tx, id).await,
        None => Ok(None),
    }
}

pub async fn current(pool: &PgPool) -> Result<Option<SupergraphRow>, sqlx::Error> {
    let row = sqlx::query_as!(
        StoredSupergraph,
        r#"SELECT id, sdl, sdl_sha256, members AS "members: Json<BTreeMap<String, Uuid>>", reason,
             subject, created_by, message, created_at
           FROM supergraphs
           WHERE id = (SELECT supergraph_id FROM current_supergraph WHERE singleton)"#
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(SupergraphRow::from))
}

pub async fn supergraph(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<SupergraphRow>, sqlx::Error> {
    let row = sqlx::query_as!(
        StoredSupergraph,
        r#"SELECT id, sdl, sdl_sha256, members AS "members: Json<BTreeMap<String, Uuid>>", reason,
             subject, created_by, message, created_at
           FROM supergraphs WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(SupergraphRow::from))
}

pub async fn versions_by_id<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    ids: &[Uuid],
) -> Result<Vec<VersionRow>, sqlx::Error> {
    sqlx::query_as!(
        VersionRow,
        "SELECT id, subgraph, routing_url, sdl, published_by, message, published_at \
         FROM subgraph_versions WHERE id = ANY($1) ORDER BY subgraph",
        ids
    )
    .fetch_all(executor)
    .await
}

/// The SDL of `subgraph`'s version in the current supergraph, if it is there.
pub async fn current_version_sdl(
    conn: &mut PgConnection,
    subgraph: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT v.sdl FROM current_supergraph c
         JOIN supergraphs s ON s.id = c.supergraph_id
         JOIN subgraph_versions v ON v.id = (s.members ->> $1)::uuid
         WHERE c.singleton",
        subgraph
    )
    .fetch_optional(conn)
    .await
}

pub async fn insert_version(
    conn: &mut PgConnection,
    subgraph: &str,
    routing_url: &str,
    sdl: &str,
    published_by: &str,
    message: &str,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO subgraph_versions (id, subgraph, routing_url, sdl, published_by, message) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        subgraph,
        routing_url,
        sdl,
        published_by,
        message,
    )
    .execute(conn)
    .await?;
    Ok(id)
}

pub struct NewSupergraph<'a> {
    pub sdl: &'a str,
    pub members: &'a BTreeMap<String, Uuid>,
    pub reason: &'a str,
    pub subject: Option<Uuid>,
    pub created_by: &'a str,
    pub message: &'a str,
}

/// Record a supergraph and make it current.
pub async fn insert_current(
    conn: &mut PgConnection,
    new: NewSupergraph<'_>,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO supergraphs (id, sdl, sdl_sha256, members, reason, subject, created_by, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        id,
        new.sdl,
        crate::auth::sha256_hex(new.sdl),
        Json(new.members) as _,
        new.reason,
        new.subject,
        new.created_by,
        new.message,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE current_supergraph SET supergraph_id = $1 WHERE singleton",
        id
    )
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Supergraphs, newest first.
pub async fn history(pool: &PgPool, limit: i64) -> Result<Vec<SupergraphRow>, sqlx::Error> {
    let rows = sqlx::query_as!(
        StoredSupergraph,
        r#"SELECT id, sdl, sdl_sha256, members AS "members: Json<BTreeMap<String, Uuid>>", reason,
             subject, created_by, message, created_at
           FROM supergraphs ORDER BY id DESC LIMIT $1"#,
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(SupergraphRow::from).collect())
}

/// Versions of one subgraph, newest first.
pub async fn versions(
    pool: &PgPool,
    subgraph: &str,
    limit: i64,
) -> Result<Vec<VersionRow>, sqlx::Error> {
    sqlx::query_as!(
        VersionRow,
        "SELECT id, subgraph, routing_url, sdl, published_by, message, published_at \
         FROM subgraph_versions WHERE subgraph = $1 ORDER BY id DESC LIMIT $2",
        subgraph,
        limit,
    )
    .fetch_all(pool)
    .await
}

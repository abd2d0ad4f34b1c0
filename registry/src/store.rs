//! SQL of `nova_registry`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Row};
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

const SUPERGRAPH_COLUMNS: &str =
    "id, sdl, sdl_sha256, members, reason, subject, created_by, message, created_at";

/// A supergraph from its columns; a missing or mistyped column is an error,
/// never a panic.
fn supergraph_row(row: &sqlx::postgres::PgRow) -> Result<SupergraphRow, sqlx::Error> {
    let members: sqlx::types::Json<BTreeMap<String, Uuid>> = row.try_get("members")?;
    Ok(SupergraphRow {
        id: row.try_get("id")?,
        sdl: row.try_get("sdl")?,
        sdl_sha256: row.try_get("sdl_sha256")?,
        members: members.0,
        reason: row.try_get("reason")?,
        subject: row.try_get("subject")?,
        created_by: row.try_get("created_by")?,
        message: row.try_get("message")?,
        created_at: row.try_get("created_at")?,
    })
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

const VERSION_COLUMNS: &str = "id, subgraph, routing_url, sdl, published_by, message, published_at";

fn version_row(row: &sqlx::postgres::PgRow) -> Result<VersionRow, sqlx::Error> {
    Ok(VersionRow {
        id: row.try_get("id")?,
        subgraph: row.try_get("subgraph")?,
        routing_url: row.try_get("routing_url")?,
        sdl: row.try_get("sdl")?,
        published_by: row.try_get("published_by")?,
        message: row.try_get("message")?,
        published_at: row.try_get("published_at")?,
    })
}

/// The current supergraph, locked until the transaction ends: publishes and
/// rollbacks apply one at a time.
pub async fn lock_current(tx: &mut PgConnection) -> Result<Option<SupergraphRow>, sqlx::Error> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "SELECT supergraph_id FROM current_supergraph WHERE singleton FOR UPDATE",
    )
    .fetch_one(&mut *tx)
    .await?;
    match id {
        Some(id) => supergraph(&mut *tx, id).await,
        None => Ok(None),
    }
}

pub async fn current(pool: &PgPool) -> Result<Option<SupergraphRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {SUPERGRAPH_COLUMNS} FROM supergraphs \
         WHERE id = (SELECT supergraph_id FROM current_supergraph WHERE singleton)"
    ))
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(supergraph_row).transpose()
}

pub async fn supergraph(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<SupergraphRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {SUPERGRAPH_COLUMNS} FROM supergraphs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(supergraph_row).transpose()
}

pub async fn versions_by_id<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    ids: &[Uuid],
) -> Result<Vec<VersionRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM subgraph_versions WHERE id = ANY($1) ORDER BY subgraph"
    ))
    .bind(ids)
    .fetch_all(executor)
    .await?;
    rows.iter().map(version_row).collect()
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
    sqlx::query(
        "INSERT INTO subgraph_versions (id, subgraph, routing_url, sdl, published_by, message) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(subgraph)
    .bind(routing_url)
    .bind(sdl)
    .bind(published_by)
    .bind(message)
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
    sqlx::query(
        "INSERT INTO supergraphs (id, sdl, sdl_sha256, members, reason, subject, created_by, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(new.sdl)
    .bind(crate::auth::sha256_hex(new.sdl))
    .bind(sqlx::types::Json(new.members))
    .bind(new.reason)
    .bind(new.subject)
    .bind(new.created_by)
    .bind(new.message)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE current_supergraph SET supergraph_id = $1 WHERE singleton")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

/// Supergraphs, newest first.
pub async fn history(pool: &PgPool, limit: i64) -> Result<Vec<SupergraphRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {SUPERGRAPH_COLUMNS} FROM supergraphs ORDER BY id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(supergraph_row).collect()
}

/// Versions of one subgraph, newest first.
pub async fn versions(
    pool: &PgPool,
    subgraph: &str,
    limit: i64,
) -> Result<Vec<VersionRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM subgraph_versions WHERE subgraph = $1 \
         ORDER BY id DESC LIMIT $2"
    ))
    .bind(subgraph)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(version_row).collect()
}

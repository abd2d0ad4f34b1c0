//! analytics' `/internal/` routes (see `nova_core::internal`).
//!
//! - `POST /internal/users/data` `{ "userId" }` → what the user did, as
//!   analytics keeps it: their section of `exportMyData`
//!   (`nova_core::personal_data`; only media calls it). Rows about the user's
//!   posts that others' doings left name those others: they are not in it
//!   (the user sees them counted in `Post.stats` and `creatorStats`).

use chrono::{DateTime, Utc};
use nova_core::internal::{failed, Refusal};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::clickhouse::{quoted, ClickHouse};

#[derive(Deserialize)]
struct ActivityRow {
    kind: String,
    at: i64,
    post_id: String,
    author_id: String,
}

/// One thing the user did: a post viewed, liked, commented on; an account
/// followed; a message sent (that one was, never to whom or what).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Activity {
    kind: String,
    at: DateTime<Utc>,
    post_id: Option<String>,
    author_id: Option<String>,
}

async fn data_section(
    clickhouse: ClickHouse,
    user: Uuid,
) -> Result<nova_core::personal_data::Section, Refusal> {
    // Grouped by event id: a redelivered event is stored twice until a merge.
    let rows: Vec<ActivityRow> = clickhouse
        .select(&format!(
            "SELECT kind, toUnixTimestamp(occurred_at) AS at, post_id, author_id FROM {} \
             WHERE actor_id = {} GROUP BY event_id, kind, occurred_at, post_id, author_id \
             ORDER BY at, kind",
            clickhouse.table("events"),
            quoted(user)
        ))
        .await
        .map_err(|error| failed(format!("{error:#}")))?;
    let present = |id: String| (!id.is_empty()).then_some(id);
    let activity: Vec<Activity> = rows
        .into_iter()
        .map(|row| Activity {
            kind: row.kind,
            at: DateTime::from_timestamp(row.at, 0).unwrap_or_default(),
            post_id: present(row.post_id),
            author_id: present(row.author_id),
        })
        .collect();
    Ok(json!({ "activity": activity }))
}

/// The routes, protected by the router secret.
pub fn routes(clickhouse: ClickHouse, router_secret: &str) -> axum::Router {
    let routes = nova_core::personal_data::route(clickhouse, data_section);
    nova_core::internal::protected(routes, router_secret)
}

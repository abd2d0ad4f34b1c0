//! Calls between subgraphs that the router does not make: a read model asking
//! the owner of some data (the feed asks content which posts it still serves).
//! Such a call carries the router secret exactly like a router call, and the
//! owner serves it under `/internal/` only to callers presenting it. Every such
//! path is listed in ARCHITECTURE.md ("Internal calls"); the deployment's network
//! policy allows exactly those.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::caller::{router_secret_matches, ROUTER_SECRET_HEADER};

mod blocks;

pub use blocks::{
    blocked_either_way, blockers_of, silenced_pairs, BlockPair, BlockPairsLoader, BlocksBetween,
    NoticePairs, MAX_NOTICE_PAIRS,
};

/// Every internal call between subgraphs: (caller, the caller's variable that
/// holds the owner's base URL, owner). The local stacks (`xtask`, the e2e
/// harness) set the variables from this list; a deployment's network policy
/// allows exactly these paths.
pub const CALLS: [(&str, &str, &str); 24] = [
    ("identity", "SOCIAL_SERVICE_URL", "social"),
    ("content", "IDENTITY_SERVICE_URL", "identity"),
    ("content", "SOCIAL_SERVICE_URL", "social"),
    ("chat", "SOCIAL_SERVICE_URL", "social"),
    ("social", "CONTENT_SERVICE_URL", "content"),
    ("feed", "CONTENT_SERVICE_URL", "content"),
    ("feed", "SOCIAL_SERVICE_URL", "social"),
    ("search", "IDENTITY_SERVICE_URL", "identity"),
    ("search", "USERS_SERVICE_URL", "users"),
    ("search", "CONTENT_SERVICE_URL", "content"),
    ("search", "SOCIAL_SERVICE_URL", "social"),
    ("content", "MEDIA_SERVICE_URL", "media"),
    ("content", "CHAT_SERVICE_URL", "chat"),
    ("users", "MEDIA_SERVICE_URL", "media"),
    ("notifications", "SOCIAL_SERVICE_URL", "social"),
    // exportMyData: media asks each owner for its section (`personal_data`).
    ("media", "IDENTITY_SERVICE_URL", "identity"),
    ("media", "USERS_SERVICE_URL", "users"),
    ("media", "CONTENT_SERVICE_URL", "content"),
    ("media", "SOCIAL_SERVICE_URL", "social"),
    ("media", "CHAT_SERVICE_URL", "chat"),
    ("media", "NOTIFICATIONS_SERVICE_URL", "notifications"),
    ("media", "ANALYTICS_SERVICE_URL", "analytics"),
    // Post authors and served posts (stats, trending), blocks (trending).
    ("analytics", "CONTENT_SERVICE_URL", "content"),
    ("analytics", "SOCIAL_SERVICE_URL", "social"),
];

/// One page of an owner's export to a read model: the items after `after`
/// (exclusive, in the export's order), at most `limit`; with `ids`, only
/// those (a read model fetching what an event named: events carry no text).
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct ExportRequest<K> {
    pub after: Option<K>,
    pub limit: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<uuid::Uuid>>,
}

/// What an internal route answers when it fails: a status and a short text.
pub type Refusal = (StatusCode, String);

impl<K> ExportRequest<K> {
    /// The limit, or 400 when it is outside 1..=`max`.
    pub fn checked_limit(&self, max: i64) -> Result<i64, Refusal> {
        if (1..=max).contains(&self.limit) {
            Ok(self.limit)
        } else {
            Err((
                StatusCode::BAD_REQUEST,
                format!("limit must be between 1 and {max}"),
            ))
        }
    }
}

/// Log a failure of an internal route and answer 500 without its details.
pub fn failed(error: impl std::fmt::Display) -> Refusal {
    tracing::error!(%error, "internal call failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
}

/// The request and the answer of the "which of these" routes: ids.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub struct Ids {
    pub ids: Vec<uuid::Uuid>,
}

/// Ask `owner` which of `ids` it knows (`path` answers a subset of them).
async fn which_of(
    owner: &InternalClient,
    path: &str,
    ids: &[uuid::Uuid],
) -> Result<std::collections::HashSet<uuid::Uuid>, InternalCallError> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let request = Ids { ids: ids.to_vec() };
    let answer: Ids = owner.post(path, &request).await?;
    Ok(answer.ids.into_iter().collect())
}

/// Which of `ids` content serves now (`POST /internal/posts/served`): every
/// read model that lists posts (feed, search) asks before it answers, so a
/// deleted post never reaches a client.
pub async fn served_posts(
    content: &InternalClient,
    ids: &[uuid::Uuid],
) -> Result<std::collections::HashSet<uuid::Uuid>, InternalCallError> {
    which_of(content, "/internal/posts/served", ids).await
}

/// The answer of content's `POST /internal/posts/authors`: (post, author) pairs.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub struct PostAuthors {
    pub posts: Vec<(uuid::Uuid, uuid::Uuid)>,
}

/// The author of each of `ids` content serves now (a post it does not serve is
/// left out).
pub async fn post_authors(
    content: &InternalClient,
    ids: &[uuid::Uuid],
) -> Result<std::collections::HashMap<uuid::Uuid, uuid::Uuid>, InternalCallError> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let request = Ids { ids: ids.to_vec() };
    let answer: PostAuthors = content.post("/internal/posts/authors", &request).await?;
    Ok(answer.posts.into_iter().collect())
}

/// Which of `ids` are accounts (`POST /internal/accounts/existing` of identity).
pub async fn existing_accounts(
    identity: &InternalClient,
    ids: &[uuid::Uuid],
) -> Result<std::collections::HashSet<uuid::Uuid>, InternalCallError> {
    which_of(identity, "/internal/accounts/existing", ids).await
}

/// `{ "usernames": [...] }`: the request of identity's
/// `POST /internal/accounts/named`.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub struct Usernames {
    pub usernames: Vec<String>,
}

/// The accounts of these usernames (any case), as (username, id): what content
/// asks to check a post's mentions against blocks (`/internal/accounts/named`
/// of identity). Unknown names are left out.
pub async fn accounts_named(
    identity: &InternalClient,
    usernames: &[String],
) -> Result<Vec<(String, uuid::Uuid)>, InternalCallError> {
    if usernames.is_empty() {
        return Ok(Vec::new());
    }
    let request = Usernames {
        usernames: usernames.to_vec(),
    };
    let answer: Vec<(String, uuid::Uuid)> =
        identity.post("/internal/accounts/named", &request).await?;
    Ok(answer)
}

/// Whether a read model's backfill from `source` has completed (the
/// `backfills` table of its database).
pub async fn backfilled(pool: &sqlx::PgPool, source: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM backfills WHERE source = $1) AS "completed!""#,
        source
    )
    .fetch_one(pool)
    .await
}

/// Record that the backfill from `source` has completed.
pub async fn mark_backfilled(pool: &sqlx::PgPool, source: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO backfills (source) VALUES ($1) ON CONFLICT DO NOTHING",
        source
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// `routes` (paths under `/internal/`) answer 403 to a caller without the secret.
pub fn protected(routes: axum::Router, secret: &str) -> axum::Router {
    let secret: Arc<str> = Arc::from(secret);
    routes.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let secret = secret.clone();
            async move {
                let presented = request
                    .headers()
                    .get(ROUTER_SECRET_HEADER)
                    .map(|v| v.as_bytes());
                if router_secret_matches(presented, &secret) {
                    next.run(request).await
                } else {
                    (
                        StatusCode::FORBIDDEN,
                        "internal calls need the router secret",
                    )
                        .into_response()
                }
            }
        },
    ))
}

/// Why an internal call failed.
#[derive(Debug, thiserror::Error)]
pub enum InternalCallError {
    /// No answer, or one that was not the JSON expected.
    #[error("{path}: {source}")]
    Transport {
        path: String,
        #[source]
        source: reqwest::Error,
    },
    /// The owner answered with a status other than 2xx.
    #[error("{path} answered {status}")]
    Status {
        path: String,
        status: reqwest::StatusCode,
    },
}

/// A client for another subgraph's `/internal/` routes.
#[derive(Clone)]
pub struct InternalClient {
    http: reqwest::Client,
    base_url: Arc<str>,
    secret: Arc<str>,
}

impl InternalClient {
    /// `base_url` is the other subgraph's base (`http://host:port`).
    pub fn new(base_url: &str, secret: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            http,
            base_url: Arc::from(base_url.trim_end_matches('/')),
            secret: Arc::from(secret),
        })
    }

    /// POST `body` as JSON to `path` and read the JSON answer; a status other
    /// than 2xx is an error naming the path.
    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, InternalCallError> {
        let transport = |source| InternalCallError::Transport {
            path: path.to_string(),
            source,
        };
        // The owner's span joins the caller's trace.
        let mut trace_context = reqwest::header::HeaderMap::new();
        crate::telemetry::inject_trace_context(&mut trace_context);
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header(ROUTER_SECRET_HEADER, &*self.secret)
            .headers(trace_context)
            .json(body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(InternalCallError::Status {
                path: path.to_string(),
                status,
            });
        }
        response.json().await.map_err(transport)
    }
}

//! The registry's HTTP API (JSON; bearer tokens, see `auth`).
//!
//! | route | token | what |
//! | --- | --- | --- |
//! | `GET /v1/supergraph` | read | the current supergraph SDL, `ETag` = its SHA-256 (`If-None-Match` → 304) |
//! | `GET /v1/supergraphs` | read | history, newest first |
//! | `POST /v1/supergraphs/rollback` | operator | `{to, force?, message?}`: make an earlier supergraph current again, after the checks |
//! | `GET /v1/subgraphs` | read | the subgraphs of the current supergraph: name and URL |
//! | `GET /v1/subgraphs/{name}/versions` | read | published versions of one subgraph |
//! | `POST /v1/subgraphs/{name}/check` | read | `{url, sdl, new?, usageDays?}`: the report a publish would get, nothing stored |
//! | `POST /v1/subgraphs/{name}/publish` | operator | `{url, sdl, message?, force?, new?, usageDays?}` (`new` exactly when the name is not there yet): compose, check, record, make current |
//! | `POST /v1/usage` | report | a Hive Router usage report (v2): the operations a router executed |
//! | `GET /v1/usage?days=N` | read | requests per schema coordinate over the last N days, and the fields none used |
//! | `POST /v1/rollouts` | operator | `{subgraph, url, sdl, new?, message?, steps?, maxErrorRate?, minRequests?}`: publish with the new overrides labelled, start at the first step |
//! | `GET /v1/rollouts/current` | read | the active rollout (or the last one) with its gate |
//! | `GET /v1/rollouts/labels` | read | the active rollout's label, subgraph and percent (for the sync agent) |
//! | `POST /v1/rollouts/step`, `/promote`, `/abort` | operator | next step (gate passing); publish without the label at 100 %; turn the label off (`{reason?}`) |
//!
//! A rejected publish answers 422 (composition failed) or 409 (checks failed) with
//! the report; nothing is stored.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use nova_schema::ShippedOperation;
use serde_json::json;
use sqlx::PgPool;

use crate::auth::{authenticate, Principal, Role, TokenEntry};
use crate::store;

pub const MAX_SDL_BYTES: usize = 1024 * 1024;

pub use crate::metrics::RegistryMetrics;

mod publish;
mod rollback;
mod rollout;
mod rollout_gate;
mod usage;

pub use rollout_gate::watch as watch_rollouts;

use publish::{check, publish};
use rollback::rollback;

pub struct Registry {
    pub pool: PgPool,
    pub tokens: Vec<TokenEntry>,
    /// The persisted-query manifest the checks validate against (re-read each time).
    pub manifest_path: std::path::PathBuf,
    pub metrics: RegistryMetrics,
    /// Checks fail on operations seen in traffic in the last this many days.
    pub usage_days: u32,
    /// Where the rollout gate reads the routers' metrics.
    pub rollout_gate: crate::rollout::GateConfig,
    /// For reading the routers' metrics.
    pub http: reqwest::Client,
}

type Shared = State<Arc<Registry>>;

pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/health/live", get(|| async { "ok" }))
        .route("/health/ready", get(ready))
        .route(
            "/metrics",
            get(|State(registry): Shared| async move { registry.metrics.render() }),
        )
        .route("/v1/supergraph", get(current_supergraph))
        .route("/v1/supergraphs", get(history))
        .route("/v1/supergraphs/rollback", post(rollback))
        .route("/v1/subgraphs", get(subgraphs))
        .route("/v1/subgraphs/{name}/versions", get(versions))
        .route("/v1/subgraphs/{name}/check", post(check))
        .route("/v1/subgraphs/{name}/publish", post(publish))
        .route("/v1/usage", post(usage::report).get(usage::fields))
        .route("/v1/rollouts", post(rollout::start))
        .route("/v1/rollouts/current", get(rollout::status))
        .route("/v1/rollouts/labels", get(rollout::labels))
        .route("/v1/rollouts/step", post(rollout::step))
        .route("/v1/rollouts/promote", post(rollout::promote))
        .route("/v1/rollouts/abort", post(rollout::abort))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(registry)
}

/// A request body: a schema of `MAX_SDL_BYTES` fits even with every character
/// escaped in JSON.
const MAX_BODY_BYTES: usize = 4 * MAX_SDL_BYTES;

/// A body that is not the JSON expected, as a refusal in JSON like every other
/// (axum answers plain text), naming the limit when it is too large.
fn unreadable_body(rejection: axum::extract::rejection::JsonRejection) -> Refusal {
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "the request is larger than the registry accepts ({MAX_BODY_BYTES} bytes; a schema \
             may be at most {MAX_SDL_BYTES} bytes)"
        )
    } else {
        rejection.body_text()
    };
    refusal(status, message)
}

/// An error answer: status and a JSON body with `error` (and maybe a report).
struct Refusal(StatusCode, serde_json::Value);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn refusal(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal(status, json!({ "error": message.into() }))
}

fn internal(error: impl std::fmt::Display) -> Refusal {
    tracing::error!(%error, "registry request failed");
    refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

impl Registry {
    fn principal(&self, headers: &HeaderMap, needs: Role) -> Result<Principal, Refusal> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| refusal(StatusCode::UNAUTHORIZED, "a bearer token is required"))?;
        let principal = authenticate(&self.tokens, token)
            .ok_or_else(|| refusal(StatusCode::UNAUTHORIZED, "unknown token"))?;
        if !principal.role.allows(needs) {
            let needed = match needs {
                Role::Operator => "an operator token",
                Role::Read => "a read or operator token",
                Role::Report => "a report token",
            };
            return Err(refusal(
                StatusCode::FORBIDDEN,
                format!("this needs {needed}"),
            ));
        }
        Ok(principal)
    }

    fn operations(&self) -> Result<Vec<ShippedOperation>, Refusal> {
        let text = std::fs::read_to_string(&self.manifest_path).map_err(|e| {
            internal(format!(
                "reading the manifest {}: {e}",
                self.manifest_path.display()
            ))
        })?;
        ShippedOperation::from_manifest(&text).map_err(internal)
    }
}

async fn ready(State(registry): Shared) -> Response {
    match sqlx::query_scalar!("SELECT 1 AS alive")
        .fetch_one(&registry.pool)
        .await
    {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("postgres: {e}")).into_response(),
    }
}

async fn current_supergraph(
    State(registry): Shared,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    registry.principal(&headers, Role::Read)?;
    let Some(current) = store::current(&registry.pool).await.map_err(internal)? else {
        return Err(refusal(
            StatusCode::NOT_FOUND,
            "nothing has been published yet",
        ));
    };
    let etag = format!("\"{}\"", current.sdl_sha256);
    let id = current.id.to_string();
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        registry
            .metrics
            .supergraph_reads
            .with_label_values(&["304"])
            .inc();
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag),
                (header::HeaderName::from_static("x-nova-supergraph-id"), id),
            ],
        )
            .into_response());
    }
    registry
        .metrics
        .supergraph_reads
        .with_label_values(&["200"])
        .inc();
    Ok((
        StatusCode::OK,
        [
            (header::ETAG, etag),
            (header::HeaderName::from_static("x-nova-supergraph-id"), id),
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
        ],
        current.sdl,
    )
        .into_response())
}

async fn history(State(registry): Shared, headers: HeaderMap) -> Result<Response, Refusal> {
    registry.principal(&headers, Role::Read)?;
    let current = store::current(&registry.pool).await.map_err(internal)?;
    let rows = store::history(&registry.pool, 100)
        .await
        .map_err(internal)?;
    Ok(Json(json!({
        "current": current.map(|c| c.id),
        "supergraphs": rows,
    }))
    .into_response())
}

async fn subgraphs(State(registry): Shared, headers: HeaderMap) -> Result<Response, Refusal> {
    registry.principal(&headers, Role::Read)?;
    let current = store::current(&registry.pool).await.map_err(internal)?;
    let members = publish::current_members(&registry.pool, current.as_ref()).await?;
    let listed: Vec<_> = members
        .iter()
        .map(|m| json!({ "name": m.name, "url": m.url }))
        .collect();
    Ok(Json(json!({ "subgraphs": listed })).into_response())
}

async fn versions(
    State(registry): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    registry.principal(&headers, Role::Read)?;
    let rows = store::versions(&registry.pool, &name, 100)
        .await
        .map_err(internal)?;
    Ok(Json(json!({ "subgraph": name, "versions": rows })).into_response())
}

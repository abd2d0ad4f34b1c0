//! The registry's HTTP API (JSON; bearer tokens, see `auth`).
//!
//! | route | token | what |
//! | --- | --- | --- |
//! | `GET /v1/supergraph` | read | the current supergraph SDL, `ETag` = its SHA-256 (`If-None-Match` → 304) |
//! | `GET /v1/supergraphs` | read | history, newest first |
//! | `POST /v1/supergraphs/rollback` | operator | `{to, force?, message?}`: make an earlier supergraph current again, after the checks |
//! | `GET /v1/subgraphs/{name}/versions` | read | published versions of one subgraph |
//! | `POST /v1/subgraphs/{name}/check` | read | `{url, sdl}`: the report a publish would get, nothing stored |
//! | `POST /v1/subgraphs/{name}/publish` | operator | `{url, sdl, message?, force?}`: compose, check, record, make current |
//!
//! A rejected publish answers 422 (composition failed) or 409 (checks failed) with
//! the report; nothing is stored.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use nova_schema::{ShippedOperation, SubgraphSource};
use serde::Deserialize;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{authenticate, Principal, Role, TokenEntry};
use crate::checks::{check_subgraphs, check_supergraph, Report};
use crate::store::{self, NewSupergraph};

pub const MAX_SDL_BYTES: usize = 1024 * 1024;

pub struct Registry {
    pub pool: PgPool,
    pub tokens: Vec<TokenEntry>,
    /// The persisted-query manifest the checks validate against (re-read each time).
    pub manifest_path: std::path::PathBuf,
    pub metrics: RegistryMetrics,
}

/// `GET /metrics` (Prometheus text).
pub struct RegistryMetrics {
    registry: prometheus::Registry,
    /// Publishes and rollbacks by outcome: published, unchanged, forced,
    /// rejected_composition, rejected_operations.
    changes: prometheus::IntCounterVec,
    /// `GET /v1/supergraph` answers by status (200, 304, ...).
    supergraph_reads: prometheus::IntCounterVec,
}

impl Default for RegistryMetrics {
    fn default() -> Self {
        let registry = prometheus::Registry::new_custom(Some("nova_registry".into()), None)
            .expect("a static prefix is valid");
        let changes = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "changes_total",
                "Publishes and rollbacks by kind and outcome",
            ),
            &["kind", "outcome"],
        )
        .expect("a valid metric");
        let supergraph_reads = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "supergraph_reads_total",
                "GET /v1/supergraph answers by status",
            ),
            &["status"],
        )
        .expect("a valid metric");
        registry
            .register(Box::new(changes.clone()))
            .expect("registered once");
        registry
            .register(Box::new(supergraph_reads.clone()))
            .expect("registered once");
        Self {
            registry,
            changes,
            supergraph_reads,
        }
    }
}

impl RegistryMetrics {
    fn change(&self, kind: &str, outcome: &str) {
        self.changes.with_label_values(&[kind, outcome]).inc();
    }

    fn render(&self) -> String {
        use prometheus::Encoder;
        let mut buffer = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding succeeds");
        String::from_utf8(buffer).expect("Prometheus text is UTF-8")
    }
}

/// What a rejected report counts as.
fn rejected_outcome(report: &Report) -> &'static str {
    if report.composed() {
        "rejected_operations"
    } else {
        "rejected_composition"
    }
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
        .route("/v1/subgraphs/{name}/versions", get(versions))
        .route("/v1/subgraphs/{name}/check", post(check))
        .route("/v1/subgraphs/{name}/publish", post(publish))
        .with_state(registry)
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
        if needs == Role::Operator && principal.role != Role::Operator {
            return Err(refusal(
                StatusCode::FORBIDDEN,
                "this needs an operator token",
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
    match sqlx::query("SELECT 1").execute(&registry.pool).await {
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

#[derive(Deserialize)]
struct SubgraphInput {
    url: String,
    sdl: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    force: bool,
}

fn validate_input(name: &str, input: &SubgraphInput) -> Result<(), Refusal> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !name_ok {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "a subgraph name is 1-64 of a-z, 0-9, _ and -, starting with a letter",
        ));
    }
    if !(input.url.starts_with("http://") || input.url.starts_with("https://")) {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "url must be an http(s) URL",
        ));
    }
    if input.sdl.trim().is_empty() || input.sdl.len() > MAX_SDL_BYTES {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            format!("sdl must be 1 byte to {MAX_SDL_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// The subgraph versions the current supergraph was composed from.
async fn current_members<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    current: Option<&store::SupergraphRow>,
) -> Result<Vec<SubgraphSource>, Refusal> {
    let ids: Vec<Uuid> = current
        .map(|c| c.members.values().copied().collect())
        .unwrap_or_default();
    Ok(store::versions_by_id(executor, &ids)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|v| SubgraphSource {
            name: v.subgraph,
            url: v.routing_url,
            sdl: v.sdl,
        })
        .collect())
}

/// `members` with `name` replaced by (or joined by) the candidate.
fn candidate_set(
    members: Vec<SubgraphSource>,
    name: &str,
    input: &SubgraphInput,
) -> Vec<SubgraphSource> {
    let mut set: Vec<SubgraphSource> = members.into_iter().filter(|m| m.name != name).collect();
    set.push(SubgraphSource {
        name: name.to_string(),
        url: input.url.clone(),
        sdl: input.sdl.clone(),
    });
    set.sort_by(|a, b| a.name.cmp(&b.name));
    set
}

fn rejection(report: &Report) -> Refusal {
    let (status, error) = if !report.composed() {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "composition failed".to_string(),
        )
    } else {
        let names: Vec<&str> = report
            .broken_operations
            .iter()
            .map(|b| b.name.as_str())
            .collect();
        (
            StatusCode::CONFLICT,
            format!(
                "breaks shipped operation(s): {} (publish with force to override)",
                names.join(", ")
            ),
        )
    };
    Refusal(status, json!({ "error": error, "report": report }))
}

async fn check(
    State(registry): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(input): Json<SubgraphInput>,
) -> Result<Response, Refusal> {
    registry.principal(&headers, Role::Read)?;
    validate_input(&name, &input)?;
    let operations = registry.operations()?;
    let current = store::current(&registry.pool).await.map_err(internal)?;
    let members = current_members(&registry.pool, current.as_ref()).await?;
    let set = candidate_set(members, &name, &input);
    let report = check_subgraphs(current.as_ref().map(|c| c.sdl.as_str()), &set, &operations);
    Ok(Json(json!({ "report": report })).into_response())
}

async fn publish(
    State(registry): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(input): Json<SubgraphInput>,
) -> Result<Response, Refusal> {
    let principal = registry.principal(&headers, Role::Operator)?;
    validate_input(&name, &input)?;
    let operations = registry.operations()?;
    let mut tx = registry.pool.begin().await.map_err(internal)?;
    let current = store::lock_current(&mut tx).await.map_err(internal)?;
    let members = current_members(&mut *tx, current.as_ref()).await?;
    // Publishing what is already current changes nothing.
    let same = members
        .iter()
        .any(|m| m.name == name && m.sdl == input.sdl && m.url == input.url);
    if let (true, Some(current)) = (same, &current) {
        registry.metrics.change("publish", "unchanged");
        return Ok(Json(json!({
            "status": "unchanged",
            "supergraphId": current.id,
        }))
        .into_response());
    }
    let set = candidate_set(members, &name, &input);
    let report = check_subgraphs(current.as_ref().map(|c| c.sdl.as_str()), &set, &operations);
    if !report.accepted(input.force) {
        registry
            .metrics
            .change("publish", rejected_outcome(&report));
        return Err(rejection(&report));
    }
    let sdl = report
        .supergraph_sdl
        .clone()
        .ok_or_else(|| internal("a composed report without its supergraph"))?;
    let version_id = store::insert_version(
        &mut tx,
        &name,
        &input.url,
        &input.sdl,
        &principal.name,
        &input.message,
    )
    .await
    .map_err(internal)?;
    let mut members: BTreeMap<String, Uuid> = current.map(|c| c.members).unwrap_or_default();
    members.insert(name.clone(), version_id);
    let supergraph_id = store::insert_current(
        &mut tx,
        NewSupergraph {
            sdl: &sdl,
            members: &members,
            reason: "publish",
            subject: Some(version_id),
            created_by: &principal.name,
            message: &input.message,
        },
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    let forced = input.force && !report.passes;
    registry
        .metrics
        .change("publish", if forced { "forced" } else { "published" });
    tracing::info!(subgraph = %name, %version_id, %supergraph_id, by = %principal.name, forced, "published");
    Ok(Json(json!({
        "status": "published",
        "versionId": version_id,
        "supergraphId": supergraph_id,
        "forced": input.force && !report.passes,
        "report": report,
    }))
    .into_response())
}

#[derive(Deserialize)]
struct RollbackInput {
    to: Uuid,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    message: String,
}

async fn rollback(
    State(registry): Shared,
    headers: HeaderMap,
    Json(input): Json<RollbackInput>,
) -> Result<Response, Refusal> {
    let principal = registry.principal(&headers, Role::Operator)?;
    let operations = registry.operations()?;
    let mut tx = registry.pool.begin().await.map_err(internal)?;
    let current = store::lock_current(&mut tx).await.map_err(internal)?;
    let target = store::supergraph(&mut tx, input.to)
        .await
        .map_err(internal)?
        .ok_or_else(|| refusal(StatusCode::NOT_FOUND, format!("no supergraph {}", input.to)))?;
    if current.as_ref().is_some_and(|c| c.id == target.id) {
        return Ok(
            Json(json!({ "status": "unchanged", "supergraphId": target.id })).into_response(),
        );
    }
    let report = check_supergraph(
        current.as_ref().map(|c| c.sdl.as_str()),
        target.sdl.clone(),
        &operations,
    );
    if !report.accepted(input.force) {
        registry
            .metrics
            .change("rollback", rejected_outcome(&report));
        return Err(rejection(&report));
    }
    let supergraph_id = store::insert_current(
        &mut tx,
        NewSupergraph {
            sdl: &target.sdl,
            members: &target.members,
            reason: "rollback",
            subject: Some(target.id),
            created_by: &principal.name,
            message: &input.message,
        },
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    let forced = input.force && !report.passes;
    registry
        .metrics
        .change("rollback", if forced { "forced" } else { "rolled_back" });
    tracing::info!(to = %target.id, %supergraph_id, by = %principal.name, "rolled back");
    Ok(Json(json!({
        "status": "rolled back",
        "supergraphId": supergraph_id,
        "restored": target.id,
        "report": report,
    }))
    .into_response())
}

//! Changing what is current: `check` (a dry run) and `publish`. Each composes
//! the candidate with the current versions of the other subgraphs and runs the
//! checks; a rejection stores nothing. (`rollback.rs`: back to an earlier
//! supergraph; `rollout.rs`: a publish in steps.)

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use nova_schema::{ShippedOperation, SubgraphSource};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{internal, refusal, unreadable_body, Refusal, Registry, Shared, MAX_SDL_BYTES};
use crate::auth::Role;
use crate::checks::{check_subgraphs, Report};
use crate::metrics::rejected_outcome;
use crate::store::{self, NewSupergraph};
use crate::usage::SeenOperation;

#[derive(Deserialize)]
pub(super) struct SubgraphInput {
    pub(super) url: String,
    pub(super) sdl: String,
    #[serde(default)]
    pub(super) message: String,
    #[serde(default)]
    pub(super) force: bool,
    /// Adding a subgraph is said explicitly, so a mistyped name is an error
    /// rather than a new subgraph.
    #[serde(default)]
    pub(super) new: bool,
    /// Check against operations seen in the last this many days (default: the
    /// registry's `NOVA_REGISTRY_USAGE_DAYS`; 0: today only).
    #[serde(default, rename = "usageDays")]
    pub(super) usage_days: Option<u32>,
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
    if input.sdl.trim().is_empty() {
        return Err(refusal(StatusCode::BAD_REQUEST, "the schema is empty"));
    }
    if input.sdl.len() > MAX_SDL_BYTES {
        return Err(refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the schema is {} bytes; the registry accepts at most {MAX_SDL_BYTES}",
                input.sdl.len()
            ),
        ));
    }
    Ok(())
}

/// A publish or check of `name` must say `new` exactly when the registry does
/// not have it yet.
fn known_or_new(name: &str, new: bool, members: &[SubgraphSource]) -> Result<(), Refusal> {
    let known = members.iter().any(|m| m.name == name);
    match (known, new) {
        (true, false) | (false, true) => Ok(()),
        (false, false) => {
            let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
            Err(refusal(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown subgraph {name}; the registry has: {}. To add a subgraph, publish it as new (nova subgraph publish --new)",
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                ),
            ))
        }
        (true, true) => Err(refusal(
            StatusCode::CONFLICT,
            format!("subgraph {name} exists already; publish it without --new"),
        )),
    }
}

/// The subgraph versions the current supergraph was composed from.
pub(super) async fn current_members<'e>(
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

pub(super) fn rejection(report: &Report) -> Refusal {
    let (status, error) = if !report.composed() {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "composition failed".to_string(),
        )
    } else {
        let shipped: Vec<&str> = report
            .broken_operations
            .iter()
            .map(|b| b.name.as_str())
            .collect();
        let seen: Vec<&str> = report
            .broken_in_traffic
            .iter()
            .map(|b| b.name.as_str())
            .collect();
        let mut broken = Vec::new();
        if !shipped.is_empty() {
            broken.push(format!("shipped operation(s): {}", shipped.join(", ")));
        }
        if !seen.is_empty() {
            broken.push(format!("operation(s) seen in traffic: {}", seen.join(", ")));
        }
        (
            StatusCode::CONFLICT,
            format!(
                "breaks {} (publish with force to override)",
                broken.join("; ")
            ),
        )
    };
    Refusal(status, json!({ "error": error, "report": report }))
}

/// Compose and check on a blocking thread: composition is CPU-bound and can
/// take a while, and on the async runtime it would stall the registry's other
/// requests (routers' supergraph reads among them). Publishes stay one at a
/// time: the caller holds the current supergraph's row lock meanwhile.
async fn compose_and_check(
    current_sdl: Option<String>,
    set: Vec<SubgraphSource>,
    operations: Vec<ShippedOperation>,
    traffic: Vec<SeenOperation>,
) -> Result<Report, Refusal> {
    tokio::task::spawn_blocking(move || {
        check_subgraphs(current_sdl.as_deref(), &set, &operations, &traffic)
    })
    .await
    .map_err(internal)
}

pub(super) async fn check(
    State(registry): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Json<SubgraphInput>, JsonRejection>,
) -> Result<Response, Refusal> {
    registry.principal(&headers, Role::Read)?;
    let Json(input) = body.map_err(unreadable_body)?;
    validate_input(&name, &input)?;
    let operations = registry.operations()?;
    let current = store::current(&registry.pool).await.map_err(internal)?;
    let members = current_members(&registry.pool, current.as_ref()).await?;
    known_or_new(&name, input.new, &members)?;
    let set = candidate_set(members, &name, &input);
    let traffic = registry.traffic(input.usage_days).await?;
    let report = compose_and_check(current.map(|c| c.sdl), set, operations, traffic).await?;
    Ok(Json(json!({ "report": report })).into_response())
}

pub(super) async fn publish(
    State(registry): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Json<SubgraphInput>, JsonRejection>,
) -> Result<Response, Refusal> {
    let principal = registry.principal(&headers, Role::Operator)?;
    let Json(input) = body.map_err(unreadable_body)?;
    let mut tx = registry.pool.begin().await.map_err(internal)?;
    // A rollout's subgraph changes through the rollout (promote or abort), so a
    // publish does not silently drop its label mid-way.
    store::lock_current(&mut tx).await.map_err(internal)?;
    let rollout = crate::rollout::active_unlocked(&mut tx)
        .await
        .map_err(internal)?;
    if let Some(rollout) = rollout.filter(|r| r.subgraph == name) {
        return Err(refusal(
            StatusCode::CONFLICT,
            format!(
                "rollout {} is moving fields to {name}; promote or abort it first (nova rollout)",
                rollout.id
            ),
        ));
    }
    let published = publish_in(&registry, &mut tx, &principal.name, &name, &input).await?;
    tx.commit().await.map_err(internal)?;
    Ok(Json(published.answer(&registry, "publish", &name, &principal.name)).into_response())
}

/// What `publish_in` did.
pub(super) enum Published {
    /// The candidate is what is current already.
    Unchanged { supergraph_id: Uuid },
    Done {
        version_id: Uuid,
        supergraph_id: Uuid,
        forced: bool,
        report: Box<Report>,
    },
}

impl Published {
    /// The answer, once committed: counts the change under `reason` and logs it.
    pub(super) fn answer(
        &self,
        registry: &Registry,
        reason: &str,
        name: &str,
        by: &str,
    ) -> serde_json::Value {
        match self {
            Published::Unchanged { supergraph_id } => {
                registry.metrics.change(reason, "unchanged");
                json!({ "status": "unchanged", "supergraphId": supergraph_id })
            }
            Published::Done {
                version_id,
                supergraph_id,
                forced,
                report,
            } => {
                registry
                    .metrics
                    .change(reason, if *forced { "forced" } else { "published" });
                tracing::info!(subgraph = %name, %version_id, %supergraph_id, %by, forced, reason, "published");
                json!({
                    "status": "published",
                    "versionId": version_id,
                    "supergraphId": supergraph_id,
                    "forced": forced,
                    "report": report,
                })
            }
        }
    }
}

/// Check `input` as the next version of `name` and, when accepted, record it
/// and the supergraph composed with it as current, in `tx` (the caller
/// commits: a rollout records itself in the same transaction). The current
/// supergraph's row stays locked until then, so publishes are one at a time.
pub(super) async fn publish_in(
    registry: &Registry,
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    by: &str,
    name: &str,
    input: &SubgraphInput,
) -> Result<Published, Refusal> {
    validate_input(name, input)?;
    let operations = registry.operations()?;
    let current = store::lock_current(tx).await.map_err(internal)?;
    let members = current_members(&mut **tx, current.as_ref()).await?;
    known_or_new(name, input.new, &members)?;
    // Publishing what is already current changes nothing.
    let same = members
        .iter()
        .any(|m| m.name == name && m.sdl == input.sdl && m.url == input.url);
    if let (true, Some(current)) = (same, &current) {
        return Ok(Published::Unchanged {
            supergraph_id: current.id,
        });
    }
    let set = candidate_set(members, name, input);
    let current_sdl = current.as_ref().map(|c| c.sdl.clone());
    let traffic = registry.traffic(input.usage_days).await?;
    let report = compose_and_check(current_sdl, set, operations, traffic).await?;
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
    let version_id = store::insert_version(tx, name, &input.url, &input.sdl, by, &input.message)
        .await
        .map_err(internal)?;
    let mut members: BTreeMap<String, Uuid> = current.map(|c| c.members).unwrap_or_default();
    members.insert(name.to_string(), version_id);
    let forced = input.force && !report.passes;
    let new = NewSupergraph {
        sdl: &sdl,
        members: &members,
        reason: "publish",
        subject: Some(version_id),
        created_by: by,
        message: &input.message,
    };
    let supergraph_id = store::insert_current(tx, new).await.map_err(internal)?;
    Ok(Published::Done {
        version_id,
        supergraph_id,
        forced,
        report: Box::new(report),
    })
}

//! Changing what is current: `check` (a dry run), `publish` and `rollback`. Each
//! composes the candidate with the current versions of the other subgraphs and
//! runs the checks; a rejection stores nothing.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use nova_schema::SubgraphSource;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{internal, refusal, Refusal, Registry, Shared, MAX_SDL_BYTES};
use crate::auth::Role;
use crate::checks::{check_subgraphs, check_supergraph, Report};
use crate::metrics::rejected_outcome;
use crate::store::{self, NewSupergraph};

#[derive(Deserialize)]
pub(super) struct SubgraphInput {
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

pub(super) async fn check(
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

pub(super) async fn publish(
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
    let forced = input.force && !report.passes;
    let new = NewSupergraph {
        sdl: &sdl,
        members: &members,
        reason: "publish",
        subject: Some(version_id),
        created_by: &principal.name,
        message: &input.message,
    };
    let supergraph_id = make_current(&registry, tx, new, forced, "published").await?;
    tracing::info!(subgraph = %name, %version_id, %supergraph_id, by = %principal.name, forced, "published");
    Ok(Json(json!({
        "status": "published",
        "versionId": version_id,
        "supergraphId": supergraph_id,
        "forced": forced,
        "report": report,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub(super) struct RollbackInput {
    to: Uuid,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    message: String,
}

pub(super) async fn rollback(
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
    let forced = input.force && !report.passes;
    let new = NewSupergraph {
        sdl: &target.sdl,
        members: &target.members,
        reason: "rollback",
        subject: Some(target.id),
        created_by: &principal.name,
        message: &input.message,
    };
    let supergraph_id = make_current(&registry, tx, new, forced, "rolled_back").await?;
    tracing::info!(to = %target.id, %supergraph_id, by = %principal.name, "rolled back");
    Ok(Json(json!({
        "status": "rolled back",
        "supergraphId": supergraph_id,
        "restored": target.id,
        "report": report,
    }))
    .into_response())
}

/// Record `new` as the current supergraph and commit; counts the change as
/// `forced` or `done` under its reason (publish, rollback).
async fn make_current(
    registry: &Registry,
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    new: NewSupergraph<'_>,
    forced: bool,
    done: &str,
) -> Result<Uuid, Refusal> {
    let reason = new.reason;
    let supergraph_id = store::insert_current(&mut tx, new)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    registry
        .metrics
        .change(reason, if forced { "forced" } else { done });
    Ok(supergraph_id)
}

//! `rollback`: make an earlier supergraph current again, after the same checks
//! as a publish (a rejection stores nothing).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::publish::rejection;
use super::{internal, refusal, Refusal, Registry, Shared};
use crate::auth::Role;
use crate::checks::check_supergraph;
use crate::metrics::rejected_outcome;
use crate::store::{self, NewSupergraph};

#[derive(Deserialize)]
pub(super) struct RollbackInput {
    to: Uuid,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    message: String,
    #[serde(default, rename = "usageDays")]
    usage_days: Option<u32>,
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
    let current_sdl = current.as_ref().map(|c| c.sdl.clone());
    let target_sdl = target.sdl.clone();
    let traffic = registry.traffic(input.usage_days).await?;
    let report = tokio::task::spawn_blocking(move || {
        check_supergraph(current_sdl.as_deref(), target_sdl, &operations, &traffic)
    })
    .await
    .map_err(internal)?;
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

//! Progressive rollouts (`nova rollout start|status|step|promote|abort`).
//!
//! `start` publishes the new subgraph version with a label on each new
//! `@override` (`nova_schema::rollout`) and records the rollout at its first
//! step; routers then send the label's share of requests to the new subgraph
//! (`GET /v1/rollouts/labels`, copied beside them by `nova supergraph sync`).
//! Steps change only that share, never the supergraph, so open subscriptions
//! live on. `step` and `promote` need the gate to pass at the current step;
//! the gate watcher aborts by itself when it fails. `promote` publishes the
//! operator's schema without the label (every request moves); `abort` turns
//! the label off (the supergraph keeps the labelled override, which no request
//! takes until the next publish of that subgraph).

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::publish::{publish_in, SubgraphInput};
use super::rollout_gate::{observed, require_gate};
use super::{internal, refusal, unreadable_body, Refusal, Shared};
use crate::auth::Role;
use crate::rollout::{self, Gate, NewRollout, Rollout};
use crate::store;

const DEFAULT_STEPS: [i32; 3] = [5, 50, 100];
const DEFAULT_MAX_ERROR_RATE: f64 = 0.01;
const DEFAULT_MIN_REQUESTS: i64 = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartInput {
    subgraph: String,
    #[serde(flatten)]
    version: SubgraphInput,
    steps: Option<Vec<i32>>,
    max_error_rate: Option<f64>,
    min_requests: Option<i64>,
}

fn validate_steps(steps: &[i32]) -> Result<(), Refusal> {
    let ascending = steps.windows(2).all(|w| w[0] < w[1]);
    let in_range = steps.iter().all(|s| (1..=100).contains(s));
    if steps.is_empty() || !ascending || !in_range || steps.last() != Some(&100) {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "steps are ascending percentages between 1 and 100 that end at 100 (as 5,50,100)",
        ));
    }
    Ok(())
}

pub(super) async fn start(
    State(registry): Shared,
    headers: HeaderMap,
    body: Result<Json<StartInput>, JsonRejection>,
) -> Result<Response, Refusal> {
    let principal = registry.principal(&headers, Role::Operator)?;
    let Json(input) = body.map_err(unreadable_body)?;
    let steps = input.steps.clone().unwrap_or(DEFAULT_STEPS.to_vec());
    validate_steps(&steps)?;
    let max_error_rate = input.max_error_rate.unwrap_or(DEFAULT_MAX_ERROR_RATE);
    if !(0.0..1.0).contains(&max_error_rate) {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "maxErrorRate is a share of requests, at least 0 and below 1",
        ));
    }
    let min_requests = input.min_requests.unwrap_or(DEFAULT_MIN_REQUESTS);
    if min_requests < 1 {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "minRequests is at least 1",
        ));
    }
    if registry.rollout_gate.metrics_urls.is_empty() {
        return Err(refusal(
            StatusCode::CONFLICT,
            "the registry reads no router metrics (NOVA_REGISTRY_ROUTER_METRICS), so a rollout would have no gate",
        ));
    }
    let mut tx = registry.pool.begin().await.map_err(internal)?;
    // The current supergraph's lock (taken again by the publish) keeps two
    // starts from both finding no active rollout.
    store::lock_current(&mut tx).await.map_err(internal)?;
    if let Some(active) = rollout::active_unlocked(&mut tx).await.map_err(internal)? {
        return Err(refusal(
            StatusCode::CONFLICT,
            format!(
                "rollout {} of {} is still active; promote or abort it first",
                active.id, active.subgraph
            ),
        ));
    }
    let published_sdl = store::current_version_sdl(&mut tx, &input.subgraph)
        .await
        .map_err(internal)?;
    let id = rollout::next_id(&mut tx).await.map_err(internal)?;
    let labelled = nova_schema::rollout::label_new_overrides(
        &input.version.sdl,
        published_sdl.as_deref(),
        &rollout::label_of(id),
    )
    .map_err(|e| refusal(StatusCode::BAD_REQUEST, e))?;
    let new = NewRollout {
        subgraph: &input.subgraph,
        fields: &labelled.fields,
        steps: &steps,
        routing_url: &input.version.url,
        final_sdl: &input.version.sdl,
        max_error_rate,
        min_requests,
        started_by: &principal.name,
    };
    let started = rollout::insert(&mut tx, id, new).await.map_err(internal)?;
    let labelled_version = SubgraphInput {
        sdl: labelled.sdl,
        message: format!("rollout {id} starts: {}", input.version.message),
        ..input.version
    };
    let published = publish_in(
        &registry,
        &mut tx,
        &principal.name,
        &input.subgraph,
        &labelled_version,
    )
    .await?;
    tx.commit().await.map_err(internal)?;
    let answer = published.answer(&registry, "rollout", &input.subgraph, &principal.name);
    registry.metrics.rollout("started");
    tracing::info!(rollout = id, subgraph = %input.subgraph, fields = ?started.fields, "rollout started");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "rollout": status_of(&started), "publish": answer })),
    )
        .into_response())
}

/// A rollout as answered: its row, the share of requests now and the gate.
fn status_of(rollout: &Rollout) -> serde_json::Value {
    let gate = match rollout.gate() {
        Gate::Waiting { seen, needed } => {
            json!({ "state": "waiting", "seen": seen, "needed": needed })
        }
        Gate::Passing { error_rate } => json!({ "state": "passing", "errorRate": error_rate }),
        Gate::Failing { error_rate } => json!({ "state": "failing", "errorRate": error_rate }),
    };
    let mut value = serde_json::to_value(rollout).unwrap_or_default();
    value["percent"] = json!(rollout.percent());
    value["gate"] = gate;
    value
}

pub(super) async fn status(
    State(registry): Shared,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    registry.principal(&headers, Role::Read)?;
    let mut conn = registry.pool.acquire().await.map_err(internal)?;
    let latest = rollout::latest(&mut conn).await.map_err(internal)?;
    Ok(Json(json!({ "rollout": latest.as_ref().map(status_of) })).into_response())
}

/// What the sync agent copies beside each router: the active rollout's label,
/// subgraph and share of requests.
pub(super) async fn labels(
    State(registry): Shared,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    registry.principal(&headers, Role::Read)?;
    let mut conn = registry.pool.acquire().await.map_err(internal)?;
    let latest = rollout::latest(&mut conn).await.map_err(internal)?;
    let active: Vec<_> = latest
        .iter()
        .filter(|r| r.state == "active")
        .map(|r| json!({ "label": r.label, "subgraph": r.subgraph, "percent": r.percent() }))
        .collect();
    Ok(Json(json!({ "rollouts": active })).into_response())
}

fn no_active() -> Refusal {
    refusal(StatusCode::NOT_FOUND, "no rollout is active")
}

pub(super) async fn step(State(registry): Shared, headers: HeaderMap) -> Result<Response, Refusal> {
    let principal = registry.principal(&headers, Role::Operator)?;
    let mut tx = registry.pool.begin().await.map_err(internal)?;
    let mut rollout = observed(&registry, &mut tx).await?.ok_or_else(no_active)?;
    let ready = if rollout.at_last_step() {
        Err(refusal(
            StatusCode::CONFLICT,
            "the rollout is at 100 %: promote it (nova rollout promote)",
        ))
    } else {
        require_gate(&rollout)
    };
    if let Err(refused) = ready {
        // What the gate read (and an abort it decided) is kept.
        tx.commit().await.map_err(internal)?;
        return Err(refused);
    }
    rollout::set_step(&mut tx, rollout.id, rollout.step + 1)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    rollout.step += 1;
    rollout.step_requests = 0;
    rollout.step_errors = 0;
    registry.metrics.rollout("stepped");
    tracing::info!(rollout = rollout.id, percent = rollout.percent(), by = %principal.name, "rollout stepped");
    Ok(Json(json!({ "rollout": status_of(&rollout) })).into_response())
}

pub(super) async fn promote(
    State(registry): Shared,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let principal = registry.principal(&headers, Role::Operator)?;
    let mut tx = registry.pool.begin().await.map_err(internal)?;
    let rollout = observed(&registry, &mut tx).await?.ok_or_else(no_active)?;
    let ready = if rollout.at_last_step() {
        require_gate(&rollout)
    } else {
        Err(refusal(
            StatusCode::CONFLICT,
            format!(
                "the rollout is at {} %: step it to 100 % before promoting",
                rollout.percent()
            ),
        ))
    };
    if let Err(refused) = ready {
        tx.commit().await.map_err(internal)?;
        return Err(refused);
    }
    let version = SubgraphInput {
        url: rollout.routing_url.clone(),
        sdl: rollout.final_sdl.clone(),
        message: format!("rollout {} promoted", rollout.id),
        force: false,
        new: false,
        usage_days: None,
    };
    let published = publish_in(
        &registry,
        &mut tx,
        &principal.name,
        &rollout.subgraph,
        &version,
    )
    .await?;
    rollout::finish(&mut tx, rollout.id, "promoted", "promoted")
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    let answer = published.answer(&registry, "rollout", &rollout.subgraph, &principal.name);
    registry.metrics.rollout("promoted");
    Ok(
        Json(json!({ "rollout": { "id": rollout.id, "state": "promoted" }, "publish": answer }))
            .into_response(),
    )
}

#[derive(Deserialize, Default)]
pub(super) struct AbortInput {
    #[serde(default)]
    reason: String,
}

pub(super) async fn abort(
    State(registry): Shared,
    headers: HeaderMap,
    body: Result<Json<AbortInput>, JsonRejection>,
) -> Result<Response, Refusal> {
    let principal = registry.principal(&headers, Role::Operator)?;
    let Json(input) = body.map_err(unreadable_body)?;
    let mut tx = registry.pool.begin().await.map_err(internal)?;
    let mut rollout = rollout::active(&mut tx)
        .await
        .map_err(internal)?
        .ok_or_else(no_active)?;
    let reason = if input.reason.is_empty() {
        format!("aborted by {}", principal.name)
    } else {
        format!("aborted by {}: {}", principal.name, input.reason)
    };
    rollout::finish(&mut tx, rollout.id, "aborted", &reason)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    registry.metrics.rollout("aborted");
    tracing::warn!(rollout = rollout.id, %reason, "rollout aborted");
    rollout.state = "aborted".into();
    rollout.reason = reason;
    Ok(Json(json!({ "rollout": status_of(&rollout) })).into_response())
}

#[cfg(test)]
mod tests {
    use super::validate_steps;

    #[test]
    fn steps_ascend_within_1_to_100_and_end_at_100() {
        assert!(validate_steps(&[5, 50, 100]).is_ok());
        assert!(validate_steps(&[100]).is_ok());
        for bad in [
            &[][..],
            &[5, 50],
            &[50, 5, 100],
            &[0, 100],
            &[5, 5, 100],
            &[5, 101],
        ] {
            assert!(validate_steps(bad).is_err(), "{bad:?}");
        }
    }
}

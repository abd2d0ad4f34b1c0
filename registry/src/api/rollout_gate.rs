//! The rollout gate: the routers' counts of the new subgraph's answers, read
//! into the active rollout, and the abort when too many failed; the watcher
//! that reads them while a rollout is active (see `rollout`).

use std::sync::Arc;

use axum::http::StatusCode;

use super::{internal, refusal, Refusal, Registry};
use crate::rollout::{self, Gate, Rollout};

/// The active rollout, locked in `tx`, with the routers' latest counts added;
/// aborted (and committed) when the gate fails.
pub(super) async fn observed(
    registry: &Registry,
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
) -> Result<Option<Rollout>, Refusal> {
    let Some(mut rollout) = rollout::active(tx).await.map_err(internal)? else {
        return Ok(None);
    };
    let reads = rollout::read_routers(
        &registry.http,
        &registry.rollout_gate.metrics_urls,
        &rollout,
    )
    .await;
    for (source, requests, errors) in reads {
        let (new_requests, new_errors) =
            rollout::record_read(tx, rollout.id, &source, requests, errors)
                .await
                .map_err(internal)?;
        rollout.step_requests += new_requests;
        rollout.step_errors += new_errors;
    }
    if let Gate::Failing { error_rate } = rollout.gate() {
        let reason = format!(
            "gate failed at {} %: {:.1} % of {} answers from {} failed (at most {:.1} %)",
            rollout.percent(),
            error_rate * 100.0,
            rollout.step_requests,
            rollout.subgraph,
            rollout.max_error_rate * 100.0
        );
        rollout::finish(tx, rollout.id, "aborted", &reason)
            .await
            .map_err(internal)?;
        registry.metrics.rollout("aborted_by_gate");
        tracing::warn!(rollout = rollout.id, %reason, "rollout aborted");
        rollout.state = "aborted".into();
        rollout.reason = reason;
    }
    Ok(Some(rollout))
}

/// The gate must pass before a step or a promotion.
pub(super) fn require_gate(rollout: &Rollout) -> Result<(), Refusal> {
    match rollout.gate() {
        Gate::Passing { .. } => Ok(()),
        Gate::Waiting { seen, needed } => Err(refusal(
            StatusCode::CONFLICT,
            format!(
                "the gate has seen {seen} of the {needed} answers it needs at {} %; try again when traffic has reached the new subgraph",
                rollout.percent()
            ),
        )),
        Gate::Failing { .. } => Err(refusal(
            StatusCode::CONFLICT,
            format!("aborted: {}", rollout.reason),
        )),
    }
}

/// The gate watcher: reads the routers every `interval` while a rollout is
/// active and aborts it when the gate fails. Each read runs in a transaction
/// holding the rollout's row, so registry replicas never count one twice.
pub async fn watch(registry: Arc<Registry>) {
    let mut ticks = tokio::time::interval(registry.rollout_gate.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let result = async {
            let mut tx = registry.pool.begin().await.map_err(internal)?;
            observed(&registry, &mut tx).await?;
            tx.commit().await.map_err(internal)
        }
        .await;
        if let Err(Refusal(status, body)) = result {
            tracing::warn!(%status, %body, "the rollout gate could not read the routers");
        }
    }
}

//! Progressive rollouts: their rows, the gate, and reading the routers' metrics.
//!
//! The gate reads `ROUTER_METRIC` from every router (`NOVA_REGISTRY_ROUTER_METRICS`:
//! URLs of their `/metrics/nova`; each host name is resolved and every address
//! read, so a headless Service name covers every replica). It adds what each
//! router counted since the last read to the rollout's current step and aborts
//! the rollout when, over at least `min_requests` answers, the share of failed
//! ones exceeds `max_error_rate`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

/// The router plugin's counter of the new subgraph's answers on requests a
/// rollout's label sent there (labels `label`, `subgraph`, `outcome`).
pub const ROUTER_METRIC: &str = "nova_router_rollout_subgraph_requests_total";

/// Where and how often the gate reads the routers.
#[derive(Clone, Debug, Default)]
pub struct GateConfig {
    pub metrics_urls: Vec<String>,
    pub interval: Duration,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    pub id: i64,
    pub label: String,
    pub subgraph: String,
    pub fields: Vec<String>,
    pub steps: Vec<i32>,
    pub step: i32,
    pub state: String,
    pub routing_url: String,
    #[serde(skip)]
    pub final_sdl: String,
    pub max_error_rate: f64,
    pub min_requests: i64,
    pub step_requests: i64,
    pub step_errors: i64,
    pub reason: String,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Rollout {
    /// The share of requests the label is on for now (0 once it ended).
    pub fn percent(&self) -> i32 {
        if self.state != "active" {
            return 0;
        }
        self.steps.get(self.step as usize).copied().unwrap_or(0)
    }

    pub fn at_last_step(&self) -> bool {
        self.step as usize + 1 >= self.steps.len()
    }

    pub fn gate(&self) -> Gate {
        gate(
            self.step_requests,
            self.step_errors,
            self.min_requests,
            self.max_error_rate,
        )
    }
}

/// What the gate says of the current step's answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Gate {
    /// Fewer answers than `min_requests` yet.
    Waiting {
        seen: i64,
        needed: i64,
    },
    Passing {
        error_rate: f64,
    },
    Failing {
        error_rate: f64,
    },
}

pub fn gate(requests: i64, errors: i64, min_requests: i64, max_error_rate: f64) -> Gate {
    if requests < min_requests || requests == 0 {
        return Gate::Waiting {
            seen: requests,
            needed: min_requests,
        };
    }
    let error_rate = errors as f64 / requests as f64;
    if error_rate > max_error_rate {
        Gate::Failing { error_rate }
    } else {
        Gate::Passing { error_rate }
    }
}

/// What a router counted since the previous read: its counter minus the last
/// one seen, or the whole counter when it went down (the router restarted).
pub fn since_last(previous: Option<i64>, now: i64) -> i64 {
    match previous {
        Some(previous) if now >= previous => now - previous,
        _ => now,
    }
}

/// `(requests, errors)` for `label` and `subgraph` in a router's metrics text.
pub fn counted(text: &str, label: &str, subgraph: &str) -> (i64, i64) {
    let label = format!("label=\"{label}\"");
    let subgraph = format!("subgraph=\"{subgraph}\"");
    let (mut requests, mut errors) = (0, 0);
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(ROUTER_METRIC) else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once(' ') else {
            continue;
        };
        if !labels.contains(&label) || !labels.contains(&subgraph) {
            continue;
        }
        let value = value.trim().parse::<f64>().unwrap_or(0.0) as i64;
        requests += value;
        if labels.contains("outcome=\"error\"") {
            errors += value;
        }
    }
    (requests, errors)
}

pub async fn active(conn: &mut PgConnection) -> Result<Option<Rollout>, sqlx::Error> {
    sqlx::query_as!(
        Rollout,
        "SELECT id, label, subgraph, fields, steps, step, state, routing_url, final_sdl,
                max_error_rate, min_requests, step_requests, step_errors, reason, started_by,
                started_at, updated_at
         FROM rollouts WHERE state = 'active' FOR UPDATE"
    )
    .fetch_optional(conn)
    .await
}

/// The active rollout, read without locking it (publishes and starts ask under
/// the current supergraph's lock; locking the rollout there too could
/// deadlock with a promote, which locks the rollout, then the supergraph).
pub async fn active_unlocked(conn: &mut PgConnection) -> Result<Option<Rollout>, sqlx::Error> {
    sqlx::query_as!(
        Rollout,
        "SELECT id, label, subgraph, fields, steps, step, state, routing_url, final_sdl,
                max_error_rate, min_requests, step_requests, step_errors, reason, started_by,
                started_at, updated_at
         FROM rollouts WHERE state = 'active'"
    )
    .fetch_optional(conn)
    .await
}

/// The active rollout, or else the one that ended last.
pub async fn latest(conn: &mut PgConnection) -> Result<Option<Rollout>, sqlx::Error> {
    sqlx::query_as!(
        Rollout,
        "SELECT id, label, subgraph, fields, steps, step, state, routing_url, final_sdl,
                max_error_rate, min_requests, step_requests, step_errors, reason, started_by,
                started_at, updated_at
         FROM rollouts ORDER BY (state = 'active') DESC, id DESC LIMIT 1"
    )
    .fetch_optional(conn)
    .await
}

/// A rollout's parameters, before it has an id.
pub struct NewRollout<'a> {
    pub subgraph: &'a str,
    pub fields: &'a [String],
    pub steps: &'a [i32],
    pub routing_url: &'a str,
    pub final_sdl: &'a str,
    pub max_error_rate: f64,
    pub min_requests: i64,
    pub started_by: &'a str,
}

/// The next rollout's id (its label is made from it before it is inserted).
pub async fn next_id(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let id = sqlx::query_scalar!("SELECT nextval(pg_get_serial_sequence('rollouts', 'id'))")
        .fetch_one(conn)
        .await?;
    Ok(id.unwrap_or_default())
}

pub fn label_of(id: i64) -> String {
    format!("nova-rollout-{id}")
}

pub async fn insert(
    conn: &mut PgConnection,
    id: i64,
    new: NewRollout<'_>,
) -> Result<Rollout, sqlx::Error> {
    sqlx::query_as!(
        Rollout,
        "INSERT INTO rollouts (id, label, subgraph, fields, steps, state, routing_url, final_sdl,
                               max_error_rate, min_requests, started_by)
         VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9, $10)
         RETURNING id, label, subgraph, fields, steps, step, state, routing_url, final_sdl,
                   max_error_rate, min_requests, step_requests, step_errors, reason, started_by,
                   started_at, updated_at",
        id,
        label_of(id),
        new.subgraph,
        new.fields,
        new.steps,
        new.routing_url,
        new.final_sdl,
        new.max_error_rate,
        new.min_requests,
        new.started_by,
    )
    .fetch_one(conn)
    .await
}

/// Move to step `step`; its answers are counted from zero.
pub async fn set_step(conn: &mut PgConnection, id: i64, step: i32) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE rollouts SET step = $2, step_requests = 0, step_errors = 0, updated_at = now()
         WHERE id = $1",
        id,
        step
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// End the rollout (`promoted` or `aborted`) with a reason.
pub async fn finish(
    conn: &mut PgConnection,
    id: i64,
    state: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE rollouts SET state = $2, reason = $3, updated_at = now() WHERE id = $1",
        id,
        state,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Record a router's counters and add what is new since its last read to the
/// current step; returns what was added, `(requests, errors)`.
pub async fn record_read(
    conn: &mut PgConnection,
    id: i64,
    source: &str,
    requests: i64,
    errors: i64,
) -> Result<(i64, i64), sqlx::Error> {
    let previous = sqlx::query!(
        "SELECT requests, errors FROM rollout_scrapes WHERE rollout_id = $1 AND source = $2",
        id,
        source
    )
    .fetch_optional(&mut *conn)
    .await?;
    let new_requests = since_last(previous.as_ref().map(|p| p.requests), requests);
    let new_errors = since_last(previous.as_ref().map(|p| p.errors), errors);
    sqlx::query!(
        "INSERT INTO rollout_scrapes (rollout_id, source, requests, errors) VALUES ($1, $2, $3, $4)
         ON CONFLICT (rollout_id, source) DO UPDATE SET requests = $3, errors = $4",
        id,
        source,
        requests,
        errors
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE rollouts SET step_requests = step_requests + $2, step_errors = step_errors + $3
         WHERE id = $1",
        id,
        new_requests,
        new_errors
    )
    .execute(conn)
    .await?;
    Ok((new_requests, new_errors))
}

/// Read every router's counters for `rollout`: `(source address, requests,
/// errors)`. A router that cannot be read is left out (and logged); its
/// counts arrive with the next read that reaches it.
pub async fn read_routers(
    client: &reqwest::Client,
    urls: &[String],
    rollout: &Rollout,
) -> Vec<(String, i64, i64)> {
    let mut reads = Vec::new();
    for url in urls {
        let Ok(parsed) = reqwest::Url::parse(url) else {
            tracing::warn!(%url, "not a router metrics URL");
            continue;
        };
        let host = parsed.host_str().unwrap_or_default().to_string();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let addresses = match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(addresses) => addresses.collect::<Vec<_>>(),
            Err(error) => {
                tracing::warn!(%url, %error, "cannot resolve a router metrics host");
                continue;
            }
        };
        for address in addresses {
            let mut each = parsed.clone();
            let _ = each.set_ip_host(address.ip());
            let source = format!("{address}{}", parsed.path());
            let text = match client.get(each).send().await {
                Ok(response) if response.status().is_success() => response.text().await,
                Ok(response) => {
                    tracing::warn!(%source, status = %response.status(), "router metrics refused");
                    continue;
                }
                Err(error) => Err(error),
            };
            match text {
                Ok(text) => {
                    let (requests, errors) = counted(&text, &rollout.label, &rollout.subgraph);
                    reads.push((source, requests, errors));
                }
                Err(error) => tracing::warn!(%source, %error, "cannot read router metrics"),
            }
        }
    }
    reads
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_waits_for_enough_answers_then_judges_the_error_rate() {
        assert_eq!(
            gate(19, 19, 20, 0.01),
            Gate::Waiting {
                seen: 19,
                needed: 20
            }
        );
        assert_eq!(gate(100, 1, 20, 0.01), Gate::Passing { error_rate: 0.01 });
        assert_eq!(gate(100, 2, 20, 0.01), Gate::Failing { error_rate: 0.02 });
        assert_eq!(gate(0, 0, 0, 0.01), Gate::Waiting { seen: 0, needed: 0 });
    }

    #[test]
    fn a_router_that_restarted_counts_from_zero() {
        assert_eq!(since_last(None, 7), 7);
        assert_eq!(since_last(Some(7), 10), 3);
        assert_eq!(since_last(Some(10), 4), 4);
    }

    #[test]
    fn only_the_rollouts_own_series_are_counted() {
        let text = "\
# TYPE nova_router_rollout_subgraph_requests_total counter
nova_router_rollout_subgraph_requests_total{label=\"nova-rollout-1\",outcome=\"error\",subgraph=\"profiles\"} 3
nova_router_rollout_subgraph_requests_total{label=\"nova-rollout-1\",outcome=\"ok\",subgraph=\"profiles\"} 97
nova_router_rollout_subgraph_requests_total{label=\"nova-rollout-2\",outcome=\"ok\",subgraph=\"profiles\"} 50
nova_router_rollout_subgraph_requests_total{label=\"nova-rollout-1\",outcome=\"ok\",subgraph=\"social\"} 40
";
        assert_eq!(counted(text, "nova-rollout-1", "profiles"), (100, 3));
        assert_eq!(counted(text, "nova-rollout-9", "profiles"), (0, 0));
    }
}

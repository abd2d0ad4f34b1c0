//! Usage: routers report the operations they executed (Hive Router's usage
//! reporting, `POST /v1/usage` with a report token), operators read which
//! fields traffic uses (`GET /v1/usage`, `nova usage`).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{internal, refusal, unreadable_body, Refusal, Registry, Shared};
use crate::auth::Role;
use crate::store;
use crate::usage::{self, SeenOperation, UsageReport};

/// The longest usage window a request may ask for.
const MAX_USAGE_DAYS: u32 = 366;

impl Registry {
    /// Operations seen in the last `days` days (the registry's window when not
    /// given).
    pub(super) async fn traffic(&self, days: Option<u32>) -> Result<Vec<SeenOperation>, Refusal> {
        let days = usage_days(days.unwrap_or(self.usage_days))?;
        usage::seen_since(&self.pool, days).await.map_err(internal)
    }
}

fn usage_days(days: u32) -> Result<u32, Refusal> {
    if days > MAX_USAGE_DAYS {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            format!("usage days may be at most {MAX_USAGE_DAYS}, not {days}"),
        ));
    }
    Ok(days)
}

pub(super) async fn report(
    State(registry): Shared,
    headers: HeaderMap,
    body: Result<Json<UsageReport>, JsonRejection>,
) -> Result<Response, Refusal> {
    registry.principal(&headers, Role::Report)?;
    let Json(report) = body.map_err(unreadable_body)?;
    let tallies = report
        .tallies()
        .map_err(|error| refusal(StatusCode::BAD_REQUEST, error))?;
    let requests = usage::record(&registry.pool, &report, &tallies)
        .await
        .map_err(internal)?;
    registry.metrics.usage_requests.inc_by(requests as u64);
    Ok(Json(json!({ "requests": requests })).into_response())
}

#[derive(Deserialize)]
pub(super) struct UsageQuery {
    days: Option<u32>,
}

/// Requests per field over the window, and the current API schema's fields
/// that no request used (candidates for removal).
pub(super) async fn fields(
    State(registry): Shared,
    headers: HeaderMap,
    Query(query): Query<UsageQuery>,
) -> Result<Response, Refusal> {
    registry.principal(&headers, Role::Read)?;
    let days = usage_days(query.days.unwrap_or(registry.usage_days))?;
    let used = usage::field_usage(&registry.pool, days)
        .await
        .map_err(internal)?;
    let current = store::current(&registry.pool).await.map_err(internal)?;
    let fields = match current {
        Some(current) => nova_schema::api_schema(&current.sdl)
            .map(|api| nova_schema::field_coordinates(&api))
            .map_err(internal)?,
        None => Vec::new(),
    };
    let used_coordinates: std::collections::HashSet<&str> =
        used.iter().map(|u| u.coordinate.as_str()).collect();
    let unused: Vec<&String> = fields
        .iter()
        .filter(|field| !used_coordinates.contains(field.as_str()))
        .collect();
    Ok(Json(json!({ "days": days, "used": used, "unused": unused })).into_response())
}

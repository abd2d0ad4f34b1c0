//! social's `/internal/` routes (see `nova_core::internal`).
//!
//! - `POST /internal/graph/export` `{ "relation": "follows" | "blocks" | "mutes",
//!   "after": [a, b] | null, "limit": n }` → `{ "pairs": [[a, b], ...] }` in
//!   (a, b) order, where a pair is (follower, followee), (blocker, blocked) or
//!   (muter, muted): the backfill of a new read model (the feed), which then
//!   follows `nova.social`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use nova_core::db::Db;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::{self, Relation};

/// Pairs one export call returns at most.
pub const MAX_EXPORT_PAGE: i64 = 10_000;

#[derive(Deserialize, Serialize)]
pub struct ExportRequest {
    pub relation: Relation,
    pub after: Option<(Uuid, Uuid)>,
    pub limit: i64,
}

#[derive(Deserialize, Serialize)]
pub struct ExportPage {
    pub pairs: Vec<(Uuid, Uuid)>,
}

async fn export(
    State(db): State<Db>,
    Json(request): Json<ExportRequest>,
) -> Result<Json<ExportPage>, (StatusCode, String)> {
    if !(1..=MAX_EXPORT_PAGE).contains(&request.limit) {
        let message = format!("limit must be between 1 and {MAX_EXPORT_PAGE}");
        return Err((StatusCode::BAD_REQUEST, message));
    }
    let pairs = store::export_pairs(&db, request.relation, request.after, request.limit)
        .await
        .map_err(|error| {
            tracing::error!(%error, "graph export failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error".to_string(),
            )
        })?;
    Ok(Json(ExportPage { pairs }))
}

/// The routes, protected by the router secret.
pub fn routes(db: Db, router_secret: &str) -> axum::Router {
    let routes = axum::Router::new()
        .route("/internal/graph/export", post(export))
        .with_state(db);
    nova_core::internal::protected(routes, router_secret)
}

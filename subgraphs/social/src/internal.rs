//! social's `/internal/` routes (see `nova_core::internal`).
//!
//! - `POST /internal/graph/export` `{ "relation": "follows" | "blocks" | "mutes",
//!   "after": [a, b] | null, "limit": n }` → `{ "pairs": [[a, b], ...] }` in
//!   (a, b) order, where a pair is (follower, followee), (blocker, blocked) or
//!   (muter, muted): the backfill of a new read model (the feed), which then
//!   follows `nova.social`.
//! - `POST /internal/blocks/between` `{ "user": u, "ids": [...] }` → `{ "ids": [...] }`:
//!   which of `ids` have a block either way with `u`, now. Chat asks it before a
//!   write that must respect blocks (`nova_core::internal::blocked_either_way`).
//! - `POST /internal/blocks/blockers` `{ "user": u, "ids": [...] }` → `{ "ids": [...] }`:
//!   which of `ids` have blocked `u` (identity hides their profiles from `u`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use nova_core::db::Db;
use nova_core::internal::{failed, BlocksBetween, Ids, Refusal};
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

/// At most this many ids per blocks question (a group's members fit).
pub const MAX_BLOCK_QUESTION: usize = 1_000;

async fn blocks_between(
    State(db): State<Db>,
    Json(request): Json<BlocksBetween>,
) -> Result<Json<Ids>, Refusal> {
    if request.ids.len() > MAX_BLOCK_QUESTION {
        let message = format!("at most {MAX_BLOCK_QUESTION} ids per question");
        return Err((StatusCode::BAD_REQUEST, message));
    }
    let ids = store::blocked_either_way(&db, request.user, &request.ids)
        .await
        .map_err(failed)?;
    Ok(Json(Ids { ids }))
}

async fn blockers(
    State(db): State<Db>,
    Json(request): Json<BlocksBetween>,
) -> Result<Json<Ids>, Refusal> {
    if request.ids.len() > MAX_BLOCK_QUESTION {
        let message = format!("at most {MAX_BLOCK_QUESTION} ids per question");
        return Err((StatusCode::BAD_REQUEST, message));
    }
    let ids = store::blockers_of(&db, request.user, &request.ids)
        .await
        .map_err(failed)?;
    Ok(Json(Ids { ids }))
}

/// The routes, protected by the router secret.
pub fn routes(db: Db, router_secret: &str) -> axum::Router {
    let routes = axum::Router::new()
        .route("/internal/graph/export", post(export))
        .route("/internal/blocks/between", post(blocks_between))
        .route("/internal/blocks/blockers", post(blockers))
        .with_state(db);
    nova_core::internal::protected(routes, router_secret)
}

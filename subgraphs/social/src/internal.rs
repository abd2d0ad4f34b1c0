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
//! - `POST /internal/notices/silenced` `{ "pairs": [[recipient, actor], ...] }` →
//!   the same shape: the pairs that must raise no notification (a block either
//!   way, or the recipient muted the actor). Notifications asks it as it builds
//!   each notification (`nova_core::internal::silenced_pairs`).
//! - `POST /internal/users/data` `{ "userId" }` → the user's section of
//!   `exportMyData` (`nova_core::personal_data`; only media calls it).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use nova_core::db::Db;
use nova_core::internal::{failed, BlocksBetween, Ids, NoticePairs, Refusal, MAX_NOTICE_PAIRS};
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

async fn silenced(
    State(db): State<Db>,
    Json(request): Json<NoticePairs>,
) -> Result<Json<NoticePairs>, Refusal> {
    if request.pairs.len() > MAX_NOTICE_PAIRS {
        let message = format!("at most {MAX_NOTICE_PAIRS} pairs per question");
        return Err((StatusCode::BAD_REQUEST, message));
    }
    let pairs = store::silenced_pairs(&db, &request.pairs)
        .await
        .map_err(failed)?;
    Ok(Json(NoticePairs { pairs }))
}

/// The user's section of `exportMyData` (`nova_core::personal_data`): whom
/// they follow, block, mute and like, and who follows them.
async fn data_section(db: Db, user: Uuid) -> Result<nova_core::personal_data::Section, Refusal> {
    sqlx::query_scalar!(
        r#"SELECT json_build_object(
             'following', coalesce((SELECT json_agg(json_build_object('userId', followee_id,
                        'since', created_at) ORDER BY id) FROM follows WHERE follower_id = $1), '[]'),
             'followers', coalesce((SELECT json_agg(json_build_object('userId', follower_id,
                        'since', created_at) ORDER BY id) FROM follows WHERE followee_id = $1), '[]'),
             'blocked', coalesce((SELECT json_agg(json_build_object('userId', blocked_id,
                        'since', created_at) ORDER BY id) FROM blocks WHERE blocker_id = $1), '[]'),
             'muted', coalesce((SELECT json_agg(json_build_object('userId', muted_id,
                        'since', created_at) ORDER BY id) FROM mutes WHERE muter_id = $1), '[]'),
             'likes', coalesce((SELECT json_agg(json_build_object('postId', post_id,
                        'at', created_at) ORDER BY id) FROM likes WHERE user_id = $1), '[]')
           )::text AS "data!""#,
        user
    )
    .fetch_one(db.background_pool())
    .await
    .map_err(failed)
    .and_then(nova_core::personal_data::parse)
}

/// The routes, protected by the router secret.
pub fn routes(db: Db, router_secret: &str) -> axum::Router {
    let routes = axum::Router::new()
        .route("/internal/graph/export", post(export))
        .route("/internal/blocks/between", post(blocks_between))
        .route("/internal/blocks/blockers", post(blockers))
        .route("/internal/notices/silenced", post(silenced))
        .with_state(db.clone())
        .merge(nova_core::personal_data::route(db, data_section));
    nova_core::internal::protected(routes, router_secret)
}

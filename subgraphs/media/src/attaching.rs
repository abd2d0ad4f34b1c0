//! Attaching media where it shows (nova_core::attachments), answered under
//! `/internal/media/` to content (posts) and users (avatars):
//!
//! - `POST /internal/media/attach` `AttachRequest` → `AttachAnswer`: every
//!   media the owner's, READY and unused (or used by this same place), then
//!   all are marked used by it, or none is. An avatar replaces the previous
//!   one: the media the avatar showed until now is deleted in the same
//!   transaction (its objects go with the next sweep).
//! - `POST /internal/media/detach` `AttachRequest` → `AttachAnswer` (empty):
//!   undo an attach whose write failed afterwards.
//! - `POST /internal/media/release` `AttachRequest` → `AttachAnswer` (empty):
//!   the place no longer shows media (an avatar removed): the media it
//!   showed, but for `media_ids`, are deleted (their objects go with the next
//!   sweep).

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use nova_core::attachments::{AttachAnswer, AttachRequest, Refusal};
use nova_core::internal::{failed, Refusal as RouteRefusal};
use sqlx::PgPool;

use crate::store;

type Answer = Result<Json<AttachAnswer>, RouteRefusal>;

async fn attach(State(pool): State<PgPool>, Json(request): Json<AttachRequest>) -> Answer {
    let mut tx = pool.begin().await.map_err(failed)?;
    let rows = store::lock_for_attach(&mut tx, &request.media_ids)
        .await
        .map_err(failed)?;
    let mut refused = Vec::new();
    for id in &request.media_ids {
        let why = match rows.iter().find(|r| r.media_id == *id) {
            None => Some(Refusal::NotFound),
            Some(row) if row.owner_id != request.owner => Some(Refusal::NotYours),
            Some(row) if row.status != "ready" => Some(Refusal::NotReady),
            Some(row) if row.used_by.as_ref().is_some_and(|u| *u != request.used_by) => {
                Some(Refusal::InUse)
            }
            Some(_) => None,
        };
        if let Some(why) = why {
            refused.push((*id, why));
        }
    }
    if !refused.is_empty() {
        return Ok(Json(AttachAnswer { refused }));
    }
    if request.used_by.starts_with("avatar:") {
        store::delete_others_used_by(&mut tx, &request.used_by, &request.media_ids)
            .await
            .map_err(failed)?;
    }
    store::mark_used(&mut tx, &request.media_ids, &request.used_by)
        .await
        .map_err(failed)?;
    tx.commit().await.map_err(failed)?;
    Ok(Json(AttachAnswer::default()))
}

async fn detach(State(pool): State<PgPool>, Json(request): Json<AttachRequest>) -> Answer {
    store::unmark_used(&pool, &request.media_ids, request.owner, &request.used_by)
        .await
        .map_err(failed)?;
    Ok(Json(AttachAnswer::default()))
}

async fn release(State(pool): State<PgPool>, Json(request): Json<AttachRequest>) -> Answer {
    let mut connection = pool.acquire().await.map_err(failed)?;
    store::delete_others_used_by(&mut connection, &request.used_by, &request.media_ids)
        .await
        .map_err(failed)?;
    Ok(Json(AttachAnswer::default()))
}

/// The routes, behind the router secret.
pub fn routes(pool: PgPool, secret: &str) -> axum::Router {
    let routes = axum::Router::new()
        .route("/internal/media/attach", post(attach))
        .route("/internal/media/detach", post(detach))
        .route("/internal/media/release", post(release))
        .with_state(pool);
    nova_core::internal::protected(routes, secret)
}

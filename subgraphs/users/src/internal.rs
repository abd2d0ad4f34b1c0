//! users' `/internal/` routes (see `nova_core::internal`).
//!
//! - `POST /internal/profiles/export` `{ "after": id | null, "limit": n }` →
//!   `{ "profiles": [{ "userId", "displayName", "bio" }] }` in id order: the
//!   backfill of a new read model (search), which then follows `nova.users`.

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use nova_core::db::Db;
use nova_core::internal::{failed, ExportRequest, Refusal};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Profiles one export call returns at most.
pub const MAX_EXPORT_PAGE: i64 = 10_000;

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedProfile {
    pub user_id: Uuid,
    pub display_name: Option<String>,
    pub bio: String,
}

#[derive(Deserialize, Serialize)]
pub struct ExportPage {
    pub profiles: Vec<ExportedProfile>,
}

async fn export(
    State(db): State<Db>,
    Json(request): Json<ExportRequest<Uuid>>,
) -> Result<Json<ExportPage>, Refusal> {
    let limit = request.checked_limit(MAX_EXPORT_PAGE)?;
    let profiles = sqlx::query_as!(
        ExportedProfile,
        "SELECT user_id, display_name, bio FROM profiles \
         WHERE ($1::uuid IS NULL OR user_id > $1) ORDER BY user_id LIMIT $2",
        request.after,
        limit,
    )
    .fetch_all(db.background_pool())
    .await
    .map_err(failed)?;
    Ok(Json(ExportPage { profiles }))
}

/// The routes, protected by the router secret.
pub fn routes(db: Db, router_secret: &str) -> axum::Router {
    let routes = axum::Router::new()
        .route("/internal/profiles/export", post(export))
        .with_state(db);
    nova_core::internal::protected(routes, router_secret)
}

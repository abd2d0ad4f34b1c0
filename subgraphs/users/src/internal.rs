//! users' `/internal/` routes (see `nova_core::internal`).
//!
//! - `POST /internal/profiles/export` `{ "after": id | null, "limit": n }` →
//!   `{ "profiles": [{ "userId", "displayName", "bio" }] }` in id order: the
//!   backfill of a new read model (search), which then follows `nova.users`.
//! - `POST /internal/users/data` `{ "userId" }` → the user's section of
//!   `exportMyData` (`nova_core::personal_data`; only media calls it).

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
         WHERE ($1::uuid IS NULL OR user_id > $1) \
           AND ($3::uuid[] IS NULL OR user_id = ANY($3)) ORDER BY user_id LIMIT $2",
        request.after,
        limit,
        request.ids.as_deref(),
    )
    .fetch_all(db.background_pool())
    .await
    .map_err(failed)?;
    Ok(Json(ExportPage { profiles }))
}

/// The user's section of `exportMyData` (`nova_core::personal_data`).
async fn data_section(db: Db, user: Uuid) -> Result<nova_core::personal_data::Section, Refusal> {
    sqlx::query_scalar!(
        r#"SELECT json_build_object(
             'profile', (SELECT json_build_object('displayName', display_name, 'bio', bio,
                           'avatarMediaId', avatar_media_id, 'updatedAt', updated_at)
                         FROM profiles WHERE user_id = $1)
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
        .route("/internal/profiles/export", post(export))
        .with_state(db.clone())
        .merge(nova_core::personal_data::route(db, data_section));
    nova_core::internal::protected(routes, router_secret)
}

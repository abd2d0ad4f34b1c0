//! identity's `/internal/` routes (see `nova_core::internal`).
//!
//! - `POST /internal/accounts/export` `{ "after": id | null, "limit": n }` →
//!   `{ "accounts": [{ "userId", "username" }] }` in id order: the backfill of a
//!   new read model (search), which then follows `nova.identity`.
//! - `POST /internal/accounts/existing` `{ "ids": [...] }` → `{ "ids": [...] }`:
//!   which of these ids are accounts. content asks when it resolves Relay's
//!   `node(id:)`, to tell a user's id from an unknown one.
//! - `POST /internal/accounts/named` `{ "usernames": [...] }` →
//!   `[[username, id], ...]`: the accounts of these usernames, any case. content
//!   asks to check a post's mentions against blocks at the write.
//! - `POST /internal/users/data` `{ "userId" }` → the user's section of
//!   `exportMyData` (`nova_core::personal_data`; only media calls it).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use nova_core::db::Db;
use nova_core::internal::{failed, ExportRequest, Ids, Refusal, Usernames};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Accounts one export call returns at most.
pub const MAX_EXPORT_PAGE: i64 = 10_000;
/// Ids one `existing` call may ask about.
pub const MAX_EXISTING_IDS: usize = 1000;

async fn existing(State(db): State<Db>, Json(request): Json<Ids>) -> Result<Json<Ids>, Refusal> {
    if request.ids.len() > MAX_EXISTING_IDS {
        let message = format!("at most {MAX_EXISTING_IDS} ids per call");
        return Err((StatusCode::BAD_REQUEST, message));
    }
    let accounts = crate::store::accounts_by_ids(&db, &request.ids)
        .await
        .map_err(failed)?;
    Ok(Json(Ids {
        ids: accounts.into_iter().map(|account| account.id).collect(),
    }))
}

async fn named(
    State(db): State<Db>,
    Json(request): Json<Usernames>,
) -> Result<Json<Vec<(String, Uuid)>>, Refusal> {
    if request.usernames.len() > MAX_EXISTING_IDS {
        let message = format!("at most {MAX_EXISTING_IDS} usernames per call");
        return Err((StatusCode::BAD_REQUEST, message));
    }
    let lowered: Vec<String> = request.usernames.iter().map(|u| u.to_lowercase()).collect();
    let accounts = sqlx::query!(
        "SELECT username, id FROM accounts WHERE lower(username) = ANY($1)",
        &lowered,
    )
    .fetch_all(db.statement())
    .await
    .map_err(failed)?;
    Ok(Json(
        accounts
            .into_iter()
            .map(|account| (account.username, account.id))
            .collect(),
    ))
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedAccount {
    pub user_id: Uuid,
    pub username: String,
}

#[derive(Deserialize, Serialize)]
pub struct ExportPage {
    pub accounts: Vec<ExportedAccount>,
}

async fn export(
    State(db): State<Db>,
    Json(request): Json<ExportRequest<Uuid>>,
) -> Result<Json<ExportPage>, Refusal> {
    let limit = request.checked_limit(MAX_EXPORT_PAGE)?;
    let accounts = sqlx::query_as!(
        ExportedAccount,
        "SELECT id AS user_id, username FROM accounts \
         WHERE ($1::uuid IS NULL OR id > $1) AND ($3::uuid[] IS NULL OR id = ANY($3)) \
         ORDER BY id LIMIT $2",
        request.after,
        limit,
        request.ids.as_deref(),
    )
    .fetch_all(db.background_pool())
    .await
    .map_err(failed)?;
    Ok(Json(ExportPage { accounts }))
}

/// The user's section of `exportMyData` (`nova_core::personal_data`): the
/// account, roles, sessions and suspensions.
async fn data_section(db: Db, user: Uuid) -> Result<nova_core::personal_data::Section, Refusal> {
    sqlx::query_scalar!(
        r#"SELECT json_build_object(
             'account', (SELECT json_build_object('id', id, 'email', email, 'username', username,
                           'createdAt', created_at) FROM accounts WHERE id = $1),
             'roles', coalesce((SELECT json_agg(json_build_object('role', role, 'grantedAt', granted_at))
                           FROM account_roles WHERE account_id = $1), '[]'),
             'sessions', coalesce((SELECT json_agg(json_build_object('id', id, 'createdAt', created_at,
                           'revokedAt', revoked_at, 'revokedReason', revoked_reason) ORDER BY created_at)
                           FROM session_families WHERE account_id = $1), '[]'),
             'suspensions', coalesce((SELECT json_agg(json_build_object('action', action, 'until', until,
                           'reason', reason, 'at', at) ORDER BY id)
                           FROM account_suspensions WHERE account_id = $1), '[]')
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
        .route("/internal/accounts/export", post(export))
        .route("/internal/accounts/existing", post(existing))
        .route("/internal/accounts/named", post(named))
        .with_state(db.clone())
        .merge(nova_core::personal_data::route(db, data_section));
    nova_core::internal::protected(routes, router_secret)
}

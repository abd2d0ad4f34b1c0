//! `exportMyData`: media builds a user's archive from every owner's section.
//! Each owner of personal data serves `POST /internal/users/data`
//! (`{ "userId" }` → its section, a JSON object) under the router secret;
//! media asks them all ([`OWNERS`]) and adds its own. docs/deletion.md
//! ("Export").

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::internal::{InternalCallError, InternalClient, Refusal};

/// One owner's section: a JSON object.
pub type Section = serde_json::Value;

/// The path every owner serves its section on.
pub const PATH: &str = "/internal/users/data";

/// The subgraphs media asks for their section, and the variable that holds
/// each one's base URL in media (also in `internal::CALLS`).
pub const OWNERS: [(&str, &str); 7] = [
    ("identity", "IDENTITY_SERVICE_URL"),
    ("users", "USERS_SERVICE_URL"),
    ("content", "CONTENT_SERVICE_URL"),
    ("social", "SOCIAL_SERVICE_URL"),
    ("chat", "CHAT_SERVICE_URL"),
    ("notifications", "NOTIFICATIONS_SERVICE_URL"),
    ("analytics", "ANALYTICS_SERVICE_URL"),
];

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionRequest {
    pub user_id: Uuid,
}

/// The `/internal/users/data` route over `section`, the owner's reader of one
/// user's data. Protect it with `internal::protected` like the owner's other
/// internal routes.
pub fn route<S, F, Fut>(state: S, section: F) -> axum::Router
where
    S: Clone + Send + Sync + 'static,
    F: Fn(S, Uuid) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<serde_json::Value, Refusal>> + Send,
{
    let handler = move |State(state): State<S>, Json(request): Json<SectionRequest>| {
        let section = section.clone();
        async move { section(state, request.user_id).await.map(Json) }
    };
    axum::Router::new()
        .route(PATH, post(handler))
        .with_state(state)
}

/// A section an owner built in SQL as JSON text (`json_build_object(...)::text`).
pub fn parse(text: String) -> Result<serde_json::Value, Refusal> {
    serde_json::from_str(&text).map_err(crate::internal::failed)
}

/// One owner's section of `user`'s archive.
pub async fn section_of(
    owner: &InternalClient,
    user: Uuid,
) -> Result<serde_json::Value, InternalCallError> {
    owner.post(PATH, &SectionRequest { user_id: user }).await
}

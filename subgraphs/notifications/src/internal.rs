//! notifications' `/internal/` routes (see `nova_core::internal`).
//!
//! - `POST /internal/users/data` `{ "userId" }` → the user's notifications:
//!   their section of `exportMyData` (`nova_core::personal_data`; only media
//!   calls it).

use nova_core::db::Db;
use nova_core::internal::{failed, Refusal};
use uuid::Uuid;

async fn data_section(db: Db, user: Uuid) -> Result<nova_core::personal_data::Section, Refusal> {
    sqlx::query_scalar!(
        r#"SELECT json_build_object(
             'notifications', coalesce((SELECT json_agg(json_build_object('id', id, 'kind', kind,
                        'postId', post_id, 'conversationId', conversation_id, 'actorIds', actor_ids,
                        'count', event_count, 'createdAt', created_at, 'readAt', read_at)
                        ORDER BY position)
                      FROM notifications WHERE recipient_id = $1), '[]')
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
    let routes = nova_core::personal_data::route(db, data_section);
    nova_core::internal::protected(routes, router_secret)
}

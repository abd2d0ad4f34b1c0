//! content's `/internal/` routes (see `nova_core::internal`): what read models
//! ask the owner of posts directly.
//!
//! - `POST /internal/posts/served` `{ "ids": [...] }` → `{ "ids": [...] }`: which
//!   of these posts content serves now. The feed asks before it answers a page,
//!   so a deleted post leaves every feed at once, not when the event arrives.
//! - `POST /internal/posts/authors` `{ "ids": [...] }` → `{ "posts": [[post, author], ...] }`:
//!   the authors of those of these posts content serves now. Social asks before a
//!   like, to hold the block rule between the liker and the author.
//! - `POST /internal/posts/export` `{ "after": id | null, "limit": n }` →
//!   `{ "posts": [{ "postId", "authorId", "createdAt", "body", "hashtags" }] }`,
//!   oldest first: the backfill of a new read model (it then follows
//!   `nova.content`).
//! - `POST /internal/users/data` `{ "userId" }` → the user's section of
//!   `exportMyData` (`nova_core::personal_data`; only media calls it).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use chrono::{DateTime, Utc};
use nova_core::db::Db;
use nova_core::internal::{failed, ExportRequest, Ids, PostAuthors, Refusal};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store;

/// Ids one `served` call may ask about (a page with its look-ahead).
pub const MAX_SERVED_IDS: usize = 1000;
/// Posts one export call returns at most.
pub const MAX_EXPORT_PAGE: i64 = 5000;

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedPost {
    pub post_id: Uuid,
    pub author_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub body: String,
    pub hashtags: Vec<String>,
}

#[derive(Deserialize, Serialize)]
pub struct ExportPage {
    pub posts: Vec<ExportedPost>,
}

type Answer<T> = Result<Json<T>, Refusal>;

async fn served(State(db): State<Db>, Json(request): Json<Ids>) -> Answer<Ids> {
    if request.ids.len() > MAX_SERVED_IDS {
        let message = format!("at most {MAX_SERVED_IDS} ids per call");
        return Err((StatusCode::BAD_REQUEST, message));
    }
    let ids = store::existing_posts(&db, &request.ids)
        .await
        .map_err(failed)?;
    Ok(Json(Ids { ids }))
}

async fn authors(State(db): State<Db>, Json(request): Json<Ids>) -> Answer<PostAuthors> {
    if request.ids.len() > MAX_SERVED_IDS {
        let message = format!("at most {MAX_SERVED_IDS} ids per call");
        return Err((StatusCode::BAD_REQUEST, message));
    }
    let posts = store::post_authors(&db, &request.ids)
        .await
        .map_err(failed)?;
    Ok(Json(PostAuthors { posts }))
}

async fn export(
    State(db): State<Db>,
    Json(request): Json<ExportRequest<Uuid>>,
) -> Answer<ExportPage> {
    let limit = request.checked_limit(MAX_EXPORT_PAGE)?;
    let posts = store::export_posts(&db, request.after, limit, request.ids.as_deref())
        .await
        .map_err(failed)?
        .into_iter()
        .map(|post| ExportedPost {
            post_id: post.id,
            author_id: post.author_id,
            created_at: post.created_at,
            body: post.body,
            hashtags: post.hashtags,
        })
        .collect();
    Ok(Json(ExportPage { posts }))
}

/// The user's section of `exportMyData` (`nova_core::personal_data`): posts,
/// comments, reports filed, takedowns of their posts and comments.
async fn data_section(db: Db, user: Uuid) -> Result<nova_core::personal_data::Section, Refusal> {
    sqlx::query_scalar!(
        r#"SELECT json_build_object(
             'posts', coalesce((SELECT json_agg(json_build_object('id', id, 'body', body,
                        'hashtags', hashtags, 'mediaIds', media_ids, 'createdAt', created_at,
                        'editedAt', edited_at, 'takenDownAt', taken_down_at) ORDER BY id)
                      FROM posts WHERE author_id = $1), '[]'),
             'comments', coalesce((SELECT json_agg(json_build_object('id', id, 'postId', post_id,
                        'body', body, 'createdAt', created_at, 'takenDownAt', taken_down_at) ORDER BY id)
                      FROM comments WHERE author_id = $1), '[]'),
             'reportsFiled', coalesce((SELECT json_agg(json_build_object('subjectKind', subject_kind,
                        'subjectId', subject_id, 'reason', reason, 'details', details,
                        'createdAt', created_at) ORDER BY id)
                      FROM reports WHERE reporter_id = $1), '[]'),
             'moderationNotices', coalesce((SELECT json_agg(json_build_object('action', action,
                        'subjectKind', subject_kind, 'subjectId', subject_id, 'reason', reason,
                        'at', at) ORDER BY id)
                      FROM moderation_log WHERE author_id = $1
                        AND action IN ('take_down', 'restore')), '[]')
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
        .route("/internal/posts/served", post(served))
        .route("/internal/posts/authors", post(authors))
        .route("/internal/posts/export", post(export))
        .with_state(db.clone())
        .merge(nova_core::personal_data::route(db, data_section));
    nova_core::internal::protected(routes, router_secret)
}

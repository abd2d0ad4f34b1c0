//! SQL of `nova_search`: its copy of the documents, hashtag uses and blocks.
//! Reads a request causes are counted through the `Db`; the consumer's and the
//! rebuild's work is not.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::engine::Document;

// ---- The consumer's writes (inside its transaction) ----

pub async fn upsert_username(
    tx: &mut PgConnection,
    user: Uuid,
    username: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (user_id, username) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET username = excluded.username, updated_at = now()",
    )
    .bind(user)
    .bind(username)
    .execute(tx)
    .await?;
    Ok(())
}

/// A profile change; a profile read before its account's registration waits
/// in the row with an empty username until the registration arrives.
pub async fn upsert_profile(
    tx: &mut PgConnection,
    user: Uuid,
    display_name: Option<&str>,
    bio: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (user_id, username, display_name, bio) VALUES ($1, '', $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, \
           bio = excluded.bio, updated_at = now()",
    )
    .bind(user)
    .bind(display_name)
    .bind(bio)
    .execute(tx)
    .await?;
    Ok(())
}

/// A new or edited post; a deleted one (tombstone) stays deleted.
pub async fn upsert_post(
    tx: &mut PgConnection,
    post: Uuid,
    author: Uuid,
    body: &str,
    hashtags: &[String],
    created_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let live: Option<bool> = sqlx::query_scalar(
        "INSERT INTO posts (post_id, author_id, body, hashtags, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (post_id) DO UPDATE SET body = excluded.body, hashtags = excluded.hashtags, \
           updated_at = now() WHERE NOT posts.deleted \
         RETURNING NOT deleted",
    )
    .bind(post)
    .bind(author)
    .bind(body)
    .bind(hashtags)
    .bind(created_at)
    .fetch_optional(&mut *tx)
    .await?;
    if live == Some(true) {
        sqlx::query("DELETE FROM post_tags WHERE post_id = $1")
            .bind(post)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO post_tags (tag, post_id, created_at) \
             SELECT DISTINCT lower(t), $2, $3 FROM unnest($1::text[]) t ON CONFLICT DO NOTHING",
        )
        .bind(hashtags)
        .bind(post)
        .bind(created_at)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

pub async fn tombstone_post(
    tx: &mut PgConnection,
    post: Uuid,
    author: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO posts (post_id, author_id, body, hashtags, created_at, deleted) \
         VALUES ($1, $2, '', '{}', now(), true) \
         ON CONFLICT (post_id) DO UPDATE SET deleted = true, body = '', hashtags = '{}', updated_at = now()",
    )
    .bind(post)
    .bind(author)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM post_tags WHERE post_id = $1")
        .bind(post)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn set_block(
    tx: &mut PgConnection,
    blocker: Uuid,
    blocked: Uuid,
    on: bool,
) -> Result<(), sqlx::Error> {
    let sql = if on {
        "INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2"
    };
    sqlx::query(sql)
        .bind(blocker)
        .bind(blocked)
        .execute(tx)
        .await?;
    Ok(())
}

// ---- Documents, from the committed state ----

type UserRow = (Uuid, String, Option<String>, String);
type PostRow = (Uuid, Uuid, String, Vec<String>, DateTime<Utc>);

fn user(row: UserRow) -> Document {
    Document::User {
        id: row.0,
        username: row.1,
        display_name: row.2,
        bio: row.3,
    }
}

fn post(row: PostRow) -> Document {
    Document::Post {
        id: row.0,
        author_id: row.1,
        body: row.2,
        hashtags: row.3,
        created_at: row.4,
    }
}

/// The user's document, if it can be indexed (its registration has arrived).
pub async fn user_document(pool: &PgPool, user_id: Uuid) -> Result<Option<Document>, sqlx::Error> {
    let row: Option<UserRow> = sqlx::query_as(
        "SELECT user_id, username, display_name, bio FROM users WHERE user_id = $1 AND username <> ''",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(user))
}

/// The post's document; `None` when unknown or deleted.
pub async fn post_document(pool: &PgPool, post_id: Uuid) -> Result<Option<Document>, sqlx::Error> {
    let row: Option<PostRow> = sqlx::query_as(
        "SELECT post_id, author_id, body, hashtags, created_at FROM posts WHERE post_id = $1 AND NOT deleted",
    )
    .bind(post_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(post))
}

/// Every indexable document changed at or after `since` (all with `None`), and
/// the posts deleted since then.
pub async fn documents_since(
    pool: &PgPool,
    since: Option<DateTime<Utc>>,
) -> Result<(Vec<Document>, Vec<Uuid>), sqlx::Error> {
    let users: Vec<UserRow> = sqlx::query_as(
        "SELECT user_id, username, display_name, bio FROM users \
         WHERE username <> '' AND ($1::timestamptz IS NULL OR updated_at >= $1)",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let posts: Vec<PostRow> = sqlx::query_as(
        "SELECT post_id, author_id, body, hashtags, created_at FROM posts \
         WHERE NOT deleted AND ($1::timestamptz IS NULL OR updated_at >= $1)",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let deleted: Vec<Uuid> = sqlx::query_scalar(
        "SELECT post_id FROM posts WHERE deleted AND ($1::timestamptz IS NULL OR updated_at >= $1)",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let documents = users
        .into_iter()
        .map(user)
        .chain(posts.into_iter().map(post))
        .collect();
    Ok((documents, deleted))
}

// ---- Reads a request causes (counted) ----

/// Users who blocked the viewer or whom the viewer blocked, among `users`.
pub async fn blocked_either_way(
    db: &Db,
    viewer: Uuid,
    users: &[Uuid],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT blocked_id FROM blocks WHERE blocker_id = $1 AND blocked_id = ANY($2) \
         UNION SELECT blocker_id FROM blocks WHERE blocked_id = $1 AND blocker_id = ANY($2)",
    )
    .bind(viewer)
    .bind(users)
    .fetch_all(db.statement())
    .await?;
    Ok(ids.into_iter().collect())
}

/// Hashtags starting with `prefix`, most used first: `(tag, live posts)`.
pub async fn hashtags_starting(
    db: &Db,
    prefix: &str,
    limit: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT tag, count(*) FROM post_tags WHERE starts_with(tag, $1) \
         GROUP BY tag ORDER BY count(*) DESC, tag LIMIT $2",
    )
    .bind(prefix)
    .bind(limit)
    .fetch_all(db.statement())
    .await
}

pub async fn hashtag_count(db: &Db, tag: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM post_tags WHERE tag = $1")
        .bind(tag)
        .fetch_one(db.statement())
        .await
}

/// Newest posts with `tag` before `before`: `(post, author)`.
pub async fn hashtag_posts(
    db: &Db,
    tag: &str,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.post_id, p.author_id FROM post_tags t JOIN posts p ON p.post_id = t.post_id \
         WHERE t.tag = $1 AND ($2::uuid IS NULL OR t.post_id < $2) ORDER BY t.post_id DESC LIMIT $3",
    )
    .bind(tag)
    .bind(before)
    .bind(limit)
    .fetch_all(db.statement())
    .await
}

/// The most used hashtags since `since`: `(tag, posts)`.
pub async fn trending(
    db: &Db,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT tag, count(*) FROM post_tags WHERE created_at >= $1 \
         GROUP BY tag ORDER BY count(*) DESC, tag LIMIT $2",
    )
    .bind(since)
    .bind(limit)
    .fetch_all(db.statement())
    .await
}

// ---- Backfill ----

//! SQL of `nova_search`: its copy of the documents and hashtag uses.
//! Reads a request causes are counted through the `Db`; the consumer's and the
//! rebuild's work is not.

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
    sqlx::query!(
        "INSERT INTO users (user_id, username) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET username = excluded.username, updated_at = now() \
         WHERE NOT users.deleted",
        user,
        username,
    )
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
    sqlx::query!(
        "INSERT INTO users (user_id, username, display_name, bio) VALUES ($1, '', $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, \
           bio = excluded.bio, updated_at = now() WHERE NOT users.deleted",
        user,
        display_name,
        bio,
    )
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
    let live = sqlx::query_scalar!(
        r#"INSERT INTO posts (post_id, author_id, body, hashtags, created_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (post_id) DO UPDATE SET body = excluded.body, hashtags = excluded.hashtags,
             updated_at = now() WHERE NOT posts.deleted
           RETURNING NOT deleted AS "live!""#,
        post,
        author,
        body,
        hashtags,
        created_at,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if live == Some(true) {
        sqlx::query!("DELETE FROM post_tags WHERE post_id = $1", post)
            .execute(&mut *tx)
            .await?;
        sqlx::query!(
            "INSERT INTO post_tags (tag, post_id, created_at) \
             SELECT DISTINCT lower(t), $2::uuid, $3::timestamptz FROM unnest($1::text[]) t ON CONFLICT DO NOTHING",
            hashtags,
            post,
            created_at,
        )
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
    sqlx::query!(
        "INSERT INTO posts (post_id, author_id, body, hashtags, created_at, deleted) \
         VALUES ($1, $2, '', '{}', now(), true) \
         ON CONFLICT (post_id) DO UPDATE SET deleted = true, body = '', hashtags = '{}', updated_at = now()",
        post,
        author,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM post_tags WHERE post_id = $1", post)
        .execute(tx)
        .await?;
    Ok(())
}

/// A deleted account: its user document becomes an empty tombstone (its id
/// only) and its posts tombstones of the nil author. Returns its posts, to leave the index with the user.
pub async fn erase_user(tx: &mut PgConnection, user: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query!(
        "INSERT INTO users (user_id, username, deleted) VALUES ($1, '', true) \
         ON CONFLICT (user_id) DO UPDATE SET username = '', display_name = NULL, bio = '', \
           deleted = true, updated_at = now()",
        user,
    )
    .execute(&mut *tx)
    .await?;
    let posts = sqlx::query_scalar!(
        "UPDATE posts SET deleted = true, body = '', hashtags = '{}', author_id = $2, \
           updated_at = now() WHERE author_id = $1 RETURNING post_id",
        user,
        Uuid::nil(),
    )
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM post_tags WHERE post_id = ANY($1)", &posts)
        .execute(&mut *tx)
        .await?;
    Ok(posts)
}

// ---- Documents, from the committed state ----

/// Every indexable document: what a fresh index is built from.
pub async fn all_documents(pool: &PgPool) -> Result<Vec<Document>, sqlx::Error> {
    let users =
        sqlx::query!("SELECT user_id, username, display_name, bio FROM users WHERE username <> ''")
            .fetch_all(pool)
            .await?;
    let posts = sqlx::query!(
        "SELECT post_id, author_id, body, hashtags, created_at FROM posts WHERE NOT deleted"
    )
    .fetch_all(pool)
    .await?;
    let users = users.into_iter().map(|row| Document::User {
        id: row.user_id,
        username: row.username,
        display_name: row.display_name,
        bio: row.bio,
    });
    let posts = posts.into_iter().map(|row| Document::Post {
        id: row.post_id,
        author_id: row.author_id,
        body: row.body,
        hashtags: row.hashtags,
        created_at: row.created_at,
    });
    Ok(users.chain(posts).collect())
}

// ---- The index queue (see migrations/search/0002_index_queue.sql) ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    User,
    Post,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Post => "post",
        }
    }
}

/// Mark a document out of date in `instance`'s index, inside the consumer's
/// transaction.
pub async fn enqueue(
    tx: &mut PgConnection,
    instance: &str,
    kind: Kind,
    id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO index_queue (instance, document_id, kind) VALUES ($1, $2, $3) \
         ON CONFLICT (instance, document_id) DO UPDATE SET version = index_queue.version + 1",
        instance,
        id,
        kind.as_str(),
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// A queued document as the tables hold it now: `document` is `None` when it
/// must leave the index (a deleted post) or cannot be indexed yet (a profile
/// whose registration has not arrived).
pub struct Queued {
    pub id: Uuid,
    pub version: i64,
    pub document: Option<Document>,
}

struct QueuedRow {
    document_id: Uuid,
    version: i64,
    username: Option<String>,
    display_name: Option<String>,
    bio: Option<String>,
    author_id: Option<Uuid>,
    body: Option<String>,
    hashtags: Option<Vec<String>>,
    created_at: Option<DateTime<Utc>>,
}

impl QueuedRow {
    fn into_queued(self) -> Queued {
        let id = self.document_id;
        let document = match (self.username, self.author_id, self.created_at) {
            (Some(username), _, _) => Some(Document::User {
                id,
                username,
                display_name: self.display_name,
                bio: self.bio.unwrap_or_default(),
            }),
            (None, Some(author_id), Some(created_at)) => Some(Document::Post {
                id,
                author_id,
                body: self.body.unwrap_or_default(),
                hashtags: self.hashtags.unwrap_or_default(),
                created_at,
            }),
            _ => None,
        };
        Queued {
            id,
            version: self.version,
            document,
        }
    }
}

/// Up to `limit` queued documents of `instance`, oldest first, read with their
/// rows in one statement (one snapshot).
pub async fn queued(pool: &PgPool, instance: &str, limit: i64) -> Result<Vec<Queued>, sqlx::Error> {
    let rows = sqlx::query_as!(
        QueuedRow,
        r#"SELECT q.document_id, q.version,
             u.username AS "username?", u.display_name, u.bio AS "bio?",
             p.author_id AS "author_id?", p.body AS "body?", p.hashtags AS "hashtags?",
             p.created_at AS "created_at?"
           FROM index_queue q
           LEFT JOIN users u ON q.kind = 'user' AND u.user_id = q.document_id AND u.username <> ''
           LEFT JOIN posts p ON q.kind = 'post' AND p.post_id = q.document_id AND NOT p.deleted
           WHERE q.instance = $1 ORDER BY q.queued_at LIMIT $2"#,
        instance,
        limit,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(QueuedRow::into_queued).collect())
}

/// Remove queued documents the index now holds, unless queued again since.
pub async fn dequeue(pool: &PgPool, instance: &str, written: &[Queued]) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = written.iter().map(|q| q.id).collect();
    let versions: Vec<i64> = written.iter().map(|q| q.version).collect();
    sqlx::query!(
        "DELETE FROM index_queue q USING unnest($2::uuid[], $3::bigint[]) AS w(id, version) \
         WHERE q.instance = $1 AND q.document_id = w.id AND q.version = w.version",
        instance,
        &ids,
        &versions,
    )
    .execute(pool)
    .await?;
    Ok(())
}

// ---- Reads a request causes (counted) ----

/// Hashtags starting with `initial`, most used first, at most `limit`: `(tag,
/// live posts)`. The candidates a typo-tolerant hashtag match picks from.
pub async fn hashtags_starting(
    db: &Db,
    initial: &str,
    limit: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT tag, post_count FROM hashtags WHERE post_count > 0 AND starts_with(tag, $1) \
         ORDER BY post_count DESC, tag LIMIT $2",
        initial,
        limit,
    )
    .fetch_all(db.statement())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.tag, row.post_count))
        .collect())
}

pub async fn hashtag_count(db: &Db, tag: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT coalesce((SELECT post_count FROM hashtags WHERE tag = $1), 0) AS "count!""#,
        tag
    )
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
    let rows = sqlx::query!(
        "SELECT t.post_id, p.author_id FROM post_tags t JOIN posts p ON p.post_id = t.post_id \
         WHERE t.tag = $1 AND ($2::uuid IS NULL OR t.post_id < $2) ORDER BY t.post_id DESC LIMIT $3",
        tag,
        before,
        limit,
    )
    .fetch_all(db.statement())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.post_id, row.author_id))
        .collect())
}

/// The most used hashtags since `since`: `(tag, posts)`.
pub async fn trending(
    db: &Db,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT tag, count(*) AS "count!" FROM post_tags WHERE created_at >= $1
           GROUP BY tag ORDER BY count(*) DESC, tag LIMIT $2"#,
        since,
        limit,
    )
    .fetch_all(db.statement())
    .await?;
    Ok(rows.into_iter().map(|row| (row.tag, row.count)).collect())
}

// ---- Backfill ----

//! SQL of `nova_content`. Every statement is counted through the `Db`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nova_core::connection::PageRequest;
use nova_core::db::Db;
use nova_core::events::envelope::{CommentCreated, PostCreated, PostDeleted, PostEdited};
use nova_core::events::{self, Event};
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct Post {
    pub id: Uuid,
    pub author_id: Uuid,
    pub body: String,
    pub hashtags: Vec<String>,
    pub mentions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct Comment {
    pub id: Uuid,
    pub post_id: Uuid,
    pub author_id: Uuid,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

const POST_COLUMNS: &str = "id, author_id, body, hashtags, mentions, created_at, edited_at";
const COMMENT_COLUMNS: &str = "id, post_id, author_id, body, created_at";

fn post(row: &PgRow) -> Result<Post, sqlx::Error> {
    Ok(Post {
        id: row.try_get("id")?,
        author_id: row.try_get("author_id")?,
        body: row.try_get("body")?,
        hashtags: row.try_get("hashtags")?,
        mentions: row.try_get("mentions")?,
        created_at: row.try_get("created_at")?,
        edited_at: row.try_get("edited_at")?,
    })
}

fn comment(row: &PgRow) -> Result<Comment, sqlx::Error> {
    Ok(Comment {
        id: row.try_get("id")?,
        post_id: row.try_get("post_id")?,
        author_id: row.try_get("author_id")?,
        body: row.try_get("body")?,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn create_post(db: &Db, post_row: &Post) -> Result<Post, sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let row = sqlx::query(&format!(
        "INSERT INTO posts (id, author_id, body, hashtags, mentions) VALUES ($1, $2, $3, $4, $5) \
         RETURNING {POST_COLUMNS}"
    ))
    .bind(post_row.id)
    .bind(post_row.author_id)
    .bind(&post_row.body)
    .bind(&post_row.hashtags)
    .bind(&post_row.mentions)
    .fetch_one(&mut *tx)
    .await?;
    db.count_statement();
    sqlx::query("INSERT INTO post_hashtags (tag, post_id) SELECT unnest($1::text[]), $2")
        .bind(&post_row.hashtags)
        .bind(post_row.id)
        .execute(&mut *tx)
        .await?;
    let created = post(&row)?;
    let event = Event::PostCreated(PostCreated {
        post_id: created.id,
        author_id: created.author_id,
        hashtags: created.hashtags.clone(),
        mentions: created.mentions.clone(),
        created_at: created.created_at,
        body: created.body.clone(),
    });
    events::enqueue(db, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(created)
}

/// Replace a post's body (and its tags); `None` when there is no such post.
pub async fn edit_post(
    db: &Db,
    id: Uuid,
    body: &str,
    hashtags: &[String],
    mentions: &[String],
) -> Result<Option<Post>, sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let row = sqlx::query(&format!(
        "UPDATE posts SET body = $2, hashtags = $3, mentions = $4, edited_at = now() \
         WHERE id = $1 RETURNING {POST_COLUMNS}"
    ))
    .bind(id)
    .bind(body)
    .bind(hashtags)
    .bind(mentions)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    db.count_statement();
    sqlx::query("DELETE FROM post_hashtags WHERE post_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    db.count_statement();
    sqlx::query("INSERT INTO post_hashtags (tag, post_id) SELECT unnest($1::text[]), $2")
        .bind(hashtags)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let edited = post(&row)?;
    let event = Event::PostEdited(PostEdited {
        post_id: edited.id,
        author_id: edited.author_id,
        body: edited.body.clone(),
        hashtags: edited.hashtags.clone(),
        edited_at: edited.edited_at.unwrap_or(edited.created_at),
    });
    events::enqueue(db, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(Some(edited))
}

/// Delete a post; its comments and tags go with it (ON DELETE CASCADE).
pub async fn delete_post(db: &Db, id: Uuid) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let author_id: Option<Uuid> =
        sqlx::query_scalar("DELETE FROM posts WHERE id = $1 RETURNING author_id")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(author_id) = author_id else {
        return Ok(false);
    };
    let event = Event::PostDeleted(PostDeleted {
        post_id: id,
        author_id,
    });
    events::enqueue(db, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(true)
}

/// Which of `ids` are posts that exist now.
pub async fn existing_posts(db: &Db, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM posts WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(db.statement())
        .await
}

/// Posts after `after`, oldest first (ids are UUIDv7, so id order is time
/// order): one page of a read model's backfill. Background work for another
/// service: not counted.
pub async fn export_posts(
    db: &Db,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Post>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {POST_COLUMNS} FROM posts WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(db.background_pool())
    .await?;
    rows.iter().map(post).collect()
}

pub async fn posts_by_ids(db: &Db, ids: &[Uuid]) -> Result<Vec<Post>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {POST_COLUMNS} FROM posts WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(db.statement())
    .await?;
    rows.iter().map(post).collect()
}

/// Newest first, for many authors in one statement.
pub async fn posts_by_authors(
    db: &Db,
    author_ids: &[Uuid],
    page: PageRequest,
) -> Result<HashMap<Uuid, Vec<Post>>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT p.* FROM unnest($1::uuid[]) AS parent (id) CROSS JOIN LATERAL ( \
           SELECT {POST_COLUMNS} FROM posts \
           WHERE author_id = parent.id AND ($2::uuid IS NULL OR id < $2) \
           ORDER BY id DESC LIMIT $3) p"
    ))
    .bind(author_ids)
    .bind(page.after)
    .bind(page.limit())
    .fetch_all(db.statement())
    .await?;
    let mut pages: HashMap<Uuid, Vec<Post>> = HashMap::new();
    for row in &rows {
        let post = post(row)?;
        pages.entry(post.author_id).or_default().push(post);
    }
    Ok(pages)
}

pub async fn posts_by_hashtag(
    db: &Db,
    tag: &str,
    page: PageRequest,
) -> Result<Vec<Post>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.id, p.author_id, p.body, p.hashtags, p.mentions, p.created_at, p.edited_at \
         FROM post_hashtags t JOIN posts p ON p.id = t.post_id \
         WHERE t.tag = $1 AND ($2::uuid IS NULL OR t.post_id < $2) \
         ORDER BY t.post_id DESC LIMIT $3",
    )
    .bind(tag)
    .bind(page.after)
    .bind(page.limit())
    .fetch_all(db.statement())
    .await?;
    rows.iter().map(post).collect()
}

/// Add a comment; `None` when the post does not exist.
pub async fn add_comment(db: &Db, c: &Comment) -> Result<Option<Comment>, sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let row = sqlx::query(&format!(
        "INSERT INTO comments (id, post_id, author_id, body) \
         SELECT $1, $2, $3, $4 FROM posts WHERE id = $2 \
         RETURNING {COMMENT_COLUMNS}, \
         (SELECT author_id FROM posts WHERE id = $2) AS post_author_id"
    ))
    .bind(c.id)
    .bind(c.post_id)
    .bind(c.author_id)
    .bind(&c.body)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let added = comment(&row)?;
    let event = Event::CommentCreated(CommentCreated {
        comment_id: added.id,
        post_id: added.post_id,
        post_author_id: row.try_get("post_author_id")?,
        author_id: added.author_id,
    });
    events::enqueue(db, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(Some(added))
}

pub async fn comment_by_id(db: &Db, id: Uuid) -> Result<Option<Comment>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COMMENT_COLUMNS} FROM comments WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.statement())
    .await?;
    row.as_ref().map(comment).transpose()
}

pub async fn delete_comment(db: &Db, id: Uuid) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("DELETE FROM comments WHERE id = $1")
        .bind(id)
        .execute(db.statement())
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Oldest first, for many posts in one statement.
pub async fn comments_by_posts(
    db: &Db,
    post_ids: &[Uuid],
    page: PageRequest,
) -> Result<HashMap<Uuid, Vec<Comment>>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT c.* FROM unnest($1::uuid[]) AS parent (id) CROSS JOIN LATERAL ( \
           SELECT {COMMENT_COLUMNS} FROM comments \
           WHERE post_id = parent.id AND ($2::uuid IS NULL OR id > $2) \
           ORDER BY id ASC LIMIT $3) c"
    ))
    .bind(post_ids)
    .bind(page.after)
    .bind(page.limit())
    .fetch_all(db.statement())
    .await?;
    let mut pages: HashMap<Uuid, Vec<Comment>> = HashMap::new();
    for row in &rows {
        let comment = comment(row)?;
        pages.entry(comment.post_id).or_default().push(comment);
    }
    Ok(pages)
}

/// Comment counts for many posts in one statement.
pub async fn comment_counts(db: &Db, post_ids: &[Uuid]) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT post_id, count(*) AS n FROM comments WHERE post_id = ANY($1) GROUP BY post_id",
    )
    .bind(post_ids)
    .fetch_all(db.statement())
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("post_id")?, row.try_get("n")?)))
        .collect()
}

//! SQL of `nova_content`. Every statement is counted through the `Db`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nova_core::connection::PageRequest;
use nova_core::db::Db;
use nova_core::events::envelope::{CommentCreated, PostCreated, PostDeleted, PostEdited};
use nova_core::events::{self, Event};
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
    pub media_ids: Vec<Uuid>,
}

#[derive(Clone, Debug)]
pub struct Comment {
    pub id: Uuid,
    pub post_id: Uuid,
    pub author_id: Uuid,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Publish a post; its event names the accounts it mentions
/// (`mentioned_ids`), never its text.
pub async fn create_post(
    db: &Db,
    post_row: &Post,
    mentioned_ids: &[Uuid],
) -> Result<Post, sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let created = sqlx::query_as!(
        Post,
        "INSERT INTO posts (id, author_id, body, hashtags, mentions, media_ids) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, author_id, body, hashtags, mentions, created_at, edited_at, media_ids",
        post_row.id,
        post_row.author_id,
        post_row.body,
        &post_row.hashtags,
        &post_row.mentions,
        &post_row.media_ids,
    )
    .fetch_one(&mut *tx)
    .await?;
    db.count_statement();
    sqlx::query!(
        "INSERT INTO post_hashtags (tag, post_id) SELECT unnest($1::text[]), $2",
        &post_row.hashtags,
        post_row.id,
    )
    .execute(&mut *tx)
    .await?;
    let event = Event::PostCreated(PostCreated {
        post_id: created.id,
        author_id: created.author_id,
        created_at: created.created_at,
        mentioned_ids: mentioned_ids.to_vec(),
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
    let edited = sqlx::query_as!(
        Post,
        "UPDATE posts SET body = $2, hashtags = $3, mentions = $4, edited_at = now() \
         WHERE id = $1 AND taken_down_at IS NULL \
         RETURNING id, author_id, body, hashtags, mentions, created_at, edited_at, media_ids",
        id,
        body,
        hashtags,
        mentions,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(edited) = edited else {
        return Ok(None);
    };
    db.count_statement();
    sqlx::query!("DELETE FROM post_hashtags WHERE post_id = $1", id)
        .execute(&mut *tx)
        .await?;
    db.count_statement();
    sqlx::query!(
        "INSERT INTO post_hashtags (tag, post_id) SELECT unnest($1::text[]), $2",
        hashtags,
        id,
    )
    .execute(&mut *tx)
    .await?;
    let event = Event::PostEdited(PostEdited {
        post_id: edited.id,
        author_id: edited.author_id,
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
    let author_id = sqlx::query_scalar!("DELETE FROM posts WHERE id = $1 RETURNING author_id", id)
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
    sqlx::query_scalar!(
        "SELECT id FROM posts WHERE id = ANY($1) AND taken_down_at IS NULL",
        ids
    )
    .fetch_all(db.statement())
    .await
}

/// (post, author) of those of `ids` that exist.
pub async fn post_authors(db: &Db, ids: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, author_id FROM posts WHERE id = ANY($1) AND taken_down_at IS NULL",
        ids
    )
    .fetch_all(db.statement())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.id, row.author_id))
        .collect())
}

/// Posts after `after`, oldest first (ids are UUIDv7, so id order is time
/// order): one page of a read model's backfill. Background work for another
/// service: not counted.
pub async fn export_posts(
    db: &Db,
    after: Option<Uuid>,
    limit: i64,
    ids: Option<&[Uuid]>,
) -> Result<Vec<Post>, sqlx::Error> {
    sqlx::query_as!(
        Post,
        "SELECT id, author_id, body, hashtags, mentions, created_at, edited_at, media_ids FROM posts \
         WHERE ($1::uuid IS NULL OR id > $1) AND ($3::uuid[] IS NULL OR id = ANY($3)) \
           AND taken_down_at IS NULL ORDER BY id LIMIT $2",
        after,
        limit,
        ids,
    )
    .fetch_all(db.background_pool())
    .await
}

pub async fn posts_by_ids(db: &Db, ids: &[Uuid]) -> Result<Vec<Post>, sqlx::Error> {
    sqlx::query_as!(
        Post,
        "SELECT id, author_id, body, hashtags, mentions, created_at, edited_at, media_ids FROM posts \
         WHERE id = ANY($1) AND taken_down_at IS NULL",
        ids
    )
    .fetch_all(db.statement())
    .await
}

/// Newest first, for many authors in one statement.
pub async fn posts_by_authors(
    db: &Db,
    author_ids: &[Uuid],
    page: PageRequest,
) -> Result<HashMap<Uuid, Vec<Post>>, sqlx::Error> {
    let posts = sqlx::query_as!(
        Post,
        r#"SELECT p.id AS "id!", p.author_id AS "author_id!", p.body AS "body!",
                  p.hashtags AS "hashtags!", p.mentions AS "mentions!",
                  p.created_at AS "created_at!", p.edited_at, p.media_ids AS "media_ids!"
           FROM unnest($1::uuid[]) AS parent (id) CROSS JOIN LATERAL (
             SELECT id, author_id, body, hashtags, mentions, created_at, edited_at, media_ids FROM posts
             WHERE author_id = parent.id AND ($2::uuid IS NULL OR id < $2)
               AND taken_down_at IS NULL
             ORDER BY id DESC LIMIT $3) p"#,
        author_ids,
        page.after,
        page.limit(),
    )
    .fetch_all(db.statement())
    .await?;
    let mut pages: HashMap<Uuid, Vec<Post>> = HashMap::new();
    for post in posts {
        pages.entry(post.author_id).or_default().push(post);
    }
    Ok(pages)
}

pub async fn posts_by_hashtag(
    db: &Db,
    tag: &str,
    page: PageRequest,
) -> Result<Vec<Post>, sqlx::Error> {
    sqlx::query_as!(
        Post,
        "SELECT p.id, p.author_id, p.body, p.hashtags, p.mentions, p.created_at, p.edited_at, p.media_ids \
         FROM post_hashtags t JOIN posts p ON p.id = t.post_id \
         WHERE t.tag = $1 AND ($2::uuid IS NULL OR t.post_id < $2) AND p.taken_down_at IS NULL \
         ORDER BY t.post_id DESC LIMIT $3",
        tag,
        page.after,
        page.limit(),
    )
    .fetch_all(db.statement())
    .await
}

/// Add a comment; `None` when the post does not exist.
pub async fn add_comment(db: &Db, c: &Comment) -> Result<Option<Comment>, sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let row = sqlx::query!(
        r#"INSERT INTO comments (id, post_id, author_id, body)
           SELECT $1, $2, $3, $4 FROM posts WHERE id = $2 AND taken_down_at IS NULL
           RETURNING id, post_id, author_id, body, created_at,
             (SELECT author_id FROM posts WHERE id = $2) AS "post_author_id!""#,
        c.id,
        c.post_id,
        c.author_id,
        c.body,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let added = Comment {
        id: row.id,
        post_id: row.post_id,
        author_id: row.author_id,
        body: row.body,
        created_at: row.created_at,
    };
    let event = Event::CommentCreated(CommentCreated {
        comment_id: added.id,
        post_id: added.post_id,
        post_author_id: row.post_author_id,
        author_id: added.author_id,
    });
    events::enqueue(db, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(Some(added))
}

pub async fn comment_by_id(db: &Db, id: Uuid) -> Result<Option<Comment>, sqlx::Error> {
    sqlx::query_as!(
        Comment,
        "SELECT id, post_id, author_id, body, created_at FROM comments \
         WHERE id = $1 AND taken_down_at IS NULL",
        id
    )
    .fetch_optional(db.statement())
    .await
}

/// One statement for any number of ids (the DataLoader's batch).
pub async fn comments_by_ids(db: &Db, ids: &[Uuid]) -> Result<Vec<Comment>, sqlx::Error> {
    sqlx::query_as!(
        Comment,
        "SELECT id, post_id, author_id, body, created_at FROM comments \
         WHERE id = ANY($1) AND taken_down_at IS NULL",
        ids
    )
    .fetch_all(db.statement())
    .await
}

/// Delete a comment and say so (`content.comment_deleted`, for analytics'
/// counts), in one transaction; false when there was none.
pub async fn delete_comment(db: &Db, id: Uuid) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let row = sqlx::query!(
        r#"DELETE FROM comments c USING posts p WHERE c.id = $1 AND p.id = c.post_id
           RETURNING c.post_id, c.author_id, p.author_id AS post_author_id"#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let event = Event::CommentDeleted(CommentCreated {
        comment_id: id,
        post_id: row.post_id,
        post_author_id: row.post_author_id,
        author_id: row.author_id,
    });
    events::enqueue(db, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(true)
}

/// Oldest first, for many posts in one statement.
pub async fn comments_by_posts(
    db: &Db,
    post_ids: &[Uuid],
    page: PageRequest,
) -> Result<HashMap<Uuid, Vec<Comment>>, sqlx::Error> {
    let comments = sqlx::query_as!(
        Comment,
        r#"SELECT c.id AS "id!", c.post_id AS "post_id!", c.author_id AS "author_id!",
                  c.body AS "body!", c.created_at AS "created_at!"
           FROM unnest($1::uuid[]) AS parent (id) CROSS JOIN LATERAL (
             SELECT id, post_id, author_id, body, created_at FROM comments
             WHERE post_id = parent.id AND ($2::uuid IS NULL OR id > $2)
               AND taken_down_at IS NULL
             ORDER BY id ASC LIMIT $3) c"#,
        post_ids,
        page.after,
        page.limit(),
    )
    .fetch_all(db.statement())
    .await?;
    let mut pages: HashMap<Uuid, Vec<Comment>> = HashMap::new();
    for comment in comments {
        pages.entry(comment.post_id).or_default().push(comment);
    }
    Ok(pages)
}

/// Comment counts for many posts in one statement.
pub async fn comment_counts(db: &Db, post_ids: &[Uuid]) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT post_id, count(*) AS "count!" FROM comments
           WHERE post_id = ANY($1) AND taken_down_at IS NULL GROUP BY post_id"#,
        post_ids
    )
    .fetch_all(db.statement())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.post_id, row.count))
        .collect())
}

//! SQL of `nova_feed`. Reads a request causes are counted through the `Db`;
//! the consumer's writes and reads (background work) are not.
//!
//! One rule decides what a viewer's feed may show: the viewer's own posts, and
//! posts of accounts the viewer follows that neither blocked the other and the
//! viewer did not mute. The second half is written once, as the view
//! `followed_visible` (`migrations/feed/0002_followed_visible.sql`); fan-out,
//! rebuilds and every page below apply it as
//! `p.author_id = <viewer> OR EXISTS (SELECT 1 FROM followed_visible v …)`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

// ---- The consumer's writes (inside its transaction) ----

pub async fn record_post(
    tx: &mut PgConnection,
    post: Uuid,
    author: Uuid,
    created_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO posts (post_id, author_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
        post,
        author,
        created_at,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Mark a post deleted; a deletion read before its creation leaves the
/// tombstone the creation then cannot overwrite.
pub async fn tombstone_post(
    tx: &mut PgConnection,
    post: Uuid,
    author: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO posts (post_id, author_id, created_at, deleted) VALUES ($1, $2, now(), true) \
         ON CONFLICT (post_id) DO UPDATE SET deleted = true",
        post,
        author,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Add a follow and count it for the followee.
pub async fn add_follow(
    tx: &mut PgConnection,
    follower: Uuid,
    followee: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "WITH added AS (INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2) \
                        ON CONFLICT DO NOTHING RETURNING followee_id) \
         INSERT INTO authors (user_id, follower_count) SELECT followee_id, 1 FROM added \
         ON CONFLICT (user_id) DO UPDATE SET follower_count = authors.follower_count + 1",
        follower,
        followee,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Remove a follow and uncount it.
pub async fn remove_follow(
    tx: &mut PgConnection,
    follower: Uuid,
    followee: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "WITH removed AS (DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2 \
                          RETURNING followee_id) \
         UPDATE authors SET follower_count = follower_count - 1 \
         WHERE user_id IN (SELECT followee_id FROM removed)",
        follower,
        followee,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Record a block; like social, it ends the follows between the two.
pub async fn add_block(
    tx: &mut PgConnection,
    blocker: Uuid,
    blocked: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        blocker,
        blocked,
    )
    .execute(&mut *tx)
    .await?;
    remove_follow(tx, blocker, blocked).await?;
    remove_follow(tx, blocked, blocker).await
}

pub async fn remove_block(
    tx: &mut PgConnection,
    blocker: Uuid,
    blocked: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2",
        blocker,
        blocked,
    )
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn add_mute(tx: &mut PgConnection, muter: Uuid, muted: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO mutes (muter_id, muted_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        muter,
        muted,
    )
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn remove_mute(
    tx: &mut PgConnection,
    muter: Uuid,
    muted: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM mutes WHERE muter_id = $1 AND muted_id = $2",
        muter,
        muted,
    )
    .execute(tx)
    .await?;
    Ok(())
}

// ---- The consumer's reads for its external effects (committed state) ----

/// Who a new post goes to, read from the committed state.
pub struct FanOut {
    pub author: Uuid,
    /// The author has at least the fan-out limit of followers: their posts are
    /// merged at read time, not written into timelines.
    pub above_limit: bool,
    /// Followers active within the window who may see the author's posts.
    pub followers: Vec<Uuid>,
}

/// `None` when the post is unknown or deleted (a redelivered creation of a
/// post deleted since fans out nothing).
pub async fn fan_out(
    pool: &PgPool,
    post: Uuid,
    fan_out_limit: i64,
    inactive_days: i64,
) -> Result<Option<FanOut>, sqlx::Error> {
    let author = sqlx::query_scalar!(
        "SELECT author_id FROM posts WHERE post_id = $1 AND NOT deleted",
        post
    )
    .fetch_optional(pool)
    .await?;
    let Some(author) = author else {
        return Ok(None);
    };
    let follower_count = sqlx::query_scalar!(
        r#"SELECT coalesce((SELECT follower_count FROM authors WHERE user_id = $1), 0)::bigint
           AS "count!""#,
        author
    )
    .fetch_one(pool)
    .await?;
    // The visibility rule with each follower as the viewer (an author does not
    // follow themselves, so the own-posts half never applies).
    let followers = sqlx::query_scalar!(
        r#"SELECT v.viewer_id AS "viewer_id!" FROM followed_visible v
           JOIN readers r ON r.user_id = v.viewer_id
                AND r.last_read_at > now() - make_interval(days => $2)
           WHERE v.author_id = $1"#,
        author,
        i32::try_from(inactive_days).unwrap_or(i32::MAX),
    )
    .fetch_all(pool)
    .await?;
    Ok(Some(FanOut {
        author,
        above_limit: follower_count >= fan_out_limit,
        followers,
    }))
}

/// Everyone following `author` (a deleted post leaves all their timelines).
pub async fn followers(pool: &PgPool, author: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT follower_id FROM follows WHERE followee_id = $1",
        author
    )
    .fetch_all(pool)
    .await
}

/// Whether `viewer` may see `author`'s posts now, by the visibility rule.
pub async fn may_see(pool: &PgPool, viewer: Uuid, author: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT ($2::uuid = $1::uuid OR EXISTS (SELECT 1 FROM followed_visible v
                                                WHERE v.viewer_id = $1 AND v.author_id = $2))
           AS "may_see!""#,
        viewer,
        author,
    )
    .fetch_one(pool)
    .await
}

/// `author`'s newest posts for `viewer`'s timeline, if the viewer may see them
/// and the author is below the fan-out limit (above it, reads merge them).
pub async fn posts_to_backfill(
    pool: &PgPool,
    viewer: Uuid,
    author: Uuid,
    fan_out_limit: i64,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT p.post_id FROM posts p \
         WHERE p.author_id = $2 AND NOT p.deleted \
           AND (p.author_id = $1 OR EXISTS (SELECT 1 FROM followed_visible v \
                                           WHERE v.viewer_id = $1 AND v.author_id = p.author_id)) \
           AND coalesce((SELECT follower_count FROM authors WHERE user_id = $2), 0) < $3::bigint \
         ORDER BY p.post_id DESC LIMIT $4",
        viewer,
        author,
        fan_out_limit,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// Which of `posts` were written by one of `authors`.
pub async fn posts_by_authors_among(
    pool: &PgPool,
    posts: &[Uuid],
    authors: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT post_id FROM posts WHERE post_id = ANY($1) AND author_id = ANY($2)",
        posts,
        authors,
    )
    .fetch_all(pool)
    .await
}

// ---- Reads a feed request causes (counted) ----

/// Record that `viewer` opened the feed now; returns when they did before
/// (`None` the first time). Written at most once a minute per viewer; in
/// between the statement only reads (the insert gets no row, so it takes no
/// row lock and its commit has nothing to flush — an `ON CONFLICT` that
/// finds the row would lock it even when its `WHERE` then skips the update).
pub async fn touch_reader(db: &Db, viewer: Uuid) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        "WITH before AS (SELECT last_read_at FROM readers WHERE user_id = $1), \
              touched AS (INSERT INTO readers (user_id, last_read_at) \
                          SELECT $1, now() WHERE NOT EXISTS \
                            (SELECT 1 FROM before WHERE last_read_at >= now() - interval '1 minute') \
                          ON CONFLICT (user_id) DO UPDATE SET last_read_at = now() \
                          WHERE readers.last_read_at < now() - interval '1 minute') \
         SELECT (SELECT last_read_at FROM before)",
        viewer
    )
    .fetch_one(db.statement())
    .await
}

/// What a rebuilt timeline holds: the newest `limit` posts the viewer may see
/// from the viewer and the accounts below the fan-out limit they follow.
pub async fn timeline_source(
    db: &Db,
    viewer: Uuid,
    fan_out_limit: i64,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT p.post_id FROM posts p \
         WHERE NOT p.deleted \
           AND (p.author_id = $1 OR EXISTS (SELECT 1 FROM followed_visible v \
                                           WHERE v.viewer_id = $1 AND v.author_id = p.author_id)) \
           AND (p.author_id = $1 OR coalesce((SELECT follower_count FROM authors a \
                                              WHERE a.user_id = p.author_id), 0) < $2::bigint) \
         ORDER BY p.post_id DESC LIMIT $3",
        viewer,
        fan_out_limit,
        limit,
    )
    .fetch_all(db.statement())
    .await
}

/// The newest posts before `before` of the followed accounts at or above the
/// fan-out limit (merged into pages at read time), newest first.
pub async fn posts_of_followed_above_limit(
    db: &Db,
    viewer: Uuid,
    fan_out_limit: i64,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT p.post_id AS "post_id!" FROM follows f
         JOIN authors a ON a.user_id = f.followee_id AND a.follower_count >= $2::bigint
         CROSS JOIN LATERAL (SELECT post_id FROM posts
                             WHERE author_id = f.followee_id AND NOT deleted
                               AND ($3::uuid IS NULL OR post_id < $3)
                             ORDER BY post_id DESC LIMIT $4) p
         WHERE f.follower_id = $1 ORDER BY p.post_id DESC LIMIT $4"#,
        viewer,
        fan_out_limit,
        before,
        limit,
    )
    .fetch_all(db.statement())
    .await
}

/// Which of `posts` the viewer may see now (not deleted, by the visibility rule): the
/// read-time check that makes Redis a cache of candidates, never the rule.
pub async fn visible(
    db: &Db,
    viewer: Uuid,
    posts: &[Uuid],
) -> Result<HashMap<Uuid, Uuid>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT p.post_id, p.author_id FROM posts p WHERE p.post_id = ANY($2) AND NOT p.deleted \
           AND (p.author_id = $1 OR EXISTS (SELECT 1 FROM followed_visible v \
                                           WHERE v.viewer_id = $1 AND v.author_id = p.author_id))",
        viewer,
        posts,
    )
    .fetch_all(db.statement())
    .await?;
    Ok(rows.into_iter().map(|r| (r.post_id, r.author_id)).collect())
}

mod backfill;
pub mod erasure;

pub use backfill::*;

//! The backfill's writes: owners' exports copied into the feed's tables.
//! Background work: not counted.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// Insert exported pairs of `relation` (`follows`, `blocks` or `mutes`).
pub async fn insert_pairs(
    pool: &PgPool,
    relation: &str,
    first: &[Uuid],
    second: &[Uuid],
) -> Result<(), sqlx::Error> {
    // One statement per table: a table name cannot be a parameter.
    let statement = match relation {
        "follows" => sqlx::query!(
            "INSERT INTO follows (follower_id, followee_id) \
             SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING",
            first,
            second,
        ),
        "blocks" => sqlx::query!(
            "INSERT INTO blocks (blocker_id, blocked_id) \
             SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING",
            first,
            second,
        ),
        "mutes" => sqlx::query!(
            "INSERT INTO mutes (muter_id, muted_id) \
             SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING",
            first,
            second,
        ),
        other => return Err(sqlx::Error::Protocol(format!("unknown relation {other}"))),
    };
    statement.execute(pool).await?;
    Ok(())
}

/// Insert exported posts (existing rows, tombstones included, stay as they are).
pub async fn insert_posts(
    pool: &PgPool,
    ids: &[Uuid],
    authors: &[Uuid],
    created: &[DateTime<Utc>],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO posts (post_id, author_id, created_at) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) ON CONFLICT DO NOTHING",
        ids,
        authors,
        created,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Recount every author's followers from `follows` (after a backfill).
pub async fn recount_followers(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO authors (user_id, follower_count) \
         SELECT followee_id, count(*) FROM follows GROUP BY followee_id \
         ON CONFLICT (user_id) DO UPDATE SET follower_count = excluded.follower_count",
    )
    .execute(pool)
    .await?;
    Ok(())
}

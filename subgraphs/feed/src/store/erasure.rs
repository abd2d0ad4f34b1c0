//! A deleted account's rows in feed's tables (docs/deletion.md).

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// What the Redis side of an erasure still has to do.
pub struct PendingErasure {
    pub followers: Vec<Uuid>,
    pub posts: Vec<Uuid>,
}

/// Note the user's followers and posts in `erasures`, then remove the user's
/// follows (both ways, with the follower counts of those it followed), blocks,
/// mutes and reading time, and mark its posts deleted with the nil author (a
/// late `post_created` cannot bring one back).
pub async fn erase_user(tx: &mut PgConnection, user: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO erasures (user_id, followers, posts)
           SELECT $1,
                  coalesce((SELECT array_agg(follower_id) FROM follows WHERE followee_id = $1), '{}'),
                  coalesce((SELECT array_agg(post_id) FROM posts WHERE author_id = $1), '{}')
           ON CONFLICT (user_id) DO NOTHING"#,
        user
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE authors SET follower_count = follower_count - 1 \
         WHERE user_id IN (SELECT followee_id FROM follows WHERE follower_id = $1)",
        user
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM follows WHERE follower_id = $1 OR followee_id = $1",
        user
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM authors WHERE user_id = $1", user)
        .execute(&mut *tx)
        .await?;
    // Tombstones that name nobody (the nil author).
    sqlx::query!(
        "UPDATE posts SET deleted = true, author_id = $2 WHERE author_id = $1",
        user,
        Uuid::nil(),
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM blocks WHERE blocker_id = $1 OR blocked_id = $1",
        user
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM mutes WHERE muter_id = $1 OR muted_id = $1",
        user
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM readers WHERE user_id = $1", user)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub async fn pending_erasure(
    pool: &PgPool,
    user: Uuid,
) -> Result<Option<PendingErasure>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT followers, posts FROM erasures WHERE user_id = $1",
        user
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| PendingErasure {
        followers: row.followers,
        posts: row.posts,
    }))
}

pub async fn erasure_done(pool: &PgPool, user: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM erasures WHERE user_id = $1", user)
        .execute(pool)
        .await?;
    Ok(())
}

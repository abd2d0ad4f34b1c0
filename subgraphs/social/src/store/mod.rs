//! SQL of `nova_social`. Every statement is counted through the `Db`: the writes
//! (follows, blocks, mutes, likes) here, what they are read back as in `reads.rs`.

use nova_core::db::Db;
use nova_core::events::envelope::{Block, Follow, Mute, PostLiked};
use nova_core::events::{self, Event};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::Postgres;
use uuid::Uuid;

#[derive(Debug, PartialEq, Eq)]
pub enum FollowOutcome {
    /// Now following (or already was: following is idempotent).
    Following,
    /// One of the two blocked the other.
    Blocked,
}

pub async fn follow(db: &Db, follower: Uuid, followee: Uuid) -> Result<FollowOutcome, sqlx::Error> {
    let followed = Event::Followed(Follow {
        follower_id: follower,
        followee_id: followee,
    });
    let mut tx = db.begin().await?;
    lock_pair(db, &mut tx, follower, followee).await?;
    // Not while either of the two has blocked the other. Under the pair's lock
    // this statement sees any block made before it, and a block made after it
    // finds this follow and removes it.
    db.count_statement();
    let inserted = sqlx::query!(
        "INSERT INTO follows (follower_id, followee_id, id) SELECT $1, $2, $3 \
         WHERE NOT EXISTS (SELECT 1 FROM blocks WHERE \
             (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)) \
         ON CONFLICT DO NOTHING",
        follower,
        followee,
        Uuid::now_v7(),
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        events::enqueue(db, &mut tx, &followed).await?;
    }
    tx.commit().await?;
    // Nothing inserted: already following, or blocked.
    if !inserted
        && !blocked_either_way(db, follower, &[followee])
            .await?
            .is_empty()
    {
        return Ok(FollowOutcome::Blocked);
    }
    Ok(FollowOutcome::Following)
}

/// Take the transaction-scoped lock of the pair {a, b} (either order): a follow
/// and a block of the same two people take turns, so under READ COMMITTED
/// neither can miss the other (a follow racing a block never survives it).
async fn lock_pair(
    db: &Db,
    tx: &mut sqlx::PgConnection,
    a: Uuid,
    b: Uuid,
) -> Result<(), sqlx::Error> {
    db.count_statement();
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended( \
             LEAST($1::uuid, $2::uuid)::text || GREATEST($1::uuid, $2::uuid)::text, 0))",
        a,
        b
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One statement and, when it changed a row, its event, in one transaction.
/// Returns whether it changed a row: a repeated follow or like changes nothing and
/// tells nobody.
async fn change_with_event(
    db: &Db,
    statement: Query<'_, Postgres, PgArguments>,
    event: &Event,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let changed = statement.execute(&mut *tx).await?.rows_affected() > 0;
    if changed {
        events::enqueue(db, &mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

pub async fn unfollow(db: &Db, follower: Uuid, followee: Uuid) -> Result<(), sqlx::Error> {
    let unfollowed = Event::Unfollowed(Follow {
        follower_id: follower,
        followee_id: followee,
    });
    let delete = sqlx::query!(
        "DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2",
        follower,
        followee,
    );
    change_with_event(db, delete, &unfollowed).await?;
    Ok(())
}

/// Block, and drop the follows and likes between the two in both directions.
pub async fn block(db: &Db, blocker: Uuid, blocked: Uuid) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    lock_pair(db, &mut tx, blocker, blocked).await?;
    db.count_statement();
    let new_block = sqlx::query!(
        "INSERT INTO blocks (id, blocker_id, blocked_id) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
        Uuid::now_v7(),
        blocker,
        blocked,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    db.count_statement();
    sqlx::query!(
        "DELETE FROM follows WHERE (follower_id = $1 AND followee_id = $2) \
         OR (follower_id = $2 AND followee_id = $1)",
        blocker,
        blocked,
    )
    .execute(&mut *tx)
    .await?;
    // Likes between the two go with the block, either way.
    db.count_statement();
    sqlx::query!(
        "DELETE FROM likes WHERE (user_id = $1 AND post_author_id = $2) \
         OR (user_id = $2 AND post_author_id = $1)",
        blocker,
        blocked,
    )
    .execute(&mut *tx)
    .await?;
    if new_block {
        let event = Event::Blocked(Block {
            blocker_id: blocker,
            blocked_id: blocked,
        });
        events::enqueue(db, &mut tx, &event).await?;
    }
    tx.commit().await
}

pub async fn unblock(db: &Db, blocker: Uuid, blocked: Uuid) -> Result<(), sqlx::Error> {
    let unblocked = Event::Unblocked(Block {
        blocker_id: blocker,
        blocked_id: blocked,
    });
    let statement = sqlx::query!(
        "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2",
        blocker,
        blocked
    );
    change_with_event(db, statement, &unblocked).await?;
    Ok(())
}

pub async fn mute(db: &Db, muter: Uuid, muted: Uuid) -> Result<(), sqlx::Error> {
    let event = Event::Muted(Mute {
        muter_id: muter,
        muted_id: muted,
    });
    let statement = sqlx::query!(
        "INSERT INTO mutes (id, muter_id, muted_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        Uuid::now_v7(),
        muter,
        muted
    );
    change_with_event(db, statement, &event).await?;
    Ok(())
}

pub async fn unmute(db: &Db, muter: Uuid, muted: Uuid) -> Result<(), sqlx::Error> {
    let event = Event::Unmuted(Mute {
        muter_id: muter,
        muted_id: muted,
    });
    let statement = sqlx::query!(
        "DELETE FROM mutes WHERE muter_id = $1 AND muted_id = $2",
        muter,
        muted
    );
    change_with_event(db, statement, &event).await?;
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
pub enum LikeOutcome {
    /// Now liked (or already was: liking is idempotent).
    Liked,
    /// The liker and the post's author blocked one another.
    Blocked,
}

/// Like `post` of `author`, unless a block stands between the liker and the
/// author: a like that starts after `blockUser` returned sees the block.
pub async fn like(
    db: &Db,
    user: Uuid,
    post: Uuid,
    author: Uuid,
) -> Result<LikeOutcome, sqlx::Error> {
    let liked = Event::PostLiked(PostLiked {
        user_id: user,
        post_id: post,
        post_author_id: Some(author),
    });
    let statement = sqlx::query!(
        "INSERT INTO likes (post_id, user_id, id, post_author_id) SELECT $1, $2, $4, $3 \
         WHERE NOT EXISTS (SELECT 1 FROM blocks WHERE \
             (blocker_id = $2 AND blocked_id = $3) OR (blocker_id = $3 AND blocked_id = $2)) \
         ON CONFLICT DO NOTHING",
        post,
        user,
        author,
        Uuid::now_v7(),
    );
    if change_with_event(db, statement, &liked).await? {
        return Ok(LikeOutcome::Liked);
    }
    // Nothing inserted: already liked, or blocked.
    let blocked = blocked_either_way(db, user, &[author]).await?;
    Ok(if blocked.is_empty() {
        LikeOutcome::Liked
    } else {
        LikeOutcome::Blocked
    })
}

/// Take a like back; `social.post_unliked` (with the post's author, as the like
/// recorded it) only when there was one, so analytics' counts match `likes`.
pub async fn unlike(db: &Db, user: Uuid, post: Uuid) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let removed = sqlx::query_scalar!(
        "DELETE FROM likes WHERE post_id = $1 AND user_id = $2 RETURNING post_author_id",
        post,
        user
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(author) = removed {
        let unliked = Event::PostUnliked(PostLiked {
            user_id: user,
            post_id: post,
            post_author_id: author,
        });
        events::enqueue(db, &mut tx, &unliked).await?;
    }
    tx.commit().await
}

mod reads;
mod silenced;

pub use reads::*;
pub use silenced::silenced_pairs;

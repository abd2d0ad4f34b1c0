//! SQL of `nova_social`. Every statement is counted through the `Db`.

use std::collections::{HashMap, HashSet};

use nova_core::connection::PageRequest;
use nova_core::db::Db;
use nova_core::events::envelope::{Block, Follow, Mute, PostLiked};
use nova_core::events::{self, Event};
use sqlx::Row;
use uuid::Uuid;

/// Either of the two has blocked the other.
const BLOCKED_EITHER_WAY: &str = "EXISTS (SELECT 1 FROM blocks WHERE \
     (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1))";

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
    let sql = format!(
        "INSERT INTO follows (follower_id, followee_id, id) SELECT $1, $2, $3 \
         WHERE NOT {BLOCKED_EITHER_WAY} ON CONFLICT DO NOTHING"
    );
    let ids = [follower, followee, Uuid::now_v7()];
    if change_with_event(db, &sql, &ids, &followed).await? {
        return Ok(FollowOutcome::Following);
    }
    // Nothing inserted: already following, or blocked.
    let blocked: bool = sqlx::query_scalar(&format!("SELECT {BLOCKED_EITHER_WAY}"))
        .bind(follower)
        .bind(followee)
        .fetch_one(db.statement())
        .await?;
    Ok(if blocked {
        FollowOutcome::Blocked
    } else {
        FollowOutcome::Following
    })
}

/// One statement on ids (`$1`, `$2`, ...) and, when it changed a row, its event,
/// in one transaction. Returns whether it changed a row: a repeated follow or like
/// changes nothing and tells nobody.
async fn change_with_event(
    db: &Db,
    sql: &str,
    ids: &[Uuid],
    event: &Event,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let mut query = sqlx::query(sql);
    for id in ids {
        query = query.bind(*id);
    }
    let changed = query.execute(&mut *tx).await?.rows_affected() > 0;
    if changed {
        events::enqueue(db, &mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// One statement on a pair of ids (`$1`, `$2`); the idempotent writes below.
async fn pair_statement(db: &Db, sql: &str, first: Uuid, second: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(sql)
        .bind(first)
        .bind(second)
        .execute(db.statement())
        .await?;
    Ok(())
}

pub async fn unfollow(db: &Db, follower: Uuid, followee: Uuid) -> Result<(), sqlx::Error> {
    let unfollowed = Event::Unfollowed(Follow {
        follower_id: follower,
        followee_id: followee,
    });
    change_with_event(
        db,
        "DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2",
        &[follower, followee],
        &unfollowed,
    )
    .await?;
    Ok(())
}

/// Block, and drop the follows between the two in both directions.
pub async fn block(db: &Db, blocker: Uuid, blocked: Uuid) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let new_block = sqlx::query(
        "INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(blocker)
    .bind(blocked)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    db.count_statement();
    sqlx::query(
        "DELETE FROM follows WHERE (follower_id = $1 AND followee_id = $2) \
         OR (follower_id = $2 AND followee_id = $1)",
    )
    .bind(blocker)
    .bind(blocked)
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
    change_with_event(
        db,
        "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2",
        &[blocker, blocked],
        &unblocked,
    )
    .await?;
    Ok(())
}

pub async fn mute(db: &Db, muter: Uuid, muted: Uuid) -> Result<(), sqlx::Error> {
    let event = Event::Muted(Mute {
        muter_id: muter,
        muted_id: muted,
    });
    change_with_event(
        db,
        "INSERT INTO mutes (muter_id, muted_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[muter, muted],
        &event,
    )
    .await?;
    Ok(())
}

pub async fn unmute(db: &Db, muter: Uuid, muted: Uuid) -> Result<(), sqlx::Error> {
    let event = Event::Unmuted(Mute {
        muter_id: muter,
        muted_id: muted,
    });
    change_with_event(
        db,
        "DELETE FROM mutes WHERE muter_id = $1 AND muted_id = $2",
        &[muter, muted],
        &event,
    )
    .await?;
    Ok(())
}

pub async fn like(db: &Db, user: Uuid, post: Uuid) -> Result<(), sqlx::Error> {
    let liked = Event::PostLiked(PostLiked {
        user_id: user,
        post_id: post,
    });
    change_with_event(
        db,
        "INSERT INTO likes (post_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[post, user],
        &liked,
    )
    .await?;
    Ok(())
}

pub async fn unlike(db: &Db, user: Uuid, post: Uuid) -> Result<(), sqlx::Error> {
    pair_statement(
        db,
        "DELETE FROM likes WHERE post_id = $1 AND user_id = $2",
        post,
        user,
    )
    .await
}

/// `SELECT <key>, count(*) ... GROUP BY <key>` for many keys in one statement;
/// keys without rows count 0.
async fn counts(db: &Db, sql: &str, keys: &[Uuid]) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    let rows = sqlx::query(sql)
        .bind(keys)
        .fetch_all(db.statement())
        .await?;
    let mut counts: HashMap<Uuid, i64> = keys.iter().map(|k| (*k, 0)).collect();
    for row in &rows {
        counts.insert(row.try_get(0)?, row.try_get(1)?);
    }
    Ok(counts)
}

pub async fn follower_counts(db: &Db, users: &[Uuid]) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    counts(
        db,
        "SELECT followee_id, count(*) FROM follows WHERE followee_id = ANY($1) GROUP BY followee_id",
        users,
    )
    .await
}

pub async fn following_counts(db: &Db, users: &[Uuid]) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    counts(
        db,
        "SELECT follower_id, count(*) FROM follows WHERE follower_id = ANY($1) GROUP BY follower_id",
        users,
    )
    .await
}

pub async fn like_counts(db: &Db, posts: &[Uuid]) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    counts(
        db,
        "SELECT post_id, count(*) FROM likes WHERE post_id = ANY($1) GROUP BY post_id",
        posts,
    )
    .await
}

/// Which of `targets` a viewer relates to, by one of the viewer-state queries.
async fn subset(
    db: &Db,
    sql: &str,
    viewer: Uuid,
    targets: &[Uuid],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    sqlx::query_scalar(sql)
        .bind(viewer)
        .bind(targets)
        .fetch_all(db.statement())
        .await
        .map(|ids: Vec<Uuid>| ids.into_iter().collect())
}

pub async fn followed_by(
    db: &Db,
    viewer: Uuid,
    users: &[Uuid],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    subset(
        db,
        "SELECT followee_id FROM follows WHERE follower_id = $1 AND followee_id = ANY($2)",
        viewer,
        users,
    )
    .await
}

pub async fn blocked_by(
    db: &Db,
    viewer: Uuid,
    users: &[Uuid],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    subset(
        db,
        "SELECT blocked_id FROM blocks WHERE blocker_id = $1 AND blocked_id = ANY($2)",
        viewer,
        users,
    )
    .await
}

pub async fn liked_by(db: &Db, viewer: Uuid, posts: &[Uuid]) -> Result<HashSet<Uuid>, sqlx::Error> {
    subset(
        db,
        "SELECT post_id FROM likes WHERE user_id = $1 AND post_id = ANY($2)",
        viewer,
        posts,
    )
    .await
}

/// Which side of a follow a page lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FollowSide {
    /// Who follows the parent.
    Followers,
    /// Whom the parent follows.
    Following,
}

/// Pages of (follow id, user id), newest follow first, for many parents in one
/// statement.
pub async fn follow_pages(
    db: &Db,
    side: FollowSide,
    parents: &[Uuid],
    page: PageRequest,
) -> Result<HashMap<Uuid, Vec<(Uuid, Uuid)>>, sqlx::Error> {
    let (parent_column, other_column) = match side {
        FollowSide::Followers => ("followee_id", "follower_id"),
        FollowSide::Following => ("follower_id", "followee_id"),
    };
    let rows = sqlx::query(&format!(
        "SELECT parent.id AS parent, f.id, f.other FROM unnest($1::uuid[]) AS parent (id) \
         CROSS JOIN LATERAL ( \
           SELECT id, {other_column} AS other FROM follows \
           WHERE {parent_column} = parent.id AND ($2::uuid IS NULL OR id < $2) \
           ORDER BY id DESC LIMIT $3) f"
    ))
    .bind(parents)
    .bind(page.after)
    .bind(page.limit())
    .fetch_all(db.statement())
    .await?;
    let mut pages: HashMap<Uuid, Vec<(Uuid, Uuid)>> = HashMap::new();
    for row in &rows {
        pages
            .entry(row.try_get("parent")?)
            .or_default()
            .push((row.try_get("id")?, row.try_get("other")?));
    }
    Ok(pages)
}

/// People followed by people the viewer follows, most shared follows first,
/// excluding the viewer, whom they follow already, whom they muted, and blocks
/// either way.
pub async fn suggested_users(db: &Db, viewer: Uuid, limit: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT f2.followee_id FROM follows f1 \
         JOIN follows f2 ON f2.follower_id = f1.followee_id \
         WHERE f1.follower_id = $1 AND f2.followee_id <> $1 \
           AND NOT EXISTS (SELECT 1 FROM follows x WHERE x.follower_id = $1 AND x.followee_id = f2.followee_id) \
           AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = $1 AND m.muted_id = f2.followee_id) \
           AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = $1 AND b.blocked_id = f2.followee_id) \
                                                  OR (b.blocker_id = f2.followee_id AND b.blocked_id = $1)) \
         GROUP BY f2.followee_id ORDER BY count(*) DESC, f2.followee_id LIMIT $2",
    )
    .bind(viewer)
    .bind(limit)
    .fetch_all(db.statement())
    .await
}

/// A relation between two users, as exported to read models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    Follows,
    Blocks,
    Mutes,
}

/// One page of a relation's pairs after `after`, in pair order. Background work
/// for another service: not counted.
pub async fn export_pairs(
    db: &Db,
    relation: Relation,
    after: Option<(Uuid, Uuid)>,
    limit: i64,
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let (table, a, b) = match relation {
        Relation::Follows => ("follows", "follower_id", "followee_id"),
        Relation::Blocks => ("blocks", "blocker_id", "blocked_id"),
        Relation::Mutes => ("mutes", "muter_id", "muted_id"),
    };
    let (after_a, after_b) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {a}, {b} FROM {table} \
         WHERE $1::uuid IS NULL OR ({a}, {b}) > ($1, $2) ORDER BY {a}, {b} LIMIT $3"
    ))
    .bind(after_a)
    .bind(after_b)
    .bind(limit)
    .fetch_all(db.background_pool())
    .await
}

//! Reads of `nova_social`: counts, the viewer's state, follow pages,
//! suggestions, and the exports read models copy.

use std::collections::{HashMap, HashSet};

use nova_core::connection::PageRequest;
use nova_core::db::Db;
use uuid::Uuid;

/// A count per key (`SELECT <key>, count(*) ... GROUP BY <key>`).
struct KeyCount {
    key: Uuid,
    count: i64,
}

/// Run a `SELECT <key> AS key, count(*) AS "count!"` over `keys` (one checked
/// statement each: a column or table name cannot be a parameter) and give every
/// key its count, 0 without rows.
macro_rules! counts_by_key {
    ($db:expr, $keys:expr, $sql:literal) => {{
        let keys: &[Uuid] = $keys;
        let rows = sqlx::query_as!(KeyCount, $sql, keys)
            .fetch_all($db.statement())
            .await?;
        Ok(with_zeros(keys, rows))
    }};
}

/// The counts of many keys from one statement; keys without rows count 0.
fn with_zeros(keys: &[Uuid], rows: Vec<KeyCount>) -> HashMap<Uuid, i64> {
    let mut counts: HashMap<Uuid, i64> = keys.iter().map(|k| (*k, 0)).collect();
    counts.extend(rows.into_iter().map(|row| (row.key, row.count)));
    counts
}

pub async fn follower_counts(db: &Db, users: &[Uuid]) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    counts_by_key!(
        db,
        users,
        r#"SELECT followee_id AS key, count(*) AS "count!" FROM follows
           WHERE followee_id = ANY($1) GROUP BY followee_id"#
    )
}

pub async fn following_counts(db: &Db, users: &[Uuid]) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    counts_by_key!(
        db,
        users,
        r#"SELECT follower_id AS key, count(*) AS "count!" FROM follows
           WHERE follower_id = ANY($1) GROUP BY follower_id"#
    )
}

pub async fn like_counts(db: &Db, posts: &[Uuid]) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    counts_by_key!(
        db,
        posts,
        r#"SELECT post_id AS key, count(*) AS "count!" FROM likes
           WHERE post_id = ANY($1) GROUP BY post_id"#
    )
}

pub async fn followed_by(
    db: &Db,
    viewer: Uuid,
    users: &[Uuid],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    let ids = sqlx::query_scalar!(
        "SELECT followee_id FROM follows WHERE follower_id = $1 AND followee_id = ANY($2)",
        viewer,
        users
    )
    .fetch_all(db.statement())
    .await?;
    Ok(ids.into_iter().collect())
}

pub async fn blocked_by(
    db: &Db,
    viewer: Uuid,
    users: &[Uuid],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    let ids = sqlx::query_scalar!(
        "SELECT blocked_id FROM blocks WHERE blocker_id = $1 AND blocked_id = ANY($2)",
        viewer,
        users
    )
    .fetch_all(db.statement())
    .await?;
    Ok(ids.into_iter().collect())
}

/// Which of `users` have a block either way with `user`.
pub async fn blocked_either_way(
    db: &Db,
    user: Uuid,
    users: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let ids = sqlx::query_scalar!(
        r#"SELECT o AS "id!" FROM unnest($2::uuid[]) AS o WHERE EXISTS (SELECT 1 FROM blocks
             WHERE (blocker_id = $1 AND blocked_id = o) OR (blocker_id = o AND blocked_id = $1))"#,
        user,
        users
    )
    .fetch_all(db.statement())
    .await?;
    Ok(ids)
}

/// Which of `users` have blocked `user`.
pub async fn blockers_of(db: &Db, user: Uuid, users: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT blocker_id FROM blocks WHERE blocked_id = $1 AND blocker_id = ANY($2)",
        user,
        users
    )
    .fetch_all(db.statement())
    .await
}

pub async fn muted_by(db: &Db, viewer: Uuid, users: &[Uuid]) -> Result<HashSet<Uuid>, sqlx::Error> {
    let ids = sqlx::query_scalar!(
        "SELECT muted_id FROM mutes WHERE muter_id = $1 AND muted_id = ANY($2)",
        viewer,
        users
    )
    .fetch_all(db.statement())
    .await?;
    Ok(ids.into_iter().collect())
}

pub async fn liked_by(db: &Db, viewer: Uuid, posts: &[Uuid]) -> Result<HashSet<Uuid>, sqlx::Error> {
    let ids = sqlx::query_scalar!(
        "SELECT post_id FROM likes WHERE user_id = $1 AND post_id = ANY($2)",
        viewer,
        posts
    )
    .fetch_all(db.statement())
    .await?;
    Ok(ids.into_iter().collect())
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
    let rows = match side {
        FollowSide::Followers => {
            sqlx::query_as!(
                FollowRow,
                r#"SELECT parent.id AS "parent!", f.id AS "id!", f.other AS "other!"
                   FROM unnest($1::uuid[]) AS parent (id)
                   CROSS JOIN LATERAL (
                     SELECT id, follower_id AS other FROM follows
                     WHERE followee_id = parent.id AND ($2::uuid IS NULL OR id < $2)
                     ORDER BY id DESC LIMIT $3) f"#,
                parents,
                page.after,
                page.limit(),
            )
            .fetch_all(db.statement())
            .await?
        }
        FollowSide::Following => {
            sqlx::query_as!(
                FollowRow,
                r#"SELECT parent.id AS "parent!", f.id AS "id!", f.other AS "other!"
                   FROM unnest($1::uuid[]) AS parent (id)
                   CROSS JOIN LATERAL (
                     SELECT id, followee_id AS other FROM follows
                     WHERE follower_id = parent.id AND ($2::uuid IS NULL OR id < $2)
                     ORDER BY id DESC LIMIT $3) f"#,
                parents,
                page.after,
                page.limit(),
            )
            .fetch_all(db.statement())
            .await?
        }
    };
    let mut pages: HashMap<Uuid, Vec<(Uuid, Uuid)>> = HashMap::new();
    for row in rows {
        pages
            .entry(row.parent)
            .or_default()
            .push((row.id, row.other));
    }
    Ok(pages)
}

/// A follow in a page: the parent it is listed under, its id, the other user.
struct FollowRow {
    parent: Uuid,
    id: Uuid,
    other: Uuid,
}

/// People followed by people the viewer follows, most shared follows first,
/// excluding the viewer, whom they follow already, whom they muted, and blocks
/// either way.
pub async fn suggested_users(db: &Db, viewer: Uuid, limit: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT f2.followee_id FROM follows f1 \
         JOIN follows f2 ON f2.follower_id = f1.followee_id \
         WHERE f1.follower_id = $1 AND f2.followee_id <> $1 \
           AND NOT EXISTS (SELECT 1 FROM follows x WHERE x.follower_id = $1 AND x.followee_id = f2.followee_id) \
           AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = $1 AND m.muted_id = f2.followee_id) \
           AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = $1 AND b.blocked_id = f2.followee_id) \
                                                  OR (b.blocker_id = f2.followee_id AND b.blocked_id = $1)) \
         GROUP BY f2.followee_id ORDER BY count(*) DESC, f2.followee_id LIMIT $2",
        viewer,
        limit,
    )
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
    let (after_a, after_b) = after.unzip();
    let pool = db.background_pool();
    // One statement per table (a table name cannot be a parameter), each
    // checked at compile time; the macro only spares writing the call thrice.
    macro_rules! page_of {
        ($sql:literal) => {
            sqlx::query_as!(Pair, $sql, after_a, after_b, limit)
                .fetch_all(pool)
                .await?
        };
    }
    let pairs = match relation {
        Relation::Follows => page_of!(
            "SELECT follower_id AS a, followee_id AS b FROM follows \
             WHERE $1::uuid IS NULL OR (follower_id, followee_id) > ($1, $2) \
             ORDER BY follower_id, followee_id LIMIT $3"
        ),
        Relation::Blocks => page_of!(
            "SELECT blocker_id AS a, blocked_id AS b FROM blocks \
             WHERE $1::uuid IS NULL OR (blocker_id, blocked_id) > ($1, $2) \
             ORDER BY blocker_id, blocked_id LIMIT $3"
        ),
        Relation::Mutes => page_of!(
            "SELECT muter_id AS a, muted_id AS b FROM mutes \
             WHERE $1::uuid IS NULL OR (muter_id, muted_id) > ($1, $2) \
             ORDER BY muter_id, muted_id LIMIT $3"
        ),
    };
    Ok(pairs.into_iter().map(|pair| (pair.a, pair.b)).collect())
}

/// Two user ids of a relation, in the relation's column order.
struct Pair {
    a: Uuid,
    b: Uuid,
}

/// The viewer's own list of whom they blocked or muted.
#[derive(Clone, Copy, Debug)]
pub enum OwnList {
    Blocked,
    Muted,
}

/// A block or mute in the viewer's list: its id and the other user.
struct Listed {
    id: Uuid,
    other: Uuid,
}

/// One page of (block or mute id, other user), newest first. One literal
/// statement per list: the query macros check each against the schema.
pub async fn own_list(
    db: &Db,
    list: OwnList,
    viewer: Uuid,
    page: PageRequest,
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let rows = match list {
        OwnList::Blocked => {
            sqlx::query_as!(
                Listed,
                r#"SELECT id, blocked_id AS "other!" FROM blocks
               WHERE blocker_id = $1 AND ($2::uuid IS NULL OR id < $2)
               ORDER BY id DESC LIMIT $3"#,
                viewer,
                page.after,
                page.limit(),
            )
            .fetch_all(db.statement())
            .await?
        }
        OwnList::Muted => {
            sqlx::query_as!(
                Listed,
                r#"SELECT id, muted_id AS "other!" FROM mutes
               WHERE muter_id = $1 AND ($2::uuid IS NULL OR id < $2)
               ORDER BY id DESC LIMIT $3"#,
                viewer,
                page.after,
                page.limit(),
            )
            .fetch_all(db.statement())
            .await?
        }
    };
    Ok(rows.into_iter().map(|row| (row.id, row.other)).collect())
}

/// Pages of a post's likers as `viewer` may see them: (like id for the cursor,
/// user id), newest like first, none blocked either way with the viewer; for
/// many posts in one statement.
pub async fn liker_pages(
    db: &Db,
    viewer: Option<Uuid>,
    posts: &[Uuid],
    page: PageRequest,
) -> Result<HashMap<Uuid, Vec<(Uuid, Uuid)>>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT parent.id AS "parent!", l.id AS "id!", l.user_id AS "user_id!"
           FROM unnest($1::uuid[]) AS parent (id)
           CROSS JOIN LATERAL (
             SELECT id, user_id FROM likes
             WHERE post_id = parent.id AND ($2::uuid IS NULL OR id < $2)
               AND NOT EXISTS (SELECT 1 FROM blocks
                 WHERE (blocker_id = $3 AND blocked_id = likes.user_id)
                    OR (blocker_id = likes.user_id AND blocked_id = $3))
             ORDER BY id DESC LIMIT $4) l"#,
        posts,
        page.after,
        viewer,
        page.limit(),
    )
    .fetch_all(db.statement())
    .await?;
    let mut pages: HashMap<Uuid, Vec<(Uuid, Uuid)>> = HashMap::new();
    for row in rows {
        pages
            .entry(row.parent)
            .or_default()
            .push((row.id, row.user_id));
    }
    Ok(pages)
}

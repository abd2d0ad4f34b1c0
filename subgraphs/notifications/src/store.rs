//! SQL of `nova_notifications`. Every statement is counted through the `Db`
//! (the event consumer's statements run on its own transaction).

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
pub enum NotificationKind {
    /// Someone followed the recipient.
    Followed,
    /// Someone liked the recipient's post.
    PostLiked,
    /// Someone commented on the recipient's post.
    Commented,
    /// Someone mentioned the recipient in a post.
    Mentioned,
    /// Someone messaged the recipient.
    Message,
    /// A moderator took the recipient's post down. It names no actor (the
    /// moderator stays unnamed); the reason is in `myModerationNotices`.
    TakenDown,
}

impl NotificationKind {
    fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Followed => "followed",
            NotificationKind::PostLiked => "post_liked",
            NotificationKind::Commented => "commented",
            NotificationKind::Mentioned => "mentioned",
            NotificationKind::Message => "message",
            NotificationKind::TakenDown => "taken_down",
        }
    }

    /// The kind stored as `text`; an unknown one is an error, never another kind.
    fn parse(text: &str) -> Result<Self, sqlx::Error> {
        match text {
            "followed" => Ok(NotificationKind::Followed),
            "post_liked" => Ok(NotificationKind::PostLiked),
            "commented" => Ok(NotificationKind::Commented),
            "mentioned" => Ok(NotificationKind::Mentioned),
            "message" => Ok(NotificationKind::Message),
            "taken_down" => Ok(NotificationKind::TakenDown),
            other => Err(sqlx::Error::Decode(
                format!("unknown notification kind {other:?}").into(),
            )),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NotificationRow {
    pub id: Uuid,
    pub recipient_id: Uuid,
    pub kind: NotificationKind,
    pub post_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    /// The most recent distinct actors, first first (at most `KEPT_ACTORS`).
    pub actor_ids: Vec<Uuid>,
    /// Distinct actors, all of them.
    pub actor_count: i32,
    pub event_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub position: i64,
    pub read: bool,
}

/// Actors a notification row keeps (most recent first); `actor_count` counts all.
pub const KEPT_ACTORS: i32 = 50;

/// A notification as stored: `kind` is text, read back through
/// `NotificationKind::parse`.
struct StoredNotification {
    id: Uuid,
    recipient_id: Uuid,
    kind: String,
    post_id: Option<Uuid>,
    conversation_id: Option<Uuid>,
    actor_ids: Vec<Uuid>,
    actor_count: i32,
    event_count: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    position: i64,
    read: bool,
}

impl TryFrom<StoredNotification> for NotificationRow {
    type Error = sqlx::Error;

    fn try_from(row: StoredNotification) -> Result<Self, sqlx::Error> {
        Ok(NotificationRow {
            id: row.id,
            recipient_id: row.recipient_id,
            kind: NotificationKind::parse(&row.kind)?,
            post_id: row.post_id,
            conversation_id: row.conversation_id,
            actor_ids: row.actor_ids,
            actor_count: row.actor_count,
            event_count: row.event_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
            position: row.position,
            read: row.read,
        })
    }
}

/// One thing that happened to `recipient`, caused by `actor`.
#[derive(Clone, Debug)]
pub struct Happening {
    pub recipient: Uuid,
    pub actor: Uuid,
    pub kind: NotificationKind,
    pub post_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
}

impl Happening {
    /// Unread notifications of one recipient with the same kind and group key
    /// are one notification: "A and 3 others liked your post".
    fn group_key(&self) -> String {
        match self.kind {
            NotificationKind::Followed => String::new(),
            NotificationKind::Message => self
                .conversation_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            _ => self.post_id.map(|id| id.to_string()).unwrap_or_default(),
        }
    }
}

/// Tell the author a moderator took their post down: a notification with no
/// actor (one per post while unread).
pub async fn notify_taken_down(
    tx: &mut PgConnection,
    author: Uuid,
    post: Uuid,
) -> Result<NotificationRow, sqlx::Error> {
    sqlx::query_as!(
        StoredNotification,
        r#"INSERT INTO notifications AS n
               (id, recipient_id, kind, group_key, post_id, actor_ids, actor_count)
           VALUES ($1, $2, 'taken_down', $3::uuid::text, $3, '{}', 0)
           ON CONFLICT (recipient_id, kind, group_key) WHERE read_at IS NULL DO UPDATE SET
               updated_at = now(), position = nextval('notification_position')
           RETURNING id, recipient_id, kind, post_id, conversation_id, actor_ids, actor_count,
               event_count, created_at, updated_at, position, read_at IS NOT NULL AS "read!""#,
        Uuid::now_v7(),
        author,
        post,
    )
    .fetch_one(tx)
    .await?
    .try_into()
}

/// Fold a happening into the recipient's notifications: a new notification, or
/// the open (unread) one of its group gains the actor and moves to the top.
/// Nobody is notified of their own doing. The row keeps the `KEPT_ACTORS` most
/// recent actors; `notification_actors` keeps them all, for an exact count.
pub async fn fold(
    tx: &mut PgConnection,
    happening: &Happening,
) -> Result<Option<NotificationRow>, sqlx::Error> {
    if happening.actor == happening.recipient {
        return Ok(None);
    }
    let new_id = Uuid::now_v7();
    let folded: NotificationRow = sqlx::query_as!(
        StoredNotification,
        r#"INSERT INTO notifications AS n
               (id, recipient_id, kind, group_key, post_id, conversation_id, actor_ids)
           VALUES ($1, $2, $3, $4, $5, $6, ARRAY[$7::uuid])
           ON CONFLICT (recipient_id, kind, group_key) WHERE read_at IS NULL DO UPDATE SET
               actor_ids = (ARRAY[$7::uuid] || array_remove(n.actor_ids, $7::uuid))[1:$8],
               event_count = n.event_count + 1,
               updated_at = now(),
               position = nextval('notification_position')
           RETURNING id, recipient_id, kind, post_id, conversation_id, actor_ids, actor_count,
               event_count, created_at, updated_at, position, read_at IS NOT NULL AS "read!""#,
        new_id,
        happening.recipient,
        happening.kind.as_str(),
        happening.group_key(),
        happening.post_id,
        happening.conversation_id,
        happening.actor,
        KEPT_ACTORS,
    )
    .fetch_one(&mut *tx)
    .await?
    .try_into()?;
    let new_actor = sqlx::query!(
        "INSERT INTO notification_actors (notification_id, actor_id) VALUES ($1, $2) \
         ON CONFLICT DO NOTHING",
        folded.id,
        happening.actor,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    // A new notification starts at one actor; an open one counts a newcomer.
    if folded.id == new_id || !new_actor {
        return Ok(Some(folded));
    }
    let counted = sqlx::query_as!(
        StoredNotification,
        r#"UPDATE notifications SET actor_count = actor_count + 1 WHERE id = $1
           RETURNING id, recipient_id, kind, post_id, conversation_id, actor_ids, actor_count,
               event_count, created_at, updated_at, position, read_at IS NOT NULL AS "read!""#,
        folded.id,
    )
    .fetch_one(&mut *tx)
    .await?;
    counted.try_into().map(Some)
}

/// The recipient's notifications, newest activity first.
pub async fn page(
    db: &Db,
    recipient: Uuid,
    before_position: Option<i64>,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    let rows = sqlx::query_as!(
        StoredNotification,
        r#"SELECT id, recipient_id, kind, post_id, conversation_id, actor_ids, actor_count,
               event_count, created_at, updated_at, position, read_at IS NOT NULL AS "read!"
           FROM notifications WHERE recipient_id = $1 AND position < $2
           ORDER BY position DESC LIMIT $3"#,
        recipient,
        before_position.unwrap_or(i64::MAX),
        limit,
    )
    .fetch_all(db.statement())
    .await?;
    rows.into_iter().map(NotificationRow::try_from).collect()
}

pub async fn unread_count(db: &Db, recipient: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM notifications
           WHERE recipient_id = $1 AND read_at IS NULL"#,
        recipient
    )
    .fetch_one(db.statement())
    .await
}

/// Mark the recipient's notifications read (only `ids`, when given). Returns
/// how many stay unread.
pub async fn mark_read(db: &Db, recipient: Uuid, ids: Option<&[Uuid]>) -> Result<i64, sqlx::Error> {
    sqlx::query!(
        "UPDATE notifications SET read_at = now() \
         WHERE recipient_id = $1 AND read_at IS NULL AND ($2::uuid[] IS NULL OR id = ANY($2))",
        recipient,
        ids as Option<&[Uuid]>,
    )
    .execute(db.statement())
    .await?;
    unread_count(db, recipient).await
}

/// Remember a post's author; returns the likes that were waiting for it.
pub async fn record_post(
    tx: &mut PgConnection,
    post_id: Uuid,
    author_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query!(
        "INSERT INTO post_authors (post_id, author_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        post_id,
        author_id,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query_scalar!(
        "DELETE FROM pending_likes WHERE post_id = $1 RETURNING user_id",
        post_id
    )
    .fetch_all(&mut *tx)
    .await
}

pub async fn forget_post(tx: &mut PgConnection, post_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM post_authors WHERE post_id = $1", post_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query!("DELETE FROM pending_likes WHERE post_id = $1", post_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Delete every notification about the post (a moderator took it down).
pub async fn delete_post_notifications(
    tx: &mut PgConnection,
    post_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM notifications WHERE post_id = $1", post_id)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn post_author(
    tx: &mut PgConnection,
    post_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT author_id FROM post_authors WHERE post_id = $1",
        post_id
    )
    .fetch_optional(tx)
    .await
}

pub async fn hold_like(
    tx: &mut PgConnection,
    post_id: Uuid,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO pending_likes (post_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        post_id,
        user_id,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// A deleted account: its notifications, the ones only it caused, its place
/// among others' actors and its posts go.
pub async fn erase_user(tx: &mut PgConnection, user: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM notifications WHERE recipient_id = $1", user)
        .execute(&mut *tx)
        .await?;
    let touched = sqlx::query_scalar!(
        "DELETE FROM notification_actors WHERE actor_id = $1 RETURNING notification_id",
        user
    )
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE notifications SET actor_ids = array_remove(actor_ids, $2), \
             actor_count = greatest(actor_count - 1, 0) WHERE id = ANY($1)",
        &touched,
        user,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM notifications n WHERE n.id = ANY($1) \
         AND NOT EXISTS (SELECT 1 FROM notification_actors a WHERE a.notification_id = n.id)",
        &touched,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM post_authors WHERE author_id = $1", user)
        .execute(&mut *tx)
        .await?;
    sqlx::query!("DELETE FROM pending_likes WHERE user_id = $1", user)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_and_an_unknown_one_is_an_error() {
        for kind in [
            NotificationKind::Followed,
            NotificationKind::PostLiked,
            NotificationKind::Commented,
            NotificationKind::Mentioned,
            NotificationKind::Message,
            NotificationKind::TakenDown,
        ] {
            assert_eq!(NotificationKind::parse(kind.as_str()).unwrap(), kind);
        }
        assert!(NotificationKind::parse("reposted").is_err());
    }
}

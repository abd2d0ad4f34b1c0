//! Events of content.
//!
//! Emits (on `nova.content`, written by `store` in the transaction of the change):
//! `content.post_created`, `content.post_edited`, `content.post_deleted`,
//! `content.post_taken_down`, `content.post_restored`, `content.comment_created`.
//!
//! Consumes `nova.identity` (consumer `content.erasure`): when an account is
//! deleted, its posts go (with every comment on them) and each gets a
//! `content.post_deleted`, so the subgraphs that follow posts drop them as for
//! any deleted post; its comments on others' posts and the reports it filed go;
//! its earlier events leave the outbox (they carry its bodies). The
//! moderation log keeps its opaque ids for `MODERATION_RETENTION_DAYS`
//! (`prune_moderation_log`). docs/deletion.md.

use chrono::Duration;
use nova_core::events::envelope::{PostDeleted, UserDeleted};
use nova_core::events::{enqueue_on, topic_of, Event, EventHandler};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub struct Erasure;

impl EventHandler for Erasure {
    fn name(&self) -> &'static str {
        "content.erasure"
    }

    fn topics(&self) -> Vec<String> {
        vec![topic_of("identity")]
    }

    async fn apply(&self, tx: &mut PgConnection, event: &Event) -> Result<bool, sqlx::Error> {
        let Event::UserDeleted(UserDeleted { user_id }) = event else {
            return Ok(false);
        };
        erase(tx, *user_id).await?;
        Ok(true)
    }
}

async fn erase(tx: &mut PgConnection, user: Uuid) -> Result<(), sqlx::Error> {
    // First, so that the post_deleted events written below stay.
    sqlx::query!(
        "DELETE FROM outbox WHERE envelope -> 'payload' ->> 'authorId' = $1",
        user.to_string()
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM reports WHERE reporter_id = $1 \
            OR (subject_kind = 'user' AND subject_id = $1) \
            OR (subject_kind = 'comment' AND subject_id IN \
                (SELECT id FROM comments WHERE author_id = $1)) \
            OR (subject_kind = 'post' AND subject_id IN \
                (SELECT id FROM posts WHERE author_id = $1)) \
            OR (subject_kind = 'comment' AND subject_id IN \
                (SELECT c.id FROM comments c JOIN posts p ON p.id = c.post_id \
                 WHERE p.author_id = $1))",
        user
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM comments WHERE author_id = $1", user)
        .execute(&mut *tx)
        .await?;
    // Ascending ids: the order in which a transaction takes several keys'
    // outbox locks (`enqueue_on`).
    let posts = sqlx::query_scalar!("DELETE FROM posts WHERE author_id = $1 RETURNING id", user)
        .fetch_all(&mut *tx)
        .await?;
    let mut posts = posts;
    posts.sort();
    for post_id in posts {
        let event = Event::PostDeleted(PostDeleted {
            post_id,
            author_id: user,
        });
        enqueue_on(&mut *tx, &event).await?;
    }
    Ok(())
}

/// Delete moderation log entries older than `retention` (`main.rs` runs it
/// hourly); how many went.
pub async fn prune_moderation_log(pool: &PgPool, retention: Duration) -> Result<u64, sqlx::Error> {
    let cutoff = chrono::Utc::now() - retention;
    let done = sqlx::query!("DELETE FROM moderation_log WHERE at < $1", cutoff)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

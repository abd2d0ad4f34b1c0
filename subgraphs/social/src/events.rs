//! Events of social.
//!
//! Emits (on `nova.social`, written by `store` with the change they describe):
//! `social.followed`, `social.unfollowed`, `social.blocked`, `social.unblocked`,
//! `social.muted`, `social.unmuted`, `social.post_liked`.
//!
//! Consumes (consumer `social.post-cleanup`) `nova.content`: when a post is
//! deleted its likes go too, so like counts and "liked by" never point at a
//! post that no longer exists; and `nova.identity`: when an account is deleted
//! its follows, blocks and mutes (both ways) and its likes go, and so do the
//! likes of its posts (docs/deletion.md).

use nova_core::events::envelope::{PostDeleted, UserDeleted};
use nova_core::events::{topic_of, Event, EventHandler};
use sqlx::PgConnection;
use uuid::Uuid;

pub struct PostCleanup;

impl EventHandler for PostCleanup {
    fn name(&self) -> &'static str {
        "social.post-cleanup"
    }

    fn topics(&self) -> Vec<String> {
        vec![topic_of("content"), topic_of("identity")]
    }

    async fn apply(&self, tx: &mut PgConnection, event: &Event) -> Result<bool, sqlx::Error> {
        match event {
            Event::PostDeleted(PostDeleted { post_id, .. }) => {
                sqlx::query!("DELETE FROM likes WHERE post_id = $1", post_id)
                    .execute(tx)
                    .await?;
            }
            Event::UserDeleted(UserDeleted { user_id }) => erase(tx, *user_id).await?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

async fn erase(tx: &mut PgConnection, user: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM follows WHERE follower_id = $1 OR followee_id = $1",
        user
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
    sqlx::query!(
        "DELETE FROM likes WHERE user_id = $1 OR post_author_id = $1",
        user
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

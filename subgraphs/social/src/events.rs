//! Events of social.
//!
//! Emits (on `nova.social`, written by `store` with the change they describe):
//! `social.followed`, `social.unfollowed`, `social.blocked`, `social.unblocked`,
//! `social.muted`, `social.unmuted`, `social.post_liked`.
//!
//! Consumes `nova.content`: when a post is deleted its likes go too, so like
//! counts and "liked by" never point at a post that no longer exists.

use nova_core::events::envelope::PostDeleted;
use nova_core::events::{topic_of, Event, EventHandler};
use sqlx::PgConnection;

pub struct PostCleanup;

impl EventHandler for PostCleanup {
    fn name(&self) -> &'static str {
        "social.post-cleanup"
    }

    fn topics(&self) -> Vec<String> {
        vec![topic_of("content")]
    }

    async fn apply(&self, tx: &mut PgConnection, event: &Event) -> Result<bool, sqlx::Error> {
        let Event::PostDeleted(PostDeleted { post_id, .. }) = event else {
            return Ok(false);
        };
        sqlx::query!("DELETE FROM likes WHERE post_id = $1", post_id)
            .execute(tx)
            .await?;
        Ok(true)
    }
}

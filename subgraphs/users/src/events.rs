//! Events of users.
//!
//! Emits (on `nova.users`, written by `store` with the change):
//! `users.profile_changed`.
//!
//! Consumes `nova.identity` (consumer `users.erasure`): when an account is
//! deleted its profile goes, and so do its earlier `profile_changed` events
//! still in the outbox (they carry the display name and bio).

use nova_core::events::envelope::UserDeleted;
use nova_core::events::{topic_of, Event, EventHandler};
use sqlx::PgConnection;

pub struct Erasure;

impl EventHandler for Erasure {
    fn name(&self) -> &'static str {
        "users.erasure"
    }

    fn topics(&self) -> Vec<String> {
        vec![topic_of("identity")]
    }

    async fn apply(&self, tx: &mut PgConnection, event: &Event) -> Result<bool, sqlx::Error> {
        let Event::UserDeleted(UserDeleted { user_id }) = event else {
            return Ok(false);
        };
        sqlx::query!("DELETE FROM profiles WHERE user_id = $1", user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query!(
            "DELETE FROM outbox WHERE event_key = $1",
            user_id.to_string()
        )
        .execute(&mut *tx)
        .await?;
        Ok(true)
    }
}

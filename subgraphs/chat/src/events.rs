//! Events of chat.
//!
//! Emits (on `nova.chat`, written by `store` with the message): `chat.message_sent`
//! (ids, sequence number, sender and recipients; never the body).
//!
//! Blocks are asked of social at each write (`crate::blocks`), not consumed.
//! Consumes `nova.identity` (consumer `chat.erasure`): when an account is
//! deleted, the bodies of its messages are erased — each stays in its place
//! in the others' conversations as a tombstone (`crypto::ERASED`) from the nil
//! id — reported copies of them go, and it leaves every conversation
//! (docs/deletion.md).

use nova_core::events::envelope::UserDeleted;
use nova_core::events::{topic_of, Event, EventHandler};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::crypto::ERASED;

pub struct Erasure;

impl EventHandler for Erasure {
    fn name(&self) -> &'static str {
        "chat.erasure"
    }

    fn topics(&self) -> Vec<String> {
        vec![topic_of("identity")]
    }

    async fn apply(&self, tx: &mut PgConnection, event: &Event) -> Result<bool, sqlx::Error> {
        let Event::UserDeleted(UserDeleted { user_id }) = event else {
            return Ok(false);
        };
        // The sender becomes the nil id, which names nobody; the client
        // message id becomes the message's own (unique, and no longer the
        // sender's).
        sqlx::query!(
            "UPDATE messages SET body_ciphertext = '', body_nonce = '', key_version = $2, \
               sender_id = $3, client_message_id = id::text \
             WHERE sender_id = $1",
            user_id,
            ERASED,
            Uuid::nil(),
        )
        .execute(&mut *tx)
        .await?;
        // A direct conversation with a deleted account stays with the other
        // member; nobody can start one with it again.
        sqlx::query!(
            "UPDATE conversations SET direct_pair = NULL \
             WHERE direct_pair LIKE '%' || $1 || '%'",
            user_id.to_string(),
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE conversations SET created_by = $2 WHERE created_by = $1",
            user_id,
            Uuid::nil(),
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "DELETE FROM reported_messages WHERE sender_id = $1",
            user_id
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "DELETE FROM conversation_members WHERE user_id = $1",
            user_id
        )
        .execute(&mut *tx)
        .await?;
        Ok(true)
    }
}

//! Events of chat.
//!
//! Emits (on `nova.chat`, written by `store` with the message): `chat.message_sent`
//! (ids, sequence number, sender and recipients; never the body).
//!
//! Consumes `nova.social`: `social.blocked` / `social.unblocked` keep chat's own
//! copy of who blocked whom, which direct messages and new groups respect.

use nova_core::events::envelope::Block;
use nova_core::events::{topic_of, Event, EventHandler};
use sqlx::PgConnection;

use crate::store;

pub struct BlockMirror;

impl EventHandler for BlockMirror {
    fn name(&self) -> &'static str {
        "chat.blocks"
    }

    fn topics(&self) -> Vec<String> {
        vec![topic_of("social")]
    }

    async fn apply(&self, tx: &mut PgConnection, event: &Event) -> Result<bool, sqlx::Error> {
        let (
            Block {
                blocker_id,
                blocked_id,
            },
            is_blocked,
        ) = match event {
            Event::Blocked(block) => (block, true),
            Event::Unblocked(block) => (block, false),
            _ => return Ok(false),
        };
        store::apply_block(tx, *blocker_id, *blocked_id, is_blocked).await?;
        Ok(true)
    }
}

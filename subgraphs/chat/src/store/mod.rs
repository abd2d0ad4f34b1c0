//! SQL of `nova_chat`. Every statement is counted through the `Db`: rows and
//! errors here, block checks at the end; conversations and messages in their
//! own files.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use nova_core::events::envelope::MessageSent;
use nova_core::events::{self, Event};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use uuid::Uuid;

use crate::crypto::{MessageCipher, SealedBody};

/// Either of the two users has blocked the other.
const BLOCKED_EITHER_WAY: &str = "EXISTS (SELECT 1 FROM blocks WHERE \
     (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1))";

const CONVERSATION_COLUMNS: &str =
    "c.id, c.kind, c.title, c.created_at, c.last_activity_at, c.last_seq, c.activity";

const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.seq, m.sender_id, m.body_ciphertext, \
     m.body_nonce, m.key_version, m.client_message_id, m.sent_at";

#[derive(Clone, Debug)]
pub struct ConversationRow {
    pub id: Uuid,
    pub is_group: bool,
    pub title: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub last_seq: i64,
    /// Position in "most recently active first" lists.
    pub activity: i64,
}

/// A conversation from its columns; a missing or mistyped column is an error,
/// never a panic.
fn conversation_row(row: &sqlx::postgres::PgRow) -> Result<ConversationRow, sqlx::Error> {
    Ok(ConversationRow {
        id: row.try_get("id")?,
        is_group: row.try_get::<String, _>("kind")? == "group",
        title: row.try_get("title")?,
        created_at: row.try_get("created_at")?,
        last_activity_at: row.try_get("last_activity_at")?,
        last_seq: row.try_get("last_seq")?,
        activity: row.try_get("activity")?,
    })
}

/// A message as stored: the body sealed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub seq: i64,
    pub sender_id: Uuid,
    #[serde(with = "base64_bytes")]
    pub ciphertext: Vec<u8>,
    #[serde(with = "base64_bytes")]
    pub nonce: Vec<u8>,
    pub key_version: i16,
    pub client_message_id: String,
    pub sent_at: DateTime<Utc>,
}

impl MessageRow {
    pub fn sealed(&self) -> SealedBody {
        SealedBody {
            ciphertext: self.ciphertext.clone(),
            nonce: self.nonce.clone(),
            key_version: self.key_version,
        }
    }
}

fn message_row(row: &sqlx::postgres::PgRow) -> Result<MessageRow, sqlx::Error> {
    Ok(MessageRow {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        seq: row.try_get("seq")?,
        sender_id: row.try_get("sender_id")?,
        ciphertext: row.try_get("body_ciphertext")?,
        nonce: row.try_get("body_nonce")?,
        key_version: row.try_get("key_version")?,
        client_message_id: row.try_get("client_message_id")?,
        sent_at: row.try_get("sent_at")?,
    })
}

/// Live events carry sealed bodies as base64 rather than JSON number arrays.
mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug)]
pub enum Refusal {
    /// The caller is not a member (or the conversation does not exist).
    NotMember,
    /// A block between the two users (or between the caller and this user).
    Blocked(Uuid),
    /// Only groups have members added, titles, leaving.
    NotAGroup,
    /// The group would have more than `MAX_GROUP_MEMBERS` current members.
    GroupFull,
}

/// Current members a group may have, its creator included.
pub const MAX_GROUP_MEMBERS: i64 = 256;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("refused: {0:?}")]
    Refused(Refusal),
}

impl From<Refusal> for ChatError {
    fn from(refusal: Refusal) -> Self {
        ChatError::Refused(refusal)
    }
}

mod conversations;
mod messages;

pub use conversations::*;
pub use messages::*;

async fn blocked_either_way(db: &Db, a: Uuid, b: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT {BLOCKED_EITHER_WAY}"))
        .bind(a)
        .bind(b)
        .fetch_one(db.statement())
        .await
}

/// The first of `others` with a block between them and `me`, if any.
async fn first_blocked(db: &Db, me: Uuid, others: &[Uuid]) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT o FROM unnest($2::uuid[]) AS o WHERE EXISTS (SELECT 1 FROM blocks \
         WHERE (blocker_id = $1 AND blocked_id = o) OR (blocker_id = o AND blocked_id = $1)) \
         LIMIT 1",
    )
    .bind(me)
    .bind(others)
    .fetch_optional(db.statement())
    .await
}

/// Apply social's block events (chat keeps its own copy of who blocked whom).
pub async fn apply_block(
    tx: &mut sqlx::PgConnection,
    blocker: Uuid,
    blocked: Uuid,
    is_blocked: bool,
) -> Result<(), sqlx::Error> {
    let sql = if is_blocked {
        "INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2"
    };
    sqlx::query(sql)
        .bind(blocker)
        .bind(blocked)
        .execute(tx)
        .await?;
    Ok(())
}

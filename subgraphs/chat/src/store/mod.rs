//! SQL of `nova_chat`. Every statement is counted through the `Db`: rows and
//! errors here; conversations and messages in their own files. Blocks are
//! social's: writes ask it through `crate::blocks`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use nova_core::events::envelope::MessageSent;
use nova_core::events::{self, Event};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::blocks::{Blocks, HiddenSenders};
use crate::crypto::{MessageCipher, SealedBody};

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
    /// Social could not say whether a block stands in the way.
    #[error("blocks could not be checked: {0}")]
    BlockCheck(nova_core::internal::InternalCallError),
}

impl From<Refusal> for ChatError {
    fn from(refusal: Refusal) -> Self {
        ChatError::Refused(refusal)
    }
}

mod conversations;
mod messages;
pub mod reports;

pub use conversations::*;
pub use messages::*;

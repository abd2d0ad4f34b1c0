//! What chat sends to subscribers: one `LiveChatEvent` per new message, read
//! receipt or typing change, published on Redis (`nova_core::live`) so every chat
//! instance delivers it to its own subscribers of the conversation.
//!
//! A message travels sealed (the stored ciphertext), and is opened by the
//! instance that delivers it: the plaintext is never written anywhere outside
//! the subscriber's connection.

use chrono::{DateTime, Utc};
use nova_core::live::LiveHub;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::MessageRow;

/// Live events keyed by conversation.
pub type ChatHub = LiveHub<Uuid, LiveChatEvent>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
pub enum ChatEventKind {
    /// A new message (`message` is set).
    Message,
    /// A member read up to `readUpTo`.
    ReadReceipt,
    /// A member started or stopped typing (`typing`).
    Typing,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LiveChatEvent {
    pub kind: ChatEventKind,
    pub conversation_id: Uuid,
    /// For a message its own sequence number; otherwise the conversation's
    /// newest message's, so any event shows a client whether it missed messages.
    pub seq: i64,
    /// The sender, reader or typist.
    pub user_id: Uuid,
    pub message: Option<MessageRow>,
    pub read_up_to: Option<i64>,
    pub typing: Option<bool>,
    pub at: DateTime<Utc>,
}

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
    /// `user` joined (was added to) the conversation.
    MemberJoined,
    /// `user` left; their own subscription to the conversation ends with it.
    MemberLeft,
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

impl LiveChatEvent {
    pub fn message(message: MessageRow) -> Self {
        Self {
            kind: ChatEventKind::Message,
            conversation_id: message.conversation_id,
            seq: message.seq,
            user_id: message.sender_id,
            at: message.sent_at,
            message: Some(message),
            read_up_to: None,
            typing: None,
        }
    }

    /// `reader` has read up to `read_up_to`; `last_seq` is the newest message.
    pub fn read_receipt(
        conversation_id: Uuid,
        reader: Uuid,
        read_up_to: i64,
        last_seq: i64,
    ) -> Self {
        Self {
            read_up_to: Some(read_up_to),
            ..Self::bare(
                ChatEventKind::ReadReceipt,
                conversation_id,
                reader,
                last_seq,
            )
        }
    }

    pub fn typing(conversation_id: Uuid, typist: Uuid, typing: bool, last_seq: i64) -> Self {
        Self {
            typing: Some(typing),
            ..Self::bare(ChatEventKind::Typing, conversation_id, typist, last_seq)
        }
    }

    /// `user` joined or left (`kind` is `MemberJoined` or `MemberLeft`).
    pub fn membership(
        kind: ChatEventKind,
        conversation_id: Uuid,
        user: Uuid,
        last_seq: i64,
    ) -> Self {
        Self::bare(kind, conversation_id, user, last_seq)
    }

    /// Whether this event ends `user`'s subscription (they left).
    pub fn ends_subscription_of(&self, user: Uuid) -> bool {
        self.kind == ChatEventKind::MemberLeft && self.user_id == user
    }

    fn bare(kind: ChatEventKind, conversation_id: Uuid, user_id: Uuid, seq: i64) -> Self {
        Self {
            kind,
            conversation_id,
            seq,
            user_id,
            message: None,
            read_up_to: None,
            typing: None,
            at: Utc::now(),
        }
    }
}

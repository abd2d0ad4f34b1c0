//! The chat objects clients read: users (by id), conversations, messages, live events.

use super::*;

#[derive(Clone, Copy, PartialEq, Eq, Enum)]
pub enum ConversationKind {
    Direct,
    Group,
}

pub struct Conversation(pub(super) ConversationRow);

#[Object]
impl Conversation {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> ConversationKind {
        if self.0.is_group {
            ConversationKind::Group
        } else {
            ConversationKind::Direct
        }
    }
    /// The group's title; null for a direct conversation.
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    /// Current members, in the order they joined.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let members = ctx
            .data_unchecked::<super::Members>()
            .0
            .load_one(self.0.id)
            .await
            .or_internal()?
            .unwrap_or_default();
        Ok(members.into_iter().map(User::of).collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn last_activity_at(&self) -> DateTime<Utc> {
        self.0.last_activity_at
    }
    /// The sequence number of the newest message (0 when there is none).
    async fn last_seq(&self) -> i64 {
        self.0.last_seq
    }
    /// Messages from others the caller has not marked read.
    async fn unread_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let reader = Caller::of(ctx).require_user()?;
        Ok(ctx
            .data_unchecked::<DataLoader<UnreadLoader>>()
            .load_one(UnreadKey {
                reader,
                conversation_id: self.0.id,
            })
            .await
            .map_err(super::read_error)?
            .unwrap_or(0))
    }
    /// Messages, oldest first within a page, without those of members blocked
    /// either way with the caller (docs/blocks.md). `first`/`after` page forward from
    /// a cursor (what a client that missed events asks); `last`/`before` page
    /// backward, and with no arguments this is the newest 20.
    async fn messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, Message>> {
        let forward = first.is_some() || after.is_some();
        if forward && (last.is_some() || before.is_some()) {
            return Err(bad_input(
                "last",
                "page forward (first, after) or backward (last, before), not both",
            ));
        }
        let size = page_size(
            if forward { first } else { last },
            if forward { "first" } else { "last" },
        )?;
        let after_seq = after
            .as_deref()
            .map(|c| decode_position_cursor(c, "after"))
            .transpose()?;
        let before_seq = before
            .as_deref()
            .map(|c| decode_position_cursor(c, "before"))
            .transpose()?;
        let viewer = Caller::of(ctx).require_user()?;
        let window = MessageWindow {
            conversation_id: self.0.id,
            viewer,
            after: after_seq.unwrap_or(0),
            before: before_seq.unwrap_or(i64::MAX),
            forward,
            limit: size + 1,
        };
        let mut rows = ctx
            .data_unchecked::<DataLoader<MessageWindowLoader>>()
            .load_one(window)
            .await
            .map_err(super::read_error)?
            .unwrap_or_default();
        rows.sort_by_key(|m| m.seq);
        let more = rows.len() as i64 > size;
        let (has_previous, has_next) = if forward {
            rows.truncate(size as usize);
            (after_seq.is_some(), more)
        } else {
            let extra = rows.len().saturating_sub(size as usize);
            rows.drain(..extra);
            (more, before_seq.is_some())
        };
        let mut connection = Connection::new(has_previous, has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|m| Edge::new(encode_position_cursor(m.seq), Message(m))),
        );
        Ok(connection)
    }
}

pub struct Message(pub(super) MessageRow);

#[Object]
impl Message {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn conversation_id(&self) -> ID {
        ID(self.0.conversation_id.to_string())
    }
    /// 1, 2, 3, ... within the conversation, without gaps.
    async fn seq(&self) -> i64 {
        self.0.seq
    }
    /// Pass as `messages(after:)` to read what came after this message.
    async fn cursor(&self) -> String {
        encode_position_cursor(self.0.seq)
    }
    async fn sender(&self) -> User {
        User::of(self.0.sender_id)
    }
    async fn body(&self, ctx: &Context<'_>) -> Result<String> {
        ctx.data_unchecked::<MessageCipher>()
            .open(self.0.conversation_id, self.0.id, &self.0.sealed())
            .or_internal()
    }
    /// The sender deleted their account: the body is gone (empty), the
    /// message stays in its place.
    async fn erased(&self) -> bool {
        self.0.key_version == crate::crypto::ERASED
    }
    async fn client_message_id(&self) -> &str {
        &self.0.client_message_id
    }
    async fn sent_at(&self) -> DateTime<Utc> {
        self.0.sent_at
    }
}

/// Something that happened in a conversation, delivered live.
pub struct ChatEvent(pub(super) LiveChatEvent);

#[Object]
impl ChatEvent {
    async fn kind(&self) -> ChatEventKind {
        self.0.kind
    }
    async fn conversation_id(&self) -> ID {
        ID(self.0.conversation_id.to_string())
    }
    /// The message's sequence number, or for a receipt or typing the
    /// conversation's newest: a client holding less has missed messages.
    async fn seq(&self) -> i64 {
        self.0.seq
    }
    /// The cursor of `seq`, for `messages(after:)`.
    async fn cursor(&self) -> String {
        encode_position_cursor(self.0.seq)
    }
    /// The sender, reader or typist.
    async fn user(&self) -> User {
        User::of(self.0.user_id)
    }
    async fn message(&self) -> Option<Message> {
        self.0.message.clone().map(Message)
    }
    /// READ_RECEIPT: the reader has read up to this sequence number.
    async fn read_up_to(&self) -> Option<i64> {
        self.0.read_up_to
    }
    /// TYPING: whether the user is typing now.
    async fn typing(&self) -> Option<bool> {
        self.0.typing
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

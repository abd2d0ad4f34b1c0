//! The chat subgraph's GraphQL schema: types and resolvers.
//!
//! Every message has a sequence number in its conversation (1, 2, 3, ... with no
//! gaps) and every live event carries one, so a client that reconnects or sees
//! a jump asks `messages(after: <cursor of the last message it has>)` and gets
//! exactly what it missed.

use async_graphql::connection::{Connection, Edge};
use async_graphql::dataloader::DataLoader;
use async_graphql::{
    Context, Enum, Object, Result, Schema, SchemaBuilder, SimpleObject, Subscription, ID,
};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use nova_core::connection::{
    decode_position_cursor, encode_position_cursor, page_size, PositionPage,
};
use nova_core::db::Db;
use nova_core::errors::{bad_input, internal, parse_id, OrInternal};
use nova_core::sdl::authenticated;
use nova_core::{Caller, ErrorCode};
use uuid::Uuid;

use crate::crypto::MessageCipher;
use crate::live::{ChatEventKind, ChatHub, LiveChatEvent};
use crate::loaders::{MembersLoader, MessageWindowLoader, UnreadKey, UnreadLoader};
use crate::store::{
    self, ChatError, ConversationRow, MessageRow, MessageWindow, Refusal, Sent, MAX_GROUP_MEMBERS,
};

pub type ChatSchema = Schema<Query, Mutation, Subscription>;

pub const MAX_BODY_CHARS: usize = 4000;
pub const MAX_CLIENT_MESSAGE_ID_CHARS: usize = 100;
pub const MAX_TITLE_CHARS: usize = 100;
pub const MAX_MEMBERS_PER_CALL: usize = 100;

pub fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    nova_core::caller::subgraph_schema(Query, Mutation, Subscription)
        .enable_subscription_in_federation()
}

pub fn build(db: Db, cipher: MessageCipher, hub: ChatHub) -> ChatSchema {
    builder()
        .data(nova_core::batching::loader(MessageWindowLoader {
            db: db.clone(),
        }))
        .data(nova_core::batching::loader(UnreadLoader { db: db.clone() }))
        .data(nova_core::batching::loader(MembersLoader {
            db: db.clone(),
        }))
        .data(db)
        .data(cipher)
        .data(hub)
        .finish()
}

pub fn sdl() -> String {
    nova_core::sdl::federated_sdl(&builder().finish())
}

/// The GraphQL error for a refused or failed chat operation.
fn chat_error(error: ChatError) -> async_graphql::Error {
    match error {
        ChatError::Database(error) => internal(error),
        ChatError::Refused(Refusal::NotMember) => {
            ErrorCode::Forbidden.error("you are not a member of this conversation")
        }
        ChatError::Refused(Refusal::Blocked(_)) => {
            ErrorCode::Forbidden.error("you cannot message this user")
        }
        ChatError::Refused(Refusal::NotAGroup) => bad_input(
            "conversationId",
            "only group conversations have members added or left",
        ),
        ChatError::Refused(Refusal::GroupFull) => bad_input(
            "userIds",
            format!("a group has at most {MAX_GROUP_MEMBERS} members"),
        ),
    }
}

/// A Nova user (owned by users; chat only knows the id).
#[derive(SimpleObject)]
#[graphql(unresolvable)]
pub struct User {
    id: ID,
}

fn user(id: Uuid) -> User {
    User {
        id: ID(id.to_string()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Enum)]
pub enum ConversationKind {
    Direct,
    Group,
}

pub struct Conversation(ConversationRow);

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
            .data_unchecked::<DataLoader<MembersLoader>>()
            .load_one(self.0.id)
            .await
            .or_internal()?
            .unwrap_or_default();
        Ok(members.into_iter().map(user).collect())
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
            .or_internal()?
            .unwrap_or(0))
    }
    /// Messages, oldest first within a page. `first`/`after` page forward from
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
        let window = MessageWindow {
            conversation_id: self.0.id,
            after: after_seq.unwrap_or(0),
            before: before_seq.unwrap_or(i64::MAX),
            forward,
            limit: size + 1,
        };
        let mut rows = ctx
            .data_unchecked::<DataLoader<MessageWindowLoader>>()
            .load_one(window)
            .await
            .or_internal()?
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

pub struct Message(MessageRow);

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
        user(self.0.sender_id)
    }
    async fn body(&self, ctx: &Context<'_>) -> Result<String> {
        ctx.data_unchecked::<MessageCipher>()
            .open(self.0.conversation_id, self.0.id, &self.0.sealed())
            .or_internal()
    }
    async fn client_message_id(&self) -> &str {
        &self.0.client_message_id
    }
    async fn sent_at(&self) -> DateTime<Utc> {
        self.0.sent_at
    }
}

/// Something that happened in a conversation, delivered live.
pub struct ChatEvent(LiveChatEvent);

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
        user(self.0.user_id)
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

fn conversation_id(id: &ID) -> Result<Uuid> {
    parse_id(id, "conversationId")
}

fn user_ids(ids: &[ID], argument: &str) -> Result<Vec<Uuid>> {
    if ids.len() > MAX_MEMBERS_PER_CALL {
        return Err(bad_input(
            argument,
            format!("at most {MAX_MEMBERS_PER_CALL} users at a time"),
        ));
    }
    ids.iter().map(|id| parse_id(id, argument)).collect()
}

pub struct Query;

#[Object]
impl Query {
    /// The caller's conversations, most recently active first.
    #[graphql(directive = authenticated::apply())]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Conversation>> {
        let me = Caller::of(ctx).require_user()?;
        let page = PositionPage::new(first, after.as_deref())?;
        let db = ctx.data_unchecked::<Db>();
        let rows = store::conversations_page(db, me, page.after, page.limit())
            .await
            .or_internal()?;
        Ok(page.connection(
            rows.into_iter()
                .map(|c| (c.activity, Conversation(c)))
                .collect(),
        ))
    }

    /// One conversation of the caller's.
    #[graphql(directive = authenticated::apply())]
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> Result<Conversation> {
        let me = Caller::of(ctx).require_user()?;
        let id = parse_id(&id, "id")?;
        let db = ctx.data_unchecked::<Db>();
        store::member_conversation(db, id, me)
            .await
            .map(Conversation)
            .map_err(chat_error)
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// The caller's direct conversation with `userId` (the same one every time).
    #[graphql(directive = authenticated::apply())]
    async fn start_direct_conversation(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> Result<Conversation> {
        let me = Caller::of(ctx).require_user()?;
        let other = parse_id(&user_id, "userId")?;
        if other == me {
            return Err(bad_input(
                "userId",
                "a direct conversation needs another user",
            ));
        }
        let db = ctx.data_unchecked::<Db>();
        store::start_direct(db, me, other)
            .await
            .map(Conversation)
            .map_err(chat_error)
    }

    /// A new group of the caller and `memberIds`.
    #[graphql(directive = authenticated::apply())]
    async fn create_group(
        &self,
        ctx: &Context<'_>,
        title: String,
        member_ids: Vec<ID>,
    ) -> Result<Conversation> {
        let me = Caller::of(ctx).require_user()?;
        let title = title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            return Err(bad_input(
                "title",
                format!("a title has 1 to {MAX_TITLE_CHARS} characters"),
            ));
        }
        let members = user_ids(&member_ids, "memberIds")?;
        let db = ctx.data_unchecked::<Db>();
        store::create_group(db, me, title, &members)
            .await
            .map(Conversation)
            .map_err(chat_error)
    }

    /// Add users to a group the caller is in.
    #[graphql(directive = authenticated::apply())]
    async fn add_members(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        user_ids: Vec<ID>,
    ) -> Result<Conversation> {
        let me = Caller::of(ctx).require_user()?;
        let id = self::conversation_id(&conversation_id)?;
        let members = self::user_ids(&user_ids, "userIds")?;
        let db = ctx.data_unchecked::<Db>();
        let conversation = store::add_members(db, id, me, &members)
            .await
            .map_err(chat_error)?;
        let hub = ctx.data_unchecked::<ChatHub>();
        for member in members {
            let event = LiveChatEvent::membership(
                ChatEventKind::MemberJoined,
                id,
                member,
                conversation.last_seq,
            );
            hub.publish(id, event).await;
        }
        Ok(Conversation(conversation))
    }

    /// Leave a conversation: no more messages or events from it (the caller's
    /// open `chatEvents` of it end; the others see MEMBER_LEFT).
    #[graphql(directive = authenticated::apply())]
    async fn leave(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<bool> {
        let me = Caller::of(ctx).require_user()?;
        let id = self::conversation_id(&conversation_id)?;
        let db = ctx.data_unchecked::<Db>();
        let last_seq = store::leave(db, id, me).await.map_err(chat_error)?;
        let event = LiveChatEvent::membership(ChatEventKind::MemberLeft, id, me, last_seq);
        ctx.data_unchecked::<ChatHub>().publish(id, event).await;
        Ok(true)
    }

    /// Send a message. `clientMessageId` is the client's own id for this send:
    /// sending again with the same one (a retry after a timeout) returns the
    /// message already stored instead of a second one.
    #[graphql(directive = authenticated::apply())]
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        body: String,
        client_message_id: String,
    ) -> Result<Message> {
        let me = Caller::of(ctx).require_user()?;
        let id = self::conversation_id(&conversation_id)?;
        if body.trim().is_empty() || body.chars().count() > MAX_BODY_CHARS {
            return Err(bad_input(
                "body",
                format!("a message has 1 to {MAX_BODY_CHARS} characters"),
            ));
        }
        let client_id = client_message_id.trim();
        if client_id.is_empty() || client_id.chars().count() > MAX_CLIENT_MESSAGE_ID_CHARS {
            return Err(bad_input(
                "clientMessageId",
                format!("clientMessageId has 1 to {MAX_CLIENT_MESSAGE_ID_CHARS} characters"),
            ));
        }
        let db = ctx.data_unchecked::<Db>();
        let cipher = ctx.data_unchecked::<MessageCipher>();
        let sent = store::send_message(db, cipher, id, me, &body, client_id)
            .await
            .map_err(chat_error)?;
        let message = match sent {
            Sent::Repeated(message) => message,
            Sent::New { message, .. } => {
                let event = LiveChatEvent::message(message.clone());
                ctx.data_unchecked::<ChatHub>().publish(id, event).await;
                message
            }
        };
        Ok(Message(message))
    }

    /// Mark messages read up to (and including) the message of cursor `upTo`.
    #[graphql(directive = authenticated::apply())]
    async fn mark_read(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        up_to: String,
    ) -> Result<Conversation> {
        let me = Caller::of(ctx).require_user()?;
        let id = self::conversation_id(&conversation_id)?;
        let up_to = decode_position_cursor(&up_to, "upTo")?;
        let db = ctx.data_unchecked::<Db>();
        let (read_up_to, conversation) = store::mark_read(db, id, me, up_to)
            .await
            .map_err(chat_error)?;
        let event = LiveChatEvent::read_receipt(id, me, read_up_to, conversation.last_seq);
        ctx.data_unchecked::<ChatHub>().publish(id, event).await;
        Ok(Conversation(conversation))
    }

    /// Tell the other members the caller is (or stopped) typing. Not stored.
    #[graphql(directive = authenticated::apply())]
    async fn set_typing(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        typing: bool,
    ) -> Result<bool> {
        let me = Caller::of(ctx).require_user()?;
        let id = self::conversation_id(&conversation_id)?;
        let db = ctx.data_unchecked::<Db>();
        let conversation = store::member_conversation(db, id, me)
            .await
            .map_err(chat_error)?;
        let event = LiveChatEvent::typing(id, me, typing, conversation.last_seq);
        ctx.data_unchecked::<ChatHub>().publish(id, event).await;
        Ok(true)
    }
}

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// New messages, read receipts and typing in one of the caller's
    /// conversations, from now on. Members only. Compare each event's `seq` with
    /// the last message you hold; on a gap (or after reconnecting) fetch
    /// `messages(after:)`.
    async fn chat_events(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
    ) -> Result<impl Stream<Item = ChatEvent>> {
        let me = Caller::of(ctx).require_user()?;
        let id = self::conversation_id(&conversation_id)?;
        // Listen first, then check: nothing sent after the check is missed.
        let events = ctx.data_unchecked::<ChatHub>().subscribe(id);
        let db = ctx.data_unchecked::<Db>();
        store::member_conversation(db, id, me)
            .await
            .map_err(chat_error)?;
        // Membership is checked here once; leaving ends the stream.
        Ok(events
            .take_while(move |event| std::future::ready(!event.ends_subscription_of(me)))
            .map(ChatEvent))
    }
}

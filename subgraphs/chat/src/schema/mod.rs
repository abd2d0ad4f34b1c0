//! The chat subgraph's GraphQL schema: types and resolvers.
//!
//! Every message has a sequence number in its conversation (1, 2, 3, ... with no
//! gaps) and every live event carries one, so a client that reconnects or sees
//! a jump asks `messages(after: <cursor of the last message it has>)` and gets
//! exactly what it missed.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, Object, Result, Schema, SchemaBuilder, Subscription, ID};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use nova_core::connection::{
    decode_position_cursor, encode_position_cursor, page_size, PositionPage,
};
use nova_core::db::Db;
use nova_core::entities::User;
use nova_core::errors::{bad_input, internal, parse_id, OrInternal};
use nova_core::sdl::authenticated;
use nova_core::{Caller, ErrorCode};
use uuid::Uuid;

use crate::blocks::Blocks;
use crate::crypto::MessageCipher;
use crate::live::{ChatEventKind, ChatHub, LiveChatEvent};
use crate::loaders::{MembersLoader, MessageWindowLoader, UnreadKey, UnreadLoader};
use crate::store::{
    self, ChatError, ConversationRow, MessageRow, MessageWindow, Refusal, Sent, MAX_GROUP_MEMBERS,
};
use nova_core::internal::{BlockPair, BlockPairsLoader};

mod mutation;
mod types;

pub use mutation::Mutation;
pub use types::{ChatEvent, Conversation, ConversationKind, Message};

pub type ChatSchema = Schema<Query, Mutation, Subscription>;

pub const MAX_BODY_CHARS: usize = 4000;
pub const MAX_CLIENT_MESSAGE_ID_CHARS: usize = 100;
pub const MAX_TITLE_CHARS: usize = 100;
pub const MAX_MEMBERS_PER_CALL: usize = 100;

pub fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    nova_core::caller::subgraph_schema(Query, Mutation, Subscription)
        .enable_subscription_in_federation()
}

pub fn build(
    db: Db,
    cipher: MessageCipher,
    hub: ChatHub,
    blocks: Blocks,
    notices: nova_core::suspensions::SuspensionNotices,
) -> ChatSchema {
    builder()
        .data(nova_core::batching::loader(MessageWindowLoader {
            db: db.clone(),
            blocks: blocks.clone(),
        }))
        .data(nova_core::batching::loader(UnreadLoader {
            db: db.clone(),
            blocks: blocks.clone(),
        }))
        .data(Members(Arc::new(nova_core::batching::loader(
            MembersLoader { db: db.clone() },
        ))))
        .data(Blocked(Arc::new(nova_core::batching::loader(
            BlockPairsLoader {
                social: blocks.social().clone(),
            },
        ))))
        .data(db)
        .data(cipher)
        .data(hub)
        .data(notices)
        .data(blocks)
        .finish()
}

/// The conversations' current members, for requests and live streams alike
/// (shared by `Arc` because a stream outlives the request that opened it).
#[derive(Clone)]
pub(super) struct Members(pub(super) Arc<DataLoader<MembersLoader>>);

impl Members {
    /// Whether `user` is still a member of `conversation`; an error counts as no
    /// (the client re-subscribes and is checked afresh).
    async fn still_member(&self, conversation: Uuid, user: Uuid) -> bool {
        match self.0.load_one(conversation).await {
            Ok(members) => members.is_some_and(|members| members.contains(&user)),
            Err(error) => {
                tracing::warn!(%error, "membership check failed; ending the stream");
                false
            }
        }
    }
}

/// Blocks between the actor of a live event and its subscribers (shared by
/// `Arc`, like `Members`).
#[derive(Clone)]
pub(super) struct Blocked(pub(super) Arc<DataLoader<BlockPairsLoader>>);

impl Blocked {
    /// Whether a block stands between `actor` and `viewer`; an error when social
    /// cannot say (the event is then not delivered unchecked).
    async fn between(&self, actor: Uuid, viewer: Uuid) -> Result<bool> {
        if actor == viewer {
            return Ok(false);
        }
        self.0
            .load_one(BlockPair {
                user: actor,
                other: viewer,
            })
            .await
            .map(|blocked| blocked.unwrap_or(false))
            .map_err(|error| {
                tracing::error!(%error, "blocks could not be checked; the stream ends");
                ErrorCode::Unavailable.error("this cannot be shown right now; try again")
            })
    }
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
        ChatError::BlockCheck(error) => {
            tracing::error!(%error, "blocks could not be checked; the write is refused");
            ErrorCode::Unavailable.error("this cannot be sent right now; try again")
        }
    }
}

/// A failed read (a loader's shared error). Blocks that cannot be checked make
/// it `UNAVAILABLE`: what a block hides is never shown unchecked.
pub(super) fn read_error(error: Arc<ChatError>) -> async_graphql::Error {
    match &*error {
        ChatError::BlockCheck(cause) => {
            tracing::error!(error = %cause, "blocks could not be checked; the read is refused");
            ErrorCode::Unavailable.error("this cannot be shown right now; try again")
        }
        ChatError::Database(cause) if nova_core::errors::is_unreachable(cause) => {
            tracing::warn!(error = %cause, "database unavailable");
            ErrorCode::Unavailable.error("the database is unavailable; try again shortly")
        }
        _ => internal(error),
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
    ) -> Result<impl Stream<Item = Result<ChatEvent>>> {
        let caller = Caller::of(ctx);
        let me = caller.require_user()?;
        let id = self::conversation_id(&conversation_id)?;
        // Listen first, then check: nothing sent after the check is missed.
        let events = ctx.data_unchecked::<ChatHub>().subscribe(id)?;
        let db = ctx.data_unchecked::<Db>();
        store::member_conversation(db, id, me)
            .await
            .map_err(chat_error)?;
        // Leaving ends the stream at the "member left" event. That notice travels
        // on Redis, best effort, so each event is also delivered only while the
        // database lists the subscriber as a member: one batched query per event
        // per instance, however many subscribers it has.
        let members = ctx.data_unchecked::<Members>().clone();
        // Nothing a blocked-either-way member does reaches the subscriber: such
        // events are skipped, asked of social per event (one call for all of
        // this instance's subscribers); when social cannot answer, the stream
        // ends with UNAVAILABLE rather than deliver unchecked.
        let blocked = ctx.data_unchecked::<Blocked>().clone();
        // The hub losing Redis ends the stream with its error (`LiveUnavailable`).
        let events = events
            .take_while(move |item| {
                let left = matches!(item, Ok(event) if event.ends_subscription_of(me));
                std::future::ready(!left)
            })
            .then(move |item| {
                let members = members.clone();
                async move {
                    let member = match &item {
                        Ok(event) => members.still_member(event.conversation_id, me).await,
                        Err(_) => true,
                    };
                    (item, member)
                }
            })
            .take_while(|(_, member)| std::future::ready(*member))
            .then(move |(item, _)| {
                let blocked = blocked.clone();
                async move {
                    let event = item?;
                    match blocked.between(event.user_id, me).await {
                        Ok(true) => Ok(None),
                        Ok(false) => Ok(Some(ChatEvent(event))),
                        Err(error) => Err(error),
                    }
                }
            })
            .scan(false, |ended, item: Result<Option<ChatEvent>>| {
                // The first error is delivered, then the stream ends.
                if *ended {
                    return std::future::ready(None);
                }
                *ended = item.is_err();
                std::future::ready(Some(item))
            })
            .filter_map(|item| std::future::ready(item.transpose()));
        caller.until_ended(ctx, events)
    }
}

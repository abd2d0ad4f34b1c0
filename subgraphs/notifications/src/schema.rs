//! The notifications subgraph's GraphQL schema: types and resolvers.

use async_graphql::connection::Connection;
use async_graphql::{Context, Object, Result, Schema, SchemaBuilder, Subscription, ID};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use nova_core::connection::{page_size, PositionPage};
use nova_core::db::Db;
use nova_core::entities::{Post, User};
use nova_core::errors::{parse_id, OrInternal};
use nova_core::sdl::authenticated;
use nova_core::Caller;
use uuid::Uuid;

use crate::live::NotificationHub;
use crate::store::{self, NotificationKind, NotificationRow};

pub type NotificationsSchema = Schema<Query, Mutation, Subscription>;

/// Actors listed on a notification unless the client asks for more.
pub const DEFAULT_ACTORS: i32 = 3;

pub fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    nova_core::caller::subgraph_schema(Query, Mutation, Subscription)
        .enable_subscription_in_federation()
}

pub fn build(
    db: Db,
    hub: NotificationHub,
    notices: nova_core::suspensions::SuspensionNotices,
) -> NotificationsSchema {
    builder().data(db).data(hub).data(notices).finish()
}

pub fn sdl() -> String {
    nova_core::sdl::federated_sdl(&builder().finish())
}

pub struct Notification(NotificationRow);

#[Object]
impl Notification {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> NotificationKind {
        self.0.kind
    }
    /// Who did it, most recent first (`first` of them, 3 unless asked; the 50
    /// most recent are kept).
    async fn actors(
        &self,
        #[graphql(default_with = "DEFAULT_ACTORS")] first: i32,
    ) -> Result<Vec<User>> {
        let first = page_size(Some(first), "first")?;
        Ok(self
            .0
            .actor_ids
            .iter()
            .take(first as usize)
            .map(|id| User::of(*id))
            .collect())
    }
    /// How many different users it groups ("A and 3 others").
    async fn actor_count(&self) -> i32 {
        self.0.actor_count
    }
    /// How many events it groups (messages of a conversation, ...).
    async fn event_count(&self) -> i32 {
        self.0.event_count
    }
    /// The post liked, commented on or mentioned in.
    async fn post(&self) -> Option<Post> {
        self.0.post_id.map(Post::of)
    }
    /// The conversation messaged in.
    async fn conversation_id(&self) -> Option<ID> {
        self.0.conversation_id.map(|id| ID(id.to_string()))
    }
    async fn read(&self) -> bool {
        self.0.read
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last grew.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

pub struct Query;

#[Object]
impl Query {
    /// The caller's notifications, latest activity first.
    #[graphql(directive = authenticated::apply())]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Notification>> {
        let me = Caller::of(ctx).require_user()?;
        let page = PositionPage::new(first, after.as_deref())?;
        let db = ctx.data_unchecked::<Db>();
        let rows = store::page(db, me, page.after, page.limit())
            .await
            .or_internal()?;
        Ok(page.connection(
            rows.into_iter()
                .map(|n| (n.position, Notification(n)))
                .collect(),
        ))
    }

    #[graphql(directive = authenticated::apply())]
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let me = Caller::of(ctx).require_user()?;
        store::unread_count(ctx.data_unchecked::<Db>(), me)
            .await
            .or_internal()
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Mark notifications read: the given ones, or all when `ids` is left out.
    /// Returns how many stay unread.
    #[graphql(directive = authenticated::apply())]
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
    ) -> Result<i64> {
        let me = Caller::of(ctx).require_user()?;
        let ids: Option<Vec<Uuid>> = ids
            .map(|ids| ids.iter().map(|id| parse_id(id, "ids")).collect())
            .transpose()?;
        store::mark_read(ctx.data_unchecked::<Db>(), me, ids.as_deref())
            .await
            .or_internal()
    }
}

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// The caller's notifications as they arrive or grow (a grouped notification
    /// that gains an actor comes again, with its new count).
    async fn notification_added(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<Notification>>> {
        let caller = Caller::of(ctx);
        let me = caller.require_user()?;
        let hub = ctx.data_unchecked::<NotificationHub>();
        let added = hub.subscribe(me)?;
        caller.until_ended(
            ctx,
            added.map(|notification| notification.map(Notification).map_err(Into::into)),
        )
    }
}

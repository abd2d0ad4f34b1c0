//! The feed subgraph's GraphQL schema: `Query.homeFeed` and
//! `Subscription.homeFeedUpdated`. Posts and users are entity references that
//! their owners resolve through the router.

use async_graphql::connection::Connection;
use async_graphql::{Context, EmptyMutation, Object, Result, Schema, SchemaBuilder, Subscription};
use futures::{Stream, StreamExt};
use nova_core::connection::{connection, PageRequest};
use nova_core::entities::{Post, User};
use nova_core::errors::OrInternal;
use nova_core::sdl::authenticated;
use nova_core::views::{Surface, ViewRecorder};
use nova_core::Caller;

use crate::live::{FeedHub, FeedUpdate};
use crate::page::FeedReader;

pub type FeedSchema = Schema<Query, EmptyMutation, Subscription>;

pub fn builder() -> SchemaBuilder<Query, EmptyMutation, Subscription> {
    nova_core::caller::subgraph_schema(Query, EmptyMutation, Subscription)
        .enable_subscription_in_federation()
}

pub fn build(
    reader: FeedReader,
    hub: FeedHub,
    notices: nova_core::suspensions::SuspensionNotices,
    views: ViewRecorder,
) -> FeedSchema {
    builder()
        .data(reader)
        .data(hub)
        .data(notices)
        .data(views)
        .finish()
}

pub fn sdl() -> String {
    nova_core::sdl::federated_sdl(&builder().finish())
}

pub struct Query;

#[Object]
impl Query {
    /// The caller's home feed: posts by the people they follow and their own,
    /// newest first. Cursors stay valid while new posts arrive: paging on never
    /// repeats or skips a post. Posts of muted or blocked accounts never appear.
    #[graphql(directive = authenticated::apply())]
    async fn home_feed(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Post>> {
        let viewer = Caller::of(ctx).require_user()?;
        let page = PageRequest::new(first, after.as_deref())?;
        let reader = ctx.data_unchecked::<FeedReader>();
        let posts = reader
            .page(viewer, page.after, page.limit() as usize)
            .await
            .or_internal()?;
        ctx.data_unchecked::<ViewRecorder>()
            .record(Surface::HomeFeed, Some(viewer), &posts);
        Ok(connection(
            page,
            posts
                .into_iter()
                .map(|(id, _)| (id, Post::of(id)))
                .collect(),
        ))
    }
}

/// A post that has just entered the caller's home feed.
pub struct HomeFeedUpdate(FeedUpdate);

#[Object]
impl HomeFeedUpdate {
    /// The new post. Selecting only `id` costs nothing more; other fields are
    /// resolved by content for each update.
    async fn post(&self) -> Post {
        Post::of(self.0.post_id)
    }
    async fn author(&self) -> User {
        User::of(self.0.author_id)
    }
}

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Each new post that enters the caller's home feed, as it is fanned out —
    /// for a "new posts" pill; the client pages `homeFeed` from the top to show
    /// them. At least once: deduplicate by post id.
    async fn home_feed_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<HomeFeedUpdate>>> {
        let caller = Caller::of(ctx);
        let viewer = caller.require_user()?;
        let hub = ctx.data_unchecked::<FeedHub>();
        let updates = hub.subscribe(viewer)?;
        caller.until_ended(
            ctx,
            updates.map(|update| update.map(HomeFeedUpdate).map_err(Into::into)),
        )
    }
}

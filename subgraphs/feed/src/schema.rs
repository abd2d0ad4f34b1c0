//! The feed subgraph's GraphQL schema: `Query.homeFeed` and
//! `Subscription.homeFeedUpdated`. Posts and users are entity references that
//! their owners resolve through the router.

use async_graphql::connection::Connection;
use async_graphql::{
    Context, EmptyMutation, Enum, Object, Result, Schema, SchemaBuilder, Subscription,
};
use futures::{Stream, StreamExt};
use nova_core::connection::{
    connection, connection_with_cursors, decode_ranked_cursor, encode_ranked_cursor, page_size,
    PageRequest,
};
use nova_core::entities::{Post, User};
use nova_core::errors::bad_input;
use nova_core::errors::OrInternal;
use nova_core::sdl::authenticated;
use nova_core::views::{Surface, ViewRecorder};
use nova_core::Caller;

use crate::live::{FeedHub, FeedUpdate};
use crate::page::{FeedReader, RankingExpired};

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
    /// newest first (`LATEST`) or ranked for them (`FOR_YOU`, see
    /// docs/analytics.md for the formula). Cursors stay valid while new posts
    /// arrive and features change: paging on never repeats or skips a post.
    /// Posts of muted or blocked accounts never appear.
    #[graphql(directive = authenticated::apply())]
    async fn home_feed(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "FeedRanking::Latest")] ranking: FeedRanking,
    ) -> Result<Connection<String, Post>> {
        let viewer = Caller::of(ctx).require_user()?;
        let reader = ctx.data_unchecked::<FeedReader>();
        if ranking == FeedRanking::ForYou {
            return for_you(ctx, reader, viewer, first, after.as_deref()).await;
        }
        let page = PageRequest::new(first, after.as_deref())?;
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

/// How `homeFeed` orders posts.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum FeedRanking {
    /// Newest first.
    Latest,
    /// Ranked by freshness, the post's engagement and the caller's affinity
    /// with its author; the order is fixed when the first page is served.
    ForYou,
}

async fn for_you(
    ctx: &Context<'_>,
    reader: &FeedReader,
    viewer: uuid::Uuid,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<Connection<String, Post>> {
    let limit = page_size(first, "first")? as usize;
    let after = after
        .map(|cursor| decode_ranked_cursor(cursor, "after"))
        .transpose()?;
    let page = match reader.for_you(viewer, after, limit).await {
        Ok(page) => page,
        Err(error) if error.is::<RankingExpired>() => {
            return Err(bad_input("after", error.to_string()))
        }
        Err(error) => return Err(error).or_internal(),
    };
    let served: Vec<(uuid::Uuid, uuid::Uuid)> = page
        .posts
        .iter()
        .map(|&(_, post, author)| (post, author))
        .collect();
    ctx.data_unchecked::<ViewRecorder>()
        .record(Surface::HomeFeed, Some(viewer), &served);
    let edges = page
        .posts
        .into_iter()
        .map(|(position, post, _)| (encode_ranked_cursor(page.ranking, position), Post::of(post)))
        .collect();
    Ok(connection_with_cursors(
        after.is_some(),
        page.has_next,
        edges,
    ))
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

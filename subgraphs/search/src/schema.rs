//! The search subgraph's GraphQL schema: `search`, `hashtag`,
//! `trendingHashtags`. Users and posts are entity references their owners
//! resolve through the router.

use async_graphql::connection::Connection;
use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, Object, Result, Schema, SchemaBuilder,
    SimpleObject, Union,
};
use chrono::Utc;
use nova_core::connection::{connection, PageRequest, PositionPage};
use nova_core::entities::{Post, User};
use nova_core::errors::{bad_input, OrInternal};
use nova_core::Caller;

use crate::engine::Kinds;
use crate::query::{Hit, Searcher, Wanted};
use crate::store;

pub type SearchSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Characters a search query may have; longer ones are `BAD_USER_INPUT`.
pub const MAX_QUERY_LENGTH: usize = 1000;
/// Hashtags `trendingHashtags` lists at most.
pub const MAX_TRENDING: i32 = 50;

pub fn builder() -> SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    nova_core::caller::subgraph_schema(Query, EmptyMutation, EmptySubscription)
}

pub fn build(searcher: Searcher) -> SearchSchema {
    builder().data(searcher).finish()
}

pub fn sdl() -> String {
    nova_core::sdl::federated_sdl(&builder().finish())
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum SearchType {
    User,
    Post,
    Hashtag,
}

/// A user found, with the matched words of their name or bio in `<em>`.
#[derive(SimpleObject)]
pub struct UserResult {
    user: User,
    highlight: Option<String>,
}

/// A post found, with the matched words in `<em>`.
#[derive(SimpleObject)]
pub struct PostResult {
    post: Post,
    highlight: Option<String>,
}

#[derive(Union)]
pub enum SearchResult {
    User(UserResult),
    Post(PostResult),
    Hashtag(Hashtag),
}

/// A hashtag (lowercase, without `#`) and its live posts.
pub struct Hashtag {
    name: String,
    post_count: i64,
}

#[Object]
impl Hashtag {
    async fn name(&self) -> &str {
        &self.name
    }
    /// Posts that carry it now.
    async fn post_count(&self) -> i64 {
        self.post_count
    }
    /// Its posts, newest first; none by an account blocked either way.
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Post>> {
        let page = PageRequest::new(first, after.as_deref())?;
        let viewer = Caller::of(ctx).user_id;
        let ids = ctx
            .data_unchecked::<Searcher>()
            .hashtag_posts(viewer, &self.name, page.after, page.limit())
            .await
            .or_internal()?;
        Ok(connection(
            page,
            ids.into_iter().map(|id| (id, Post::of(id))).collect(),
        ))
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum TrendingWindow {
    Hour,
    Day,
    Week,
}

fn hit(hit: Hit) -> SearchResult {
    match hit {
        Hit::User { id, highlight } => SearchResult::User(UserResult {
            user: User::of(id),
            highlight,
        }),
        Hit::Post { id, highlight } => SearchResult::Post(PostResult {
            post: Post::of(id),
            highlight,
        }),
        Hit::Hashtag { name, post_count } => SearchResult::Hashtag(Hashtag { name, post_count }),
    }
}

/// A hashtag argument as stored: lowercase, without a leading `#`.
fn tag_name(name: &str) -> String {
    name.trim().trim_start_matches('#').to_lowercase()
}

pub struct Query;

#[Object]
impl Query {
    /// Users, posts and hashtags matching `query`, best first. Typo-tolerant
    /// (one typo from 5 letters, two from 9), accent-insensitive, the last word
    /// matched as a prefix; query syntax characters are plain text. Nothing by
    /// or about an account that blocked you or that you blocked.
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        types: Option<Vec<SearchType>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, SearchResult>> {
        if query.chars().count() > MAX_QUERY_LENGTH {
            return Err(bad_input(
                "query",
                format!("query must be at most {MAX_QUERY_LENGTH} characters"),
            ));
        }
        let page = PositionPage::new(first, after.as_deref())?;
        let types =
            types.unwrap_or_else(|| vec![SearchType::User, SearchType::Post, SearchType::Hashtag]);
        let wanted = Wanted {
            kinds: Kinds {
                users: types.contains(&SearchType::User),
                posts: types.contains(&SearchType::Post),
            },
            hashtags: types.contains(&SearchType::Hashtag),
        };
        let viewer = Caller::of(ctx).user_id;
        // A hit's cursor is its rank (1, 2, …); `after` skips that many.
        let start = page
            .after
            .map_or(0, |after| usize::try_from(after).unwrap_or(0));
        let hits = ctx
            .data_unchecked::<Searcher>()
            .search(viewer, &query, wanted, start, page.limit() as usize)
            .await
            .or_internal()?;
        let rows = hits
            .into_iter()
            .enumerate()
            .map(|(i, h)| ((start + i) as i64 + 1, hit(h)))
            .collect();
        Ok(page.connection(rows))
    }

    /// A hashtag and its posts (`postCount` 0 when no live post carries it).
    async fn hashtag(&self, ctx: &Context<'_>, name: String) -> Result<Hashtag> {
        let name = tag_name(&name);
        if name.is_empty() {
            return Err(bad_input("name", "name must not be empty"));
        }
        let post_count = store::hashtag_count(&ctx.data_unchecked::<Searcher>().db, &name)
            .await
            .or_internal()?;
        Ok(Hashtag { name, post_count })
    }

    /// The hashtags used by the most posts within the window.
    async fn trending_hashtags(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "TrendingWindow::Day")] window: TrendingWindow,
        first: Option<i32>,
    ) -> Result<Vec<Hashtag>> {
        let first = first.unwrap_or(10);
        if !(1..=MAX_TRENDING).contains(&first) {
            return Err(bad_input(
                "first",
                format!("first must be between 1 and {MAX_TRENDING}"),
            ));
        }
        let first = i64::from(first);
        let since = Utc::now()
            - match window {
                TrendingWindow::Hour => chrono::Duration::hours(1),
                TrendingWindow::Day => chrono::Duration::days(1),
                TrendingWindow::Week => chrono::Duration::weeks(1),
            };
        let tags = store::trending(&ctx.data_unchecked::<Searcher>().db, since, first)
            .await
            .or_internal()?;
        Ok(tags
            .into_iter()
            .map(|(name, post_count)| Hashtag { name, post_count })
            .collect())
    }
}

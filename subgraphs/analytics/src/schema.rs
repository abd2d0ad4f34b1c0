//! analytics' GraphQL schema: `Post.stats` (the post's author only),
//! `Query.creatorStats` (the caller's own) and `Query.trendingPosts` (everyone;
//! only posts content serves now, none by an account blocked either way with
//! the viewer).

use std::collections::HashSet;

use async_graphql::dataloader::DataLoader;
use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, InputObject, Object, Result, Schema,
    SchemaBuilder, SimpleObject, ID,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use nova_core::errors::bad_input;
use nova_core::internal::{blocked_either_way, post_authors, InternalClient};
use nova_core::sdl::authenticated;
use nova_core::{Caller, ErrorCode};
use uuid::Uuid;

use crate::clickhouse::ClickHouse;
use crate::events::kind;
use crate::loaders::{PostAuthorLoader, PostCountsLoader};
use crate::store::{self, Counts};

pub type AnalyticsSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// The longest range a statistics query covers.
const MAX_RANGE_DAYS: i64 = 366;
const MAX_TRENDING: i32 = 50;

/// The owners analytics asks.
pub struct Owners {
    pub content: InternalClient,
    pub social: InternalClient,
}

pub fn builder() -> SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    nova_core::caller::subgraph_schema(Query, EmptyMutation, EmptySubscription)
}

pub fn build(clickhouse: ClickHouse, owners: Owners) -> AnalyticsSchema {
    builder()
        .data(nova_core::batching::loader(PostAuthorLoader {
            content: owners.content.clone(),
        }))
        .data(nova_core::batching::loader(PostCountsLoader {
            clickhouse: clickhouse.clone(),
        }))
        .data(clickhouse)
        .data(owners)
        .finish()
}

pub fn sdl() -> String {
    nova_core::sdl::federated_sdl(&builder().finish())
}

/// ClickHouse (or an owner) did not answer: say so, and log why.
fn unavailable(error: impl std::fmt::Display) -> async_graphql::Error {
    tracing::warn!(%error, "analytics read failed");
    ErrorCode::Unavailable.error("statistics are unavailable for now; retry later")
}

/// UTC days, both ends included.
#[derive(InputObject)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// `[from 00:00, the day after to 00:00)` in UTC, checked.
    fn bounds(&self) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
        let days = (self.to - self.from).num_days() + 1;
        if days < 1 {
            return Err(bad_input("range", "range.to must not be before range.from"));
        }
        if days > MAX_RANGE_DAYS {
            return Err(bad_input(
                "range",
                format!("a range covers at most {MAX_RANGE_DAYS} days"),
            ));
        }
        let start = self.from.and_hms_opt(0, 0, 0).expect("midnight exists");
        Ok((start.and_utc(), start.and_utc() + Duration::days(days)))
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum TrendingWindow {
    /// The last hour.
    Hour,
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
}

impl TrendingWindow {
    fn length(self) -> Duration {
        match self {
            TrendingWindow::Hour => Duration::hours(1),
            TrendingWindow::Day => Duration::days(1),
            TrendingWindow::Week => Duration::days(7),
        }
    }
}

/// One UTC day of a post.
#[derive(SimpleObject)]
pub struct DayStats {
    pub day: NaiveDate,
    pub views: i64,
    /// Distinct signed-in viewers that day.
    pub unique_viewers: i64,
    /// Likes given that day, minus likes taken back that day.
    pub likes: i64,
    /// Comments written that day, minus comments deleted that day.
    pub comments: i64,
}

/// A post's statistics, for its author.
pub struct PostStats {
    author: Uuid,
    post: Uuid,
    counts: Counts,
}

#[Object]
impl PostStats {
    /// Times the post was served: on a home feed page or its own page, signed
    /// in or not.
    async fn views(&self) -> i64 {
        self.counts.views()
    }
    /// Distinct signed-in accounts it was served to.
    async fn unique_viewers(&self) -> i64 {
        self.counts.unique_viewers()
    }
    /// Likes the post has now.
    async fn likes(&self) -> i64 {
        self.counts.likes()
    }
    /// Comments the post has now.
    async fn comments(&self) -> i64 {
        self.counts.comments()
    }
    /// Each UTC day of `range`, days without events included.
    async fn by_day(&self, ctx: &Context<'_>, range: DayRange) -> Result<Vec<DayStats>> {
        let (from, to) = range.bounds()?;
        let clickhouse = ctx.data_unchecked::<ClickHouse>();
        let days = store::post_days(clickhouse, self.author, self.post, from, to)
            .await
            .map_err(unavailable)?;
        Ok(range
            .from
            .iter_days()
            .take_while(|day| *day <= range.to)
            .map(|day| {
                let counts = days.get(&day.to_string()).cloned().unwrap_or_default();
                DayStats {
                    day,
                    views: counts.views(),
                    unique_viewers: counts.unique_viewers(),
                    likes: counts.likes(),
                    comments: counts.comments(),
                }
            })
            .collect())
    }
}

/// What happened to the caller's posts and account in a range.
#[derive(SimpleObject)]
pub struct CreatorStats {
    /// Posts published.
    pub posts: i64,
    /// Times their posts were served.
    pub views: i64,
    /// Distinct signed-in accounts their posts were served to.
    pub unique_viewers: i64,
    /// Likes their posts got, minus likes taken back.
    pub likes: i64,
    /// Comments on their posts, minus comments deleted.
    pub comments: i64,
    /// Accounts that followed them, minus those that unfollowed.
    pub new_followers: i64,
}

/// A post as analytics sees it: its statistics.
pub struct Post {
    id: Uuid,
}

#[Object]
impl Post {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// The post's statistics: its author's alone (anyone else gets null and
    /// `FORBIDDEN`; a post content no longer serves, null and `NOT_FOUND`).
    #[graphql(directive = authenticated::apply())]
    async fn stats(&self, ctx: &Context<'_>) -> Result<Option<PostStats>> {
        let caller = Caller::of(ctx).require_user()?;
        let author = ctx
            .data_unchecked::<DataLoader<PostAuthorLoader>>()
            .load_one(self.id)
            .await
            .map_err(unavailable)?;
        let Some(author) = author else {
            return Err(ErrorCode::NotFound.error("no such post"));
        };
        if author != caller {
            return Err(ErrorCode::Forbidden.error("only a post's author sees its stats"));
        }
        let counts = ctx
            .data_unchecked::<DataLoader<PostCountsLoader>>()
            .load_one((author, self.id))
            .await
            .map_err(unavailable)?
            .unwrap_or_default();
        Ok(Some(PostStats {
            author,
            post: self.id,
            counts,
        }))
    }
}

pub struct Query;

#[Object]
impl Query {
    /// What happened to the caller's posts and account over `range`.
    #[graphql(directive = authenticated::apply())]
    async fn creator_stats(&self, ctx: &Context<'_>, range: DayRange) -> Result<CreatorStats> {
        let caller = Caller::of(ctx).require_user()?;
        let (from, to) = range.bounds()?;
        let clickhouse = ctx.data_unchecked::<ClickHouse>();
        let counts = store::creator_counts(clickhouse, caller, from, to)
            .await
            .map_err(unavailable)?;
        Ok(CreatorStats {
            posts: counts.of(kind::POST_CREATED),
            views: counts.views(),
            unique_viewers: counts.unique_viewers(),
            likes: counts.likes(),
            comments: counts.comments(),
            new_followers: counts.follows(),
        })
    }

    /// The posts with the most engagement in `window`, highest first: score =
    /// views + 3 × likes + 5 × comments in the window (likes and comments net
    /// of those taken back), ties to the newer post.
    /// Only posts content serves now, and none by an account blocked either way
    /// with the viewer.
    async fn trending_posts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "TrendingWindow::Day")] window: TrendingWindow,
        #[graphql(default = 10)] first: i32,
    ) -> Result<Vec<Post>> {
        if !(1..=MAX_TRENDING).contains(&first) {
            return Err(bad_input(
                "first",
                format!("first must be between 1 and {MAX_TRENDING}"),
            ));
        }
        let clickhouse = ctx.data_unchecked::<ClickHouse>();
        let owners = ctx.data_unchecked::<Owners>();
        // Room for the posts the owners' checks leave out.
        let fetch = first as usize * 3 + 10;
        let since = Utc::now() - window.length();
        let ranked = store::trending(clickhouse, since, fetch)
            .await
            .map_err(unavailable)?;
        let ids: Vec<Uuid> = ranked
            .iter()
            .filter_map(|row| Uuid::parse_str(&row.post_id).ok())
            .collect();
        let authors = post_authors(&owners.content, &ids)
            .await
            .map_err(unavailable)?;
        let blocked: HashSet<Uuid> = match Caller::of(ctx).user_id {
            Some(viewer) => {
                let distinct: HashSet<Uuid> = authors.values().copied().collect();
                let distinct: Vec<Uuid> = distinct.into_iter().collect();
                blocked_either_way(&owners.social, viewer, &distinct)
                    .await
                    .map_err(unavailable)?
            }
            None => HashSet::new(),
        };
        Ok(ids
            .into_iter()
            .filter(|id| authors.get(id).is_some_and(|a| !blocked.contains(a)))
            .take(first as usize)
            .map(|id| Post { id })
            .collect())
    }

    #[graphql(entity)]
    async fn find_post_by_id(&self, id: ID) -> Option<Post> {
        Uuid::parse_str(id.as_str()).ok().map(|id| Post { id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(from: &str, to: &str) -> DayRange {
        DayRange {
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
        }
    }

    #[test]
    fn a_range_is_whole_utc_days_both_ends_included() {
        let (from, to) = range("2026-12-01", "2026-12-03").bounds().unwrap();
        assert_eq!(from.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-12-04T00:00:00+00:00");
        let (from, to) = range("2026-12-01", "2026-12-01").bounds().unwrap();
        assert_eq!(to - from, Duration::days(1));
    }

    #[test]
    fn a_reversed_or_too_long_range_is_refused() {
        let reversed = range("2026-12-03", "2026-12-01").bounds().unwrap_err();
        assert_eq!(reversed.message, "range.to must not be before range.from");
        let long = range("2025-01-01", "2026-01-02").bounds().unwrap_err();
        assert_eq!(long.message, "a range covers at most 366 days");
        assert!(range("2025-01-01", "2026-01-01").bounds().is_ok());
    }
}

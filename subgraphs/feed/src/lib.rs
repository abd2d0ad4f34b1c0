//! feed: the home timeline. Fan-out on write from content's and social's
//! events into a Redis sorted set per user (a cache of post ids, rebuilt from
//! the feed's own Postgres tables when missing); accounts with very many
//! followers are merged in at read time. Adds `Query.homeFeed` and
//! `Subscription.homeFeedUpdated`. No DataLoaders: a page is ids, and the
//! router resolves the posts from content in one `_entities` batch.

pub mod backfill;
pub mod events;
pub mod live;
pub mod page;
pub mod ranked;
pub mod ranking;
pub mod schema;
pub mod settings;
pub mod store;
pub mod timeline;

/// The migrations of `nova_feed`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/feed");

//! search: users, posts and hashtags in an embedded tantivy index, filled from
//! events and searched with typo tolerance and highlights. Adds `Query.search`,
//! `Query.hashtag` and `Query.trendingHashtags`. No DataLoaders: results are
//! ids, and the router resolves users and posts from their owners in one
//! `_entities` batch each.

pub mod backfill;
pub mod engine;
pub mod events;
pub mod index;
pub mod indexing;
pub mod internal;
pub mod query;
pub mod schema;
pub mod settings;
pub mod store;
pub mod text;

/// The migrations of `nova_search`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/search");

//! analytics: what happened on Nova, counted. Reads the domain events from Kafka
//! (posts, likes, comments, follows, messages sent — counts only, never content)
//! and inserts them in batches into ClickHouse (`events`, a `ReplacingMergeTree`
//! keyed by event id: a redelivered event is stored again and counted once, as
//! every read counts `uniqExact(event_id)`). Serves `Post.stats` to the post's
//! author, `creatorStats` to the caller and `trendingPosts` to everyone; keeps
//! the feed's ranking features in Redis (`features`).
//!
//! Rooms: `clickhouse` (the HTTP client and the table), `events` (what each
//! event becomes), `ingest` (the batch consumer), `store` (the reads, and the
//! erased accounts in Postgres), `loaders`, `schema`, `internal` (the user's
//! section of `exportMyData`).

pub mod clickhouse;
pub mod events;
pub mod features;
pub mod ingest;
pub mod internal;
pub mod loaders;
pub mod schema;
pub mod settings;
pub mod store;

/// The migrations of `nova_analytics`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/analytics");

//! social: follows, blocks, mutes and likes. Adds counts and viewer state to
//! `User` and `Post`, and `Query.suggestedUsers`.

pub mod events;
pub mod internal;
pub mod loaders;
pub mod schema;
pub mod store;

/// The migrations of `nova_social`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/social");

//! content: posts and comments. Owns `Post` and `Comment`; adds `User.posts`;
//! serves Relay's `node(id:)` / `nodes(ids:)` over every entity (`nodes.rs`);
//! reports and moderation of posts and comments (`moderation.rs`).

pub mod blocks;
pub mod events;
pub mod internal;
pub mod loaders;
pub mod media;
pub mod moderation;
pub mod nodes;
pub mod schema;
pub mod store;
pub mod text;

/// The migrations of `nova_content`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/content");

//! chat: direct and group conversations, members, messages (encrypted at rest),
//! read receipts and typing indicators, live through `Subscription.chatEvents`.

pub mod blocks;
pub mod crypto;
pub mod events;
pub mod internal;
pub mod live;
pub mod loaders;
pub mod schema;
pub mod store;

/// The migrations of `nova_chat`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/chat");

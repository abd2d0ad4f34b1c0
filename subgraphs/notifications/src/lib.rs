//! notifications: built from other domains' events (followed, liked, commented,
//! mentioned, messaged), grouped while unread, live through
//! `Subscription.notificationAdded`.

pub mod events;
pub mod internal;
pub mod live;
pub mod loaders;
pub mod schema;
pub mod store;

/// The migrations of `nova_notifications`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/notifications");

//! users: profiles. Contributes `displayName`, `bio` and `avatarUrl` to the `User`
//! entity that identity owns, and `Mutation.updateProfile`.

pub mod events;
pub mod internal;
pub mod loaders;
pub mod schema;
pub mod store;

/// The migrations of `nova_users`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/users");

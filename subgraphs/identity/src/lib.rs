//! identity: accounts, password hashing, sessions with refresh-token rotation,
//! signing keys and the JWKS the router verifies tokens with. Owns the `User`
//! entity's `id`, `username`, `createdAt` and `email`.

pub mod events;
pub mod internal;
pub mod keys;
pub mod loaders;
pub mod mail;
pub mod passwords;
pub mod schema;
pub mod store;
pub mod suspended_set;
pub mod tokens;
pub mod validation;

/// The migrations of `nova_identity`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/identity");

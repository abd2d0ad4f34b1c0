//! The schema registry: operators publish subgraph versions; each publish is
//! composed with the current versions of the other subgraphs and checked
//! (composition, breaking changes, shipped operations) before it becomes the
//! current supergraph. Routers never depend on the registry: a sync agent
//! (`nova supergraph sync`) beside each router copies the current supergraph into
//! the file the router watches, so a registry outage changes nothing for them.
//! Routers do send it usage reports (the operations they executed, `usage`),
//! which checks hold changes against; a report that fails is dropped by the
//! router, never retried on a request's path.

pub mod api;
pub mod auth;
pub mod checks;
pub mod metrics;
pub mod rollout;
pub mod store;
pub mod usage;

/// The migrations of `nova_registry`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/registry");

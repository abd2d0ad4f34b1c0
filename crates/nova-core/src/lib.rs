//! What every Nova subgraph shares, written once: configuration from the
//! environment, telemetry, the Postgres pool, the caller's identity as forwarded by
//! the router, GraphQL error codes, SDL export and the HTTP app (GraphQL, health,
//! metrics), and the event backbone (Kafka, outbox, idempotent consumers).

pub mod attachments;
pub mod batching;
pub mod caller;
pub mod config;
pub mod connection;
pub mod db;
pub mod entities;
pub mod errors;
pub mod events;
pub mod features;
pub mod http;
pub mod internal;
pub mod live;
pub mod message_reports;
pub mod metrics;
pub mod personal_data;
pub mod readiness;
pub mod scrape;
pub mod sdl;
pub mod shutdown;
pub mod suspensions;
pub mod telemetry;
pub mod views;

pub use caller::Caller;
pub use errors::ErrorCode;

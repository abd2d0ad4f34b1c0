//! Supergraph checks, written once for `cargo xtask compose`/`pq` and the schema
//! registry: compose subgraphs with Apollo's rules (`apollo-federation`), derive
//! the client-facing API schema, classify the changes between two API schemas,
//! and validate shipped operations against one.

pub mod access;
pub mod changes;
pub mod compose;
pub mod directives;
pub mod operations;
pub mod rollout;
pub mod supergraph_config;
pub mod usage;

pub use access::{access_changes, requirements, AccessChange};
pub use changes::{changes, Change, Severity};
pub use compose::{api_schema, compose, SubgraphSource};
pub use directives::directive_changes;
pub use operations::{
    affected_by_defaults, broken_at_runtime, broken_operations, AffectedOperation, BrokenOperation,
    ShippedOperation,
};
pub use usage::field_coordinates;

//! Shipped operations (the persisted-query manifest) against an API schema.

use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde::Deserialize;

/// One entry of an Apollo persisted-query manifest.
#[derive(Clone, Debug, Deserialize)]
pub struct ShippedOperation {
    pub id: String,
    pub name: String,
    pub body: String,
}

#[derive(Deserialize)]
struct Manifest {
    operations: Vec<ShippedOperation>,
}

impl ShippedOperation {
    /// The operations of a manifest (`persisted-queries/manifest.json`).
    pub fn from_manifest(json: &str) -> Result<Vec<ShippedOperation>, String> {
        serde_json::from_str::<Manifest>(json)
            .map(|m| m.operations)
            .map_err(|e| format!("not a persisted-query manifest: {e}"))
    }

    /// Why the operation does not validate against `schema`, if it does not.
    pub fn validation_error(&self, schema: &Valid<Schema>) -> Option<String> {
        ExecutableDocument::parse_and_validate(schema, &self.body, &self.name)
            .err()
            .map(|errors| errors.errors.to_string())
    }
}

/// A shipped operation a change would break.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenOperation {
    pub name: String,
    pub error: String,
}

/// The operations that validate against `current` but not against `candidate`.
/// An operation that was already broken is not the candidate's doing, and with
/// no current schema (the first publishes) nothing shipped can have worked.
pub fn broken_operations(
    operations: &[ShippedOperation],
    current: Option<&Valid<Schema>>,
    candidate: &Valid<Schema>,
) -> Vec<BrokenOperation> {
    operations
        .iter()
        .filter(|op| current.is_some_and(|current| op.validation_error(current).is_none()))
        .filter_map(|op| {
            op.validation_error(candidate).map(|error| BrokenOperation {
                name: op.name.clone(),
                error,
            })
        })
        .collect()
}

//! Shipped operations (the persisted-query manifest) against an API schema.

use std::collections::BTreeSet;

use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde::Deserialize;

use crate::access::{AccessChange, Requirements};
use crate::changes::{Change, Severity};
use crate::usage::Usage;

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

/// The operations that still validate against the candidate but whose requests
/// would fail: a variable carrying a type a breaking change touched (a required
/// input field added, an input field retyped, an enum value removed: coercion
/// fails), or a selected field that gains an access requirement none of the
/// operation's fields had before (its signed-out callers lose the field).
pub fn broken_at_runtime(
    operations: &[ShippedOperation],
    current: &Valid<Schema>,
    changes: &[Change],
    access: &[AccessChange],
    current_requirements: &Requirements,
) -> Vec<BrokenOperation> {
    let mut broken = Vec::new();
    for operation in operations {
        let Some(usage) = Usage::of(operation, current) else {
            continue;
        };
        let coercion = changes.iter().find(|change| {
            let type_name = change.path.split(['.', '(']).next().unwrap_or_default();
            change.severity == Severity::Breaking && usage.variable_types.contains(type_name)
        });
        if let Some(change) = coercion {
            broken.push(BrokenOperation {
                name: operation.name.clone(),
                error: format!(
                    "its variables carry {}, and {}: requests that send them fail",
                    change.path, change.message
                ),
            });
            continue;
        }
        let needed_before: BTreeSet<&String> = usage
            .fields
            .iter()
            .filter_map(|field| current_requirements.get(field))
            .flatten()
            .collect();
        let gated = access.iter().find(|change| {
            change.added
                && usage.fields.contains(&change.field)
                && !needed_before.contains(&change.requirement)
        });
        if let Some(change) = gated {
            broken.push(BrokenOperation {
                name: operation.name.clone(),
                error: format!(
                    "it selects {}, which now requires {}; none of its fields did, so callers \
                     without it would get null and an error",
                    change.field, change.requirement
                ),
            });
        }
    }
    broken
}

/// A shipped operation whose requests keep working but may mean something else.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AffectedOperation {
    pub name: String,
    pub reason: String,
}

/// The operations that may leave out an argument whose default the candidate
/// changes (not written, or given by a variable a request may omit): the new
/// default applies to those requests (`first: Int` → `first: Int! = 20` gives
/// requests that omitted `first` twenty items, and a resolver that refuses
/// `first` with `last` would now refuse them).
pub fn affected_by_defaults(
    operations: &[ShippedOperation],
    current: &Valid<Schema>,
    candidate: &Valid<Schema>,
) -> Vec<AffectedOperation> {
    let mut affected = Vec::new();
    for operation in operations {
        let Some(usage) = Usage::of(operation, current) else {
            continue;
        };
        let reasons: Vec<String> = usage
            .defaulted_arguments
            .iter()
            .filter_map(|argument| {
                let (before, after) = (
                    default_of(current, argument),
                    default_of(candidate, argument),
                );
                let change = match (before, after) {
                    (None, Some(new)) => format!("is now {new} (none applied before)"),
                    (Some(old), Some(new)) if old != new => format!("changed from {old} to {new}"),
                    (Some(old), None) => format!("{old} no longer applies"),
                    _ => return None,
                };
                Some(format!(
                    "it may leave out {argument}, whose default {change}"
                ))
            })
            .collect();
        if !reasons.is_empty() {
            affected.push(AffectedOperation {
                name: operation.name.clone(),
                reason: reasons.join("; "),
            });
        }
    }
    affected
}

/// The default of argument `Type.field(argument:)` in `schema`, printed.
fn default_of(schema: &Valid<Schema>, argument: &str) -> Option<String> {
    let (field, name) = argument.strip_suffix(":)")?.split_once('(')?;
    let (type_name, field) = field.split_once('.')?;
    let definition = schema.type_field(type_name, field).ok()?;
    let argument = definition.arguments.iter().find(|a| a.name == name)?;
    argument
        .default_value
        .as_ref()
        .map(|value| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{access_changes, changes, requirements};

    const SCHEMA: &str = r#"
        directive @authenticated on FIELD_DEFINITION | OBJECT
        type Query { user(name: String!): User, me: User @authenticated }
        type Mutation { updateProfile(input: ProfileInput!): User }
        type User { id: ID!, name: String, email: String }
        input ProfileInput { name: String }
    "#;

    fn operation(name: &str, body: &str) -> ShippedOperation {
        ShippedOperation {
            id: name.into(),
            name: name.into(),
            body: body.into(),
        }
    }

    /// The operations that `new` breaks at runtime though they still validate.
    fn broken_by(new: &str) -> Vec<String> {
        let parse = |sdl: &str| Schema::parse_and_validate(sdl, "s.graphql").unwrap();
        let (old_schema, new_schema) = (parse(SCHEMA), parse(new));
        let operations = [
            operation("Profile", "query Profile { user(name: \"a\") { id name } }"),
            operation(
                "Update",
                "mutation Update($p: ProfileInput!) { updateProfile(input: $p) { id } }",
            ),
            operation(
                "Mine",
                "query Mine { me { id } user(name: \"a\") { email } }",
            ),
        ];
        let before = requirements(SCHEMA);
        let access = access_changes(&before, &requirements(new));
        let changes = changes(&old_schema, &new_schema);
        assert!(broken_operations(&operations, Some(&old_schema), &new_schema).is_empty());
        broken_at_runtime(&operations, &old_schema, &changes, &access, &before)
            .into_iter()
            .map(|b| b.name)
            .collect()
    }

    #[test]
    fn a_required_input_field_breaks_the_operations_that_send_the_input() {
        let new = SCHEMA.replace(
            "input ProfileInput { name: String }",
            "input ProfileInput { name: String, bio: String! }",
        );
        assert_eq!(broken_by(&new), ["Update"]);
    }

    #[test]
    fn a_field_that_now_needs_a_sign_in_breaks_operations_that_needed_none() {
        // `Mine` already needed a signed-in caller (`me`): its callers have one.
        let new = SCHEMA.replace("email: String }", "email: String @authenticated }");
        assert_eq!(broken_by(&new), Vec::<String>::new());
        let new = SCHEMA.replace("name: String, email", "name: String @authenticated, email");
        assert_eq!(broken_by(&new), ["Profile"]);
        // Through the type it returns, too.
        let new = SCHEMA.replace("type User {", "type User @authenticated {");
        assert_eq!(broken_by(&new), ["Profile", "Update"]);
    }

    #[test]
    fn a_default_that_now_applies_is_surfaced_for_operations_that_omit_the_argument() {
        let schema = |user: &str| {
            Schema::parse_and_validate(
                format!("type Query {{ {user} }} type User {{ id: ID! }}"),
                "s.graphql",
            )
            .unwrap()
        };
        let before = schema("users(first: Int, last: Int): [User!]!");
        let after = schema("users(first: Int! = 20, last: Int): [User!]!");
        let operations = [
            operation("Newest", "query Newest { users(last: 5) { id } }"),
            operation("Oldest", "query Oldest { users(first: 5) { id } }"),
            operation(
                "Paged",
                "query Paged($first: Int) { users(first: $first) { id } }",
            ),
            operation(
                "Sized",
                "query Sized($first: Int = 3) { users(first: $first) { id } }",
            ),
        ];
        let reason = "it may leave out Query.users(first:), whose default is now 20 (none \
                      applied before)";
        assert_eq!(
            affected_by_defaults(&operations, &before, &after),
            ["Newest", "Paged"].map(|name| AffectedOperation {
                name: name.into(),
                reason: reason.into(),
            })
        );
    }

    #[test]
    fn access_changes_are_reported_both_ways() {
        let new = SCHEMA
            .replace("name: String, email", "name: String @authenticated, email")
            .replace("me: User @authenticated", "me: User");
        let access: Vec<Change> = access_changes(&requirements(SCHEMA), &requirements(&new))
            .iter()
            .map(AccessChange::as_change)
            .collect();
        let found: Vec<(Severity, &str)> = access
            .iter()
            .map(|c| (c.severity, c.path.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (Severity::Dangerous, "Query.me"),
                (Severity::Breaking, "User.name")
            ]
        );
    }
}

//! What changes between two API schemas, and how much a client can feel it,
//! classified as graphql-inspector does.
//!
//! Breaking: a query that worked can now fail (a type, field, argument, enum
//! value, union member or interface removed; an output type changed other than
//! narrowed; an input type changed other than widened — `Int` → `Int! = 20`
//! too, which refuses an explicit `null`; a required argument or input field
//! added). Dangerous: valid queries keep validating but may see something new (an
//! enum value, union member or interface implementation added, an argument
//! default changed). Safe: additions, widened inputs, narrowed outputs (`[ID]` →
//! `[ID!]`), descriptions and deprecations.
//!
//! Where Nova keeps its own answer: an optional argument added is safe (inspector
//! calls it dangerous, yet no query changes meaning); directives other than
//! `@deprecated` are not in the API schema compared here: access directives
//! are compared in `access.rs`, `@tag`, `@inaccessible`, keys and `@override`
//! in `directives.rs`. The whole table: docs/registry.md.

use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::Schema;
use serde::Serialize;

mod fields;
#[cfg(test)]
mod inspector_cases;
mod notes;

use fields::{added_input, compare_fields, compare_input, Fields};
use notes::{compare_deprecation, compare_description};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Breaking,
    Dangerous,
    Safe,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub severity: Severity,
    /// `Type`, `Type.field`, `Type.field(argument:)`, `Enum.VALUE`.
    pub path: String,
    pub message: String,
}

fn change(severity: Severity, path: String, message: String) -> Change {
    Change {
        severity,
        path,
        message,
    }
}

fn kind(ty: &ExtendedType) -> &'static str {
    match ty {
        ExtendedType::Scalar(_) => "scalar",
        ExtendedType::Object(_) => "object",
        ExtendedType::Interface(_) => "interface",
        ExtendedType::Union(_) => "union",
        ExtendedType::Enum(_) => "enum",
        ExtendedType::InputObject(_) => "input object",
    }
}

/// Every change from `old` to `new`, breaking first.
pub fn changes(old: &Valid<Schema>, new: &Valid<Schema>) -> Vec<Change> {
    let mut found = Vec::new();
    for (name, old_type) in &old.types {
        if old_type.is_built_in() {
            continue;
        }
        let Some(new_type) = new.types.get(name) else {
            found.push(change(
                Severity::Breaking,
                name.to_string(),
                format!("{} {name} was removed", kind(old_type)),
            ));
            continue;
        };
        if kind(old_type) != kind(new_type) {
            found.push(change(
                Severity::Breaking,
                name.to_string(),
                format!(
                    "{name} changed from {} to {}",
                    kind(old_type),
                    kind(new_type)
                ),
            ));
            continue;
        }
        compare_description(
            name.as_str(),
            kind(old_type),
            old_type.description().map(|d| &**d),
            new_type.description().map(|d| &**d),
            &mut found,
        );
        compare_type(name.as_str(), old_type, new_type, &mut found);
    }
    for (name, new_type) in &new.types {
        if !new_type.is_built_in() && !old.types.contains_key(name) {
            found.push(change(
                Severity::Safe,
                name.to_string(),
                format!("{} {name} was added", kind(new_type)),
            ));
        }
    }
    found.sort_by(|a, b| a.severity.cmp(&b.severity).then(a.path.cmp(&b.path)));
    found
}

fn compare_type(name: &str, old: &ExtendedType, new: &ExtendedType, found: &mut Vec<Change>) {
    match (old, new) {
        (ExtendedType::Object(_), ExtendedType::Object(_))
        | (ExtendedType::Interface(_), ExtendedType::Interface(_)) => {
            if let (Some((old_fields, old_interfaces)), Some((new_fields, new_interfaces))) =
                (fields_and_interfaces(old), fields_and_interfaces(new))
            {
                compare_fields(name, old_fields, new_fields, found);
                compare_interfaces(name, old_interfaces, new_interfaces, found);
            }
        }
        (ExtendedType::Union(old), ExtendedType::Union(new)) => {
            compare_members(
                name,
                "member",
                &old.members,
                &new.members,
                Severity::Dangerous,
                found,
            );
        }
        (ExtendedType::Enum(old), ExtendedType::Enum(new)) => {
            for value in old.values.keys() {
                if !new.values.contains_key(value) {
                    found.push(change(
                        Severity::Breaking,
                        format!("{name}.{value}"),
                        format!("enum value {name}.{value} was removed"),
                    ));
                }
            }
            for (value, old_value) in &old.values {
                let Some(new_value) = new.values.get(value) else {
                    continue;
                };
                let path = format!("{name}.{value}");
                let (old_notes, new_notes) = (&old_value.description, &new_value.description);
                compare_description(
                    &path,
                    "enum value",
                    old_notes.as_deref(),
                    new_notes.as_deref(),
                    found,
                );
                compare_deprecation(
                    &path,
                    "enum value",
                    &old_value.directives,
                    &new_value.directives,
                    found,
                );
            }
            for value in new.values.keys() {
                if !old.values.contains_key(value) {
                    found.push(change(
                        Severity::Dangerous,
                        format!("{name}.{value}"),
                        format!("enum value {name}.{value} was added (clients that switch over all values may not expect it)"),
                    ));
                }
            }
        }
        (ExtendedType::InputObject(old), ExtendedType::InputObject(new)) => {
            for (field, old_field) in &old.fields {
                let path = format!("{name}.{field}");
                match new.fields.get(field) {
                    None => found.push(change(
                        Severity::Breaking,
                        path.clone(),
                        format!("input field {path} was removed"),
                    )),
                    Some(new_field) => {
                        compare_input(&path, "input field", old_field, new_field, found)
                    }
                }
            }
            for (field, new_field) in &new.fields {
                if !old.fields.contains_key(field) {
                    found.push(added_input(
                        &format!("{name}.{field}"),
                        "input field",
                        new_field,
                    ));
                }
            }
        }
        _ => {}
    }
}

type Interfaces = apollo_compiler::collections::IndexSet<apollo_compiler::schema::ComponentName>;

/// The fields and implemented interfaces of an object or interface type.
fn fields_and_interfaces(ty: &ExtendedType) -> Option<(&Fields, &Interfaces)> {
    match ty {
        ExtendedType::Object(object) => Some((&object.fields, &object.implements_interfaces)),
        ExtendedType::Interface(interface) => {
            Some((&interface.fields, &interface.implements_interfaces))
        }
        _ => None,
    }
}

/// An implementation added is dangerous like a union member added: a field of
/// the interface's type may now return an object clients have not seen there.
fn compare_interfaces(name: &str, old: &Interfaces, new: &Interfaces, found: &mut Vec<Change>) {
    compare_members(name, "interface", old, new, Severity::Dangerous, found);
}

fn compare_members<T: std::fmt::Display + Eq + std::hash::Hash>(
    name: &str,
    what: &str,
    old: &apollo_compiler::collections::IndexSet<T>,
    new: &apollo_compiler::collections::IndexSet<T>,
    added: Severity,
    found: &mut Vec<Change>,
) {
    for member in old {
        if !new.contains(member) {
            found.push(change(
                Severity::Breaking,
                name.to_string(),
                format!("{what} {member} was removed from {name}"),
            ));
        }
    }
    for member in new {
        if !old.contains(member) {
            found.push(change(
                added,
                name.to_string(),
                format!("{what} {member} was added to {name}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(sdl: &str) -> Valid<Schema> {
        Schema::parse_and_validate(sdl, "test.graphql").unwrap()
    }

    const OLD: &str = r#"
        type Query { post(id: ID!, first: Int): Post, kind: Kind }
        type Post { id: ID!, body: String!, title: String }
        enum Kind { A B }
        input Filter { tag: String, limit: Int! }
        type Mutation { search(filter: Filter): [Post!]! }
    "#;

    fn severities(new: &str) -> Vec<(Severity, String)> {
        changes(&schema(OLD), &schema(new))
            .into_iter()
            .map(|c| (c.severity, c.path))
            .collect()
    }

    #[test]
    fn nothing_changed_is_no_change() {
        assert!(severities(OLD).is_empty());
    }

    #[test]
    fn removals_and_retyping_break() {
        let new = OLD
            .replace("body: String!, ", "")
            .replace("enum Kind { A B }", "enum Kind { A }")
            .replace("post(id: ID!, first: Int)", "post(id: ID!)")
            .replace("title: String", "title: Int");
        let found = severities(&new);
        for path in ["Post.body", "Kind.B", "Query.post(first:)", "Post.title"] {
            assert!(
                found.contains(&(Severity::Breaking, path.to_string())),
                "{path} not breaking in {found:?}"
            );
        }
    }

    #[test]
    fn stricter_inputs_break_and_looser_ones_are_safe() {
        let stricter = OLD.replace(
            "input Filter { tag: String,",
            "input Filter { tag: String!,",
        );
        assert_eq!(
            severities(&stricter),
            vec![(Severity::Breaking, "Filter.tag".to_string())]
        );
        let looser = OLD.replace("limit: Int!", "limit: Int");
        assert_eq!(
            severities(&looser),
            vec![(Severity::Safe, "Filter.limit".to_string())]
        );
        let required_argument = OLD.replace(
            "post(id: ID!, first: Int)",
            "post(id: ID!, first: Int, after: String!)",
        );
        assert_eq!(
            severities(&required_argument),
            vec![(Severity::Breaking, "Query.post(after:)".to_string())]
        );
    }

    #[test]
    fn additions_are_safe_and_new_enum_values_dangerous() {
        let new = OLD
            .replace("title: String }", "title: String, views: Int }")
            .replace("enum Kind { A B }", "enum Kind { A B C }");
        let found = severities(&new);
        assert!(found.contains(&(Severity::Safe, "Post.views".to_string())));
        assert!(found.contains(&(Severity::Dangerous, "Kind.C".to_string())));
        assert!(found.iter().all(|(s, _)| *s != Severity::Breaking));
    }
}

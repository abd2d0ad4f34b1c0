//! Directive changes the API schema does not show, compared on the
//! supergraphs: `@tag` (contracts and tooling select by it), `@inaccessible`
//! (hides an element from clients), keys (`@key`, composed as
//! `@join__type(key:)`) and `@override` (`@join__field(override:)`). The access
//! directives have their own rules (`access.rs`).
//!
//! - `@tag` added or removed: safe — clients see nothing; a contract built on the
//!   tag gains or loses the element.
//! - `@inaccessible` added: breaking — the element leaves the API schema (the
//!   API diff also lists it as removed; this says why). Removed: safe.
//! - A key added: safe — another way for the planner to join, no client sees
//!   it (graphql-inspector has no rule for it). A key removed: dangerous — plans
//!   that joined through it change, and subgraphs that referenced it no longer
//!   compose (composition refuses those).
//! - `@override` added or changed: dangerous — another subgraph answers the
//!   field from now on, with its data and its errors.

use std::collections::{BTreeMap, BTreeSet};

use apollo_compiler::ast::DirectiveList;
use apollo_compiler::schema::{Component, ExtendedType};
use apollo_compiler::Schema;

use crate::changes::{Change, Severity};

/// One directive fact about one element: `(path, fact)`, as `("Post.body",
/// "@tag(name: \"public\")")`.
type Facts = BTreeSet<(String, Fact)>;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fact {
    Tag(String),
    Inaccessible,
    /// `(subgraph, key fields)`.
    Key(String, String),
    /// `(subgraph now answering, subgraph overridden)`.
    Override(String, String),
}

/// Directive changes from the `current` to the `candidate` supergraph, for
/// elements both have (a new element's directives are part of adding it).
pub fn directive_changes(current: &str, candidate: &str) -> Vec<Change> {
    let (before, before_paths) = facts(current);
    let (after, after_paths) = facts(candidate);
    let mut found = Vec::new();
    for (path, fact) in after.difference(&before) {
        if before_paths.contains(path) {
            found.push(added(path, fact));
        }
    }
    for (path, fact) in before.difference(&after) {
        if after_paths.contains(path) {
            found.push(removed(path, fact));
        }
    }
    found.sort_by(|a, b| a.severity.cmp(&b.severity).then(a.path.cmp(&b.path)));
    found
}

fn added(path: &str, fact: &Fact) -> Change {
    let (severity, message) = match fact {
        Fact::Tag(tag) => (
            Severity::Safe,
            format!("tag \"{tag}\" added to {path}: contracts that select it now include it"),
        ),
        Fact::Inaccessible => (
            Severity::Breaking,
            format!("{path} became @inaccessible: clients can no longer use it"),
        ),
        Fact::Key(subgraph, fields) => (
            Severity::Safe,
            format!("key \"{fields}\" added to {path} in {subgraph}: changes query planning only"),
        ),
        Fact::Override(to, from) => (
            Severity::Dangerous,
            format!("{path} is now answered by {to} instead of {from} (@override)"),
        ),
    };
    change(severity, path, message)
}

fn removed(path: &str, fact: &Fact) -> Change {
    let (severity, message) = match fact {
        Fact::Tag(tag) => (
            Severity::Safe,
            format!("tag \"{tag}\" removed from {path}: contracts that select it leave it out"),
        ),
        Fact::Inaccessible => (
            Severity::Safe,
            format!("{path} is no longer @inaccessible: clients can use it"),
        ),
        Fact::Key(subgraph, fields) => (
            Severity::Dangerous,
            format!("key \"{fields}\" removed from {path} in {subgraph}: plans that joined through it change"),
        ),
        Fact::Override(to, from) => (
            Severity::Dangerous,
            format!("{path} is no longer moved from {from} to {to} (@override removed)"),
        ),
    };
    change(severity, path, message)
}

fn change(severity: Severity, path: &str, message: String) -> Change {
    Change {
        severity,
        path: path.to_string(),
        message,
    }
}

/// Every directive fact of a supergraph, and every element path it has.
fn facts(supergraph_sdl: &str) -> (Facts, BTreeSet<String>) {
    // A stored or composed supergraph parses; a partial schema at worst.
    let schema = Schema::parse(supergraph_sdl, "supergraph.graphql")
        .unwrap_or_else(|with_errors| with_errors.partial);
    let graphs = graph_names(&schema);
    let mut facts = Facts::new();
    let mut paths = BTreeSet::new();
    let mut element = |path: String, directives: &DirectiveList| {
        for fact in element_facts(directives, &graphs) {
            facts.insert((path.clone(), fact));
        }
        paths.insert(path);
    };
    for (name, ty) in &schema.types {
        if ty.is_built_in() || name.starts_with("join__") || name.starts_with("link__") {
            continue;
        }
        element(name.to_string(), &plain(ty.directives()));
        match ty {
            ExtendedType::Object(object) => {
                for (field_name, field) in &object.fields {
                    let path = format!("{name}.{field_name}");
                    element(path.clone(), &field.directives);
                    for argument in &field.arguments {
                        element(format!("{path}({}:)", argument.name), &argument.directives);
                    }
                }
            }
            ExtendedType::Interface(interface) => {
                for (field_name, field) in &interface.fields {
                    element(format!("{name}.{field_name}"), &field.directives);
                }
            }
            ExtendedType::InputObject(input) => {
                for (field_name, field) in &input.fields {
                    element(format!("{name}.{field_name}"), &field.directives);
                }
            }
            ExtendedType::Enum(enumeration) => {
                for (value_name, value) in &enumeration.values {
                    element(format!("{name}.{value_name}"), &value.directives);
                }
            }
            ExtendedType::Scalar(_) | ExtendedType::Union(_) => {}
        }
    }
    (facts, paths)
}

/// A type's directives as one list (a type's come in components).
fn plain(directives: &apollo_compiler::schema::DirectiveList) -> DirectiveList {
    DirectiveList(
        directives
            .iter()
            .map(|directive: &Component<_>| directive.node.clone())
            .collect(),
    )
}

/// Subgraph names by their `join__Graph` value (`PROFILES` → `profiles`).
fn graph_names(schema: &Schema) -> BTreeMap<String, String> {
    let Some(ExtendedType::Enum(graphs)) = schema.types.get("join__Graph") else {
        return BTreeMap::new();
    };
    graphs
        .values
        .iter()
        .filter_map(|(value, definition)| {
            let name = definition
                .directives
                .get("join__graph")?
                .specified_argument_by_name("name")?
                .as_str()?
                .to_string();
            Some((value.to_string(), name))
        })
        .collect()
}

fn element_facts(directives: &DirectiveList, graphs: &BTreeMap<String, String>) -> Vec<Fact> {
    let text = |directive: &apollo_compiler::ast::Directive, name: &str| {
        directive
            .specified_argument_by_name(name)
            .and_then(|value| value.as_str().map(str::to_string))
    };
    let graph = |directive: &apollo_compiler::ast::Directive| {
        directive
            .specified_argument_by_name("graph")
            .and_then(|value| value.as_enum())
            .map(|value| {
                graphs
                    .get(value.as_str())
                    .cloned()
                    .unwrap_or_else(|| value.to_string())
            })
            .unwrap_or_default()
    };
    directives
        .iter()
        .filter_map(|directive| match directive.name.as_str() {
            "tag" => text(directive, "name").map(Fact::Tag),
            "inaccessible" => Some(Fact::Inaccessible),
            "join__type" => text(directive, "key").map(|key| Fact::Key(graph(directive), key)),
            "join__field" => {
                text(directive, "override").map(|from| Fact::Override(graph(directive), from))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
#[path = "directives_tests.rs"]
mod tests;

//! Who may read a field: the access directives of a supergraph
//! (`@authenticated`, `@requiresScopes`, `@policy`). The API schema clients see
//! does not carry them, so the change check compares the supergraphs: a
//! requirement added turns signed-out callers' data into nulls and errors, one
//! removed opens a field to everyone.

use std::collections::{BTreeMap, BTreeSet};

use apollo_compiler::schema::ExtendedType;
use apollo_compiler::Schema;

use crate::changes::{Change, Severity};

const ACCESS_DIRECTIVES: [&str; 3] = ["authenticated", "requiresScopes", "policy"];

/// Each field's requirements (`Type.field` → `@authenticated`, …): its own and
/// those of the type it returns; every field of an object or interface type is
/// listed, with none when nothing is required.
pub type Requirements = BTreeMap<String, BTreeSet<String>>;

/// The requirements of every field of a supergraph.
pub fn requirements(supergraph_sdl: &str) -> Requirements {
    // A stored or composed supergraph parses; a partial schema at worst.
    let schema = Schema::parse(supergraph_sdl, "supergraph.graphql")
        .unwrap_or_else(|with_errors| with_errors.partial);
    let of = |directives: &apollo_compiler::ast::DirectiveList| -> BTreeSet<String> {
        directives
            .iter()
            .filter(|d| ACCESS_DIRECTIVES.contains(&d.name.as_str()))
            .map(|d| d.to_string())
            .collect()
    };
    let on_type: BTreeMap<&str, BTreeSet<String>> = schema
        .types
        .iter()
        .map(|(name, ty)| {
            let directives = ty
                .directives()
                .iter()
                .filter(|d| ACCESS_DIRECTIVES.contains(&d.name.as_str()))
                .map(|d| d.to_string())
                .collect();
            (name.as_str(), directives)
        })
        .collect();
    let mut found = Requirements::new();
    for (type_name, ty) in &schema.types {
        let fields = match ty {
            ExtendedType::Object(object) => &object.fields,
            ExtendedType::Interface(interface) => &interface.fields,
            _ => continue,
        };
        for (field_name, field) in fields {
            let mut needs = of(&field.directives);
            if let Some(returned) = on_type.get(field.ty.inner_named_type().as_str()) {
                needs.extend(returned.iter().cloned());
            }
            found.insert(format!("{type_name}.{field_name}"), needs);
        }
    }
    found
}

/// A requirement that a field gained (`added`) or lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessChange {
    pub field: String,
    pub requirement: String,
    pub added: bool,
}

impl AccessChange {
    /// As a change in the report: added breaks signed-out callers; removed is
    /// dangerous, a security decision someone should have made on purpose.
    pub fn as_change(&self) -> Change {
        let (severity, message) = if self.added {
            (
                Severity::Breaking,
                format!(
                    "field {} now requires {}: callers without it get null and an error",
                    self.field, self.requirement
                ),
            )
        } else {
            (
                Severity::Dangerous,
                format!(
                    "field {} no longer requires {}: callers without it may read it now",
                    self.field, self.requirement
                ),
            )
        };
        Change {
            severity,
            path: self.field.clone(),
            message,
        }
    }
}

/// Requirements added and removed between two supergraphs, for fields both have
/// (a new field's requirements are part of adding it).
pub fn access_changes(current: &Requirements, candidate: &Requirements) -> Vec<AccessChange> {
    let mut found = Vec::new();
    for (field, before) in current {
        let Some(after) = candidate.get(field) else {
            continue;
        };
        for requirement in after.difference(before) {
            found.push(AccessChange {
                field: field.clone(),
                requirement: requirement.clone(),
                added: true,
            });
        }
        for requirement in before.difference(after) {
            found.push(AccessChange {
                field: field.clone(),
                requirement: requirement.clone(),
                added: false,
            });
        }
    }
    found
}

//! The rules for fields, arguments and input values: what removing, adding or
//! retyping one does to clients that already send or read it.

use apollo_compiler::ast::Type;
use apollo_compiler::schema::InputValueDefinition;
use apollo_compiler::Node;

use super::notes::{compare_deprecation, compare_description};
use super::{change, Change, Severity};

/// Whether every value the `old` input type accepts, `new` accepts too: the
/// same named type, with non-null dropped or kept at each level (`[ID!]!` →
/// `[ID]`). Read the other way round, whether an output type only narrowed.
fn accepts_all_of(old: &Type, new: &Type) -> bool {
    match (old, new) {
        (Type::Named(old), Type::Named(new))
        | (Type::NonNullNamed(old), Type::NonNullNamed(new))
        | (Type::NonNullNamed(old), Type::Named(new)) => old == new,
        (Type::List(old), Type::List(new))
        | (Type::NonNullList(old), Type::NonNullList(new))
        | (Type::NonNullList(old), Type::List(new)) => accepts_all_of(old, new),
        _ => false,
    }
}

pub(super) type Fields = apollo_compiler::collections::IndexMap<
    apollo_compiler::Name,
    apollo_compiler::schema::Component<apollo_compiler::schema::FieldDefinition>,
>;

pub(super) fn compare_fields(name: &str, old: &Fields, new: &Fields, found: &mut Vec<Change>) {
    for (field, old_field) in old {
        let path = format!("{name}.{field}");
        let Some(new_field) = new.get(field) else {
            found.push(change(
                Severity::Breaking,
                path.clone(),
                format!("field {path} was removed"),
            ));
            continue;
        };
        if old_field.ty != new_field.ty {
            // Narrower output (non-null where it was nullable, at any level):
            // every value clients can now receive, they could before.
            found.push(if accepts_all_of(&new_field.ty, &old_field.ty) {
                change(
                    Severity::Safe,
                    path.clone(),
                    format!(
                        "field {path} narrowed from {} to {}",
                        old_field.ty, new_field.ty
                    ),
                )
            } else {
                change(
                    Severity::Breaking,
                    path.clone(),
                    format!(
                        "field {path} changed type from {} to {}",
                        old_field.ty, new_field.ty
                    ),
                )
            });
        }
        compare_description(
            &path,
            "field",
            old_field.description.as_deref(),
            new_field.description.as_deref(),
            found,
        );
        compare_deprecation(
            &path,
            "field",
            &old_field.directives,
            &new_field.directives,
            found,
        );
        for old_argument in &old_field.arguments {
            let argument_path = format!("{path}({}:)", old_argument.name);
            match new_field
                .arguments
                .iter()
                .find(|a| a.name == old_argument.name)
            {
                None => found.push(change(
                    Severity::Breaking,
                    argument_path.clone(),
                    format!("argument {argument_path} was removed"),
                )),
                Some(new_argument) => compare_input(
                    &argument_path,
                    "argument",
                    old_argument,
                    new_argument,
                    found,
                ),
            }
        }
        for new_argument in &new_field.arguments {
            if !old_field
                .arguments
                .iter()
                .any(|a| a.name == new_argument.name)
            {
                found.push(added_input(
                    &format!("{path}({}:)", new_argument.name),
                    "argument",
                    new_argument,
                ));
            }
        }
    }
    for field in new.keys() {
        if !old.contains_key(field) {
            let path = format!("{name}.{field}");
            found.push(change(
                Severity::Safe,
                path.clone(),
                format!("field {path} was added"),
            ));
        }
    }
}

/// An argument or input field that exists in both.
pub(super) fn compare_input(
    path: &str,
    what: &str,
    old: &Node<InputValueDefinition>,
    new: &Node<InputValueDefinition>,
    found: &mut Vec<Change>,
) {
    if old.ty != new.ty {
        // Wider input (nullable where it was non-null, at any level): every
        // value clients send is still accepted. Anything else refuses some —
        // `Int` → `Int! = 20` too: an explicit `null` no longer passes.
        let (severity, message) = if accepts_all_of(&old.ty, &new.ty) {
            (
                Severity::Safe,
                format!("{what} {path} accepts more ({} → {})", old.ty, new.ty),
            )
        } else {
            (
                Severity::Breaking,
                format!("{what} {path} changed type from {} to {}", old.ty, new.ty),
            )
        };
        found.push(change(severity, path.to_string(), message));
    }
    compare_description(
        path,
        what,
        old.description.as_deref(),
        new.description.as_deref(),
        found,
    );
    compare_deprecation(path, what, &old.directives, &new.directives, found);
    if old.default_value != new.default_value {
        found.push(change(
            Severity::Dangerous,
            path.to_string(),
            format!("the default of {what} {path} changed"),
        ));
    }
}

/// An argument or input field that only the new schema has.
pub(super) fn added_input(path: &str, what: &str, new: &Node<InputValueDefinition>) -> Change {
    if new.ty.is_non_null() && new.default_value.is_none() {
        change(
            Severity::Breaking,
            path.to_string(),
            format!("required {what} {path} was added"),
        )
    } else {
        change(
            Severity::Safe,
            path.to_string(),
            format!("optional {what} {path} was added"),
        )
    }
}

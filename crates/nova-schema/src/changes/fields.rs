//! The rules for fields, arguments and input values: what removing, adding or
//! retyping one does to clients that already send or read it.

use apollo_compiler::ast::Type;
use apollo_compiler::schema::InputValueDefinition;
use apollo_compiler::Node;

use super::{change, Change, Severity};

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
            let made_non_null = new_field.ty.is_non_null()
                && !old_field.ty.is_non_null()
                && new_field.ty.clone().nullable() == old_field.ty;
            found.push(if made_non_null {
                change(
                    Severity::Safe,
                    path.clone(),
                    format!(
                        "field {path} became non-null ({} → {})",
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
        let relaxed = old.ty.is_non_null()
            && !new.ty.is_non_null()
            && Type::clone(&old.ty).nullable() == *new.ty;
        let tightened = matches!(*new.ty, Type::NonNullNamed(_) | Type::NonNullList(_))
            && Type::clone(&new.ty).nullable() == *old.ty;
        let (severity, message) = if relaxed {
            (
                Severity::Safe,
                format!("{what} {path} became optional ({} → {})", old.ty, new.ty),
            )
        } else if tightened && new.default_value.is_some() {
            (
                Severity::Dangerous,
                format!(
                    "{what} {path} became non-null with a default ({} → {})",
                    old.ty, new.ty
                ),
            )
        } else {
            (
                Severity::Breaking,
                format!("{what} {path} changed type from {} to {}", old.ty, new.ty),
            )
        };
        found.push(change(severity, path.to_string(), message));
    }
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

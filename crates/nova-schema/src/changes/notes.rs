//! Descriptions and deprecations. They change no behaviour, but clients'
//! documentation and tooling show them, so they are reported, as safe (as
//! graphql-inspector does).

use apollo_compiler::ast::DirectiveList;

use super::{change, Change, Severity};

/// A description added, removed or changed on `what` `path`.
pub(super) fn compare_description(
    path: &str,
    what: &str,
    old: Option<&str>,
    new: Option<&str>,
    found: &mut Vec<Change>,
) {
    let message = match (old, new) {
        (None, Some(_)) => format!("a description was added to {what} {path}"),
        (Some(_), None) => format!("the description of {what} {path} was removed"),
        (Some(old), Some(new)) if old != new => {
            format!("the description of {what} {path} changed")
        }
        _ => return,
    };
    found.push(change(Severity::Safe, path.to_string(), message));
}

/// `@deprecated` added, removed or given another reason on `what` `path`.
pub(super) fn compare_deprecation(
    path: &str,
    what: &str,
    old: &DirectiveList,
    new: &DirectiveList,
    found: &mut Vec<Change>,
) {
    let message = match (deprecation(old), deprecation(new)) {
        (None, Some(reason)) => format!("{what} {path} was deprecated: {reason}"),
        (Some(_), None) => format!("{what} {path} is no longer deprecated"),
        (Some(old), Some(new)) if old != new => {
            format!("the deprecation reason of {what} {path} changed to: {new}")
        }
        _ => return,
    };
    found.push(change(Severity::Safe, path.to_string(), message));
}

/// The reason of a `@deprecated` directive (the spec's default when it gives none).
fn deprecation(directives: &DirectiveList) -> Option<String> {
    let directive = directives.get("deprecated")?;
    Some(
        directive
            .specified_argument_by_name("reason")
            .and_then(|reason| reason.as_str())
            .unwrap_or("No longer supported")
            .to_string(),
    )
}

//! What an operation selects at its root, as Hive Router hands it to plugins:
//! normalized (named fragments inlined, literal `@skip`/`@include` applied), with
//! variable conditions left on fields and inline fragments.

use std::collections::HashMap;

use hive_router::query_planner::ast::selection_item::SelectionItem;
use hive_router::query_planner::ast::selection_set::SelectionSet;
use hive_router::sonic_rs::{JsonValueTrait, Value};

/// The request's coerced variables (defaults applied), as the execute hook has
/// them.
pub type Variables<'a> = Option<&'a HashMap<String, Value>>;

/// Fields selected at the root, through inline fragments too.
pub fn root_field_count(selection_set: &SelectionSet) -> usize {
    selection_set
        .items
        .iter()
        .map(|item| match item {
            SelectionItem::Field(_) => 1,
            SelectionItem::InlineFragment(fragment) => root_field_count(&fragment.selections),
            // Operations reach the plan with fragments inlined.
            SelectionItem::FragmentSpread(_) => 1,
        })
        .sum()
}

/// Whether the operation runs one of `fields` at its root: directly or behind an
/// alias, inside root inline fragments, unless `@skip`/`@include` with the
/// request's variables leaves it out. A named fragment still unresolved here
/// counts as selecting them: a rule this guards must not be escaped.
pub fn selects_any(selection_set: &SelectionSet, fields: &[&str], variables: Variables) -> bool {
    selection_set.items.iter().any(|item| match item {
        SelectionItem::Field(field) => {
            fields.contains(&field.name.as_str())
                && runs(&field.skip_if, &field.include_if, variables)
        }
        SelectionItem::InlineFragment(fragment) => {
            runs(&fragment.skip_if, &fragment.include_if, variables)
                && selects_any(&fragment.selections, fields, variables)
        }
        SelectionItem::FragmentSpread(_) => true,
    })
}

/// Whether a selection with these variable conditions runs. A condition whose
/// variable has no boolean value (coercion would have refused that) runs.
fn runs(skip_if: &Option<String>, include_if: &Option<String>, variables: Variables) -> bool {
    let value = |name: &String| {
        variables
            .and_then(|variables| variables.get(name))
            .and_then(|value| value.as_bool())
    };
    let skipped = skip_if.as_ref().and_then(value) == Some(true);
    let excluded = include_if.as_ref().and_then(value) == Some(false);
    !skipped && !excluded
}

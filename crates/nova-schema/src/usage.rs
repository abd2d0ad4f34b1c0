//! What a shipped operation uses: the fields it selects and the named types its
//! variables carry. A change can leave a document valid and still break the
//! requests that send it: a required input field added to a variable's type
//! fails variable coercion, and a field that now needs a signed-in caller fails
//! for everyone signed out.

use std::collections::BTreeSet;

use apollo_compiler::ast::Value;
use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};

use crate::ShippedOperation;

/// The fields (`Type.field`) an operation selects, through its fragments too,
/// the arguments of those fields whose schema default may apply
/// (`Type.field(argument:)`: left out, or given a variable without a default of
/// its own that a request may leave out), and every named type its variables'
/// values may hold (input objects' fields followed).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub fields: BTreeSet<String>,
    pub defaulted_arguments: BTreeSet<String>,
    pub variable_types: BTreeSet<String>,
}

impl Usage {
    /// `None` when the operation does not validate against `schema`.
    pub fn of(operation: &ShippedOperation, schema: &Valid<Schema>) -> Option<Self> {
        let document =
            ExecutableDocument::parse_and_validate(schema, &operation.body, &operation.name)
                .ok()?;
        let mut usage = Usage::default();
        for definition in document.operations.iter() {
            // Variables a request may leave out: no default in the operation.
            let optional: BTreeSet<&str> = definition
                .variables
                .iter()
                .filter(|v| v.default_value.is_none() && !v.ty.is_non_null())
                .map(|v| v.name.as_str())
                .collect();
            usage.select(&document, &definition.selection_set, &optional);
            for variable in &definition.variables {
                usage.carry(schema, variable.ty.inner_named_type().as_str());
            }
        }
        Some(usage)
    }

    fn select(
        &mut self,
        document: &ExecutableDocument,
        selection_set: &SelectionSet,
        optional: &BTreeSet<&str>,
    ) {
        for selection in &selection_set.selections {
            match selection {
                Selection::Field(field) => {
                    let path = format!("{}.{}", selection_set.ty, field.name);
                    for argument in &field.definition.arguments {
                        let given = field.arguments.iter().find(|a| a.name == argument.name);
                        let may_be_left_out = match given.map(|a| &*a.value) {
                            None => true,
                            Some(Value::Variable(variable)) => optional.contains(variable.as_str()),
                            Some(_) => false,
                        };
                        if may_be_left_out {
                            self.defaulted_arguments
                                .insert(format!("{path}({}:)", argument.name));
                        }
                    }
                    self.fields.insert(path);
                    self.select(document, &field.selection_set, optional);
                }
                Selection::InlineFragment(inline) => {
                    self.select(document, &inline.selection_set, optional);
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = document.fragments.get(&spread.fragment_name) {
                        self.select(document, &fragment.selection_set, optional);
                    }
                }
            }
        }
    }

    fn carry(&mut self, schema: &Valid<Schema>, type_name: &str) {
        if !self.variable_types.insert(type_name.to_string()) {
            return;
        }
        if let Some(ExtendedType::InputObject(input)) = schema.types.get(type_name) {
            for field in input.fields.values() {
                self.carry(schema, field.ty.inner_named_type().as_str());
            }
        }
    }
}

/// Every field of `schema` a request can use, as schema coordinates
/// (`Type.field`: object, interface and input object fields), sorted; what
/// usage reports count against to find fields nothing uses.
pub fn field_coordinates(schema: &Valid<Schema>) -> Vec<String> {
    let mut coordinates = Vec::new();
    for (name, ty) in &schema.types {
        if ty.is_built_in() {
            continue;
        }
        let fields: Vec<&apollo_compiler::Name> = match ty {
            ExtendedType::Object(object) => object.fields.keys().collect(),
            ExtendedType::Interface(interface) => interface.fields.keys().collect(),
            ExtendedType::InputObject(input) => input.fields.keys().collect(),
            _ => continue,
        };
        coordinates.extend(fields.into_iter().map(|field| format!("{name}.{field}")));
    }
    coordinates.sort();
    coordinates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_through_fragments_and_types_through_inputs() {
        let schema = Schema::parse_and_validate(
            r#"
            type Query { me(fresh: Boolean = false): User }
            type Mutation { update(input: ProfileInput!): User }
            type User { id: ID!, name: String, friends(first: Int = 10): [User!]! }
            input ProfileInput { name: String, links: [LinkInput!] }
            input LinkInput { url: String!, kind: LinkKind }
            enum LinkKind { WEB MAIL }
            "#,
            "schema.graphql",
        )
        .unwrap();
        let operation = ShippedOperation {
            id: "1".into(),
            name: "Update".into(),
            body: "mutation Update($input: ProfileInput!) { update(input: $input) { ...U } }
                   fragment U on User { id friends { ... on User { name } } }"
                .into(),
        };
        let usage = Usage::of(&operation, &schema).unwrap();
        let fields: Vec<&str> = usage.fields.iter().map(String::as_str).collect();
        assert_eq!(
            fields,
            ["Mutation.update", "User.friends", "User.id", "User.name"]
        );
        let defaulted: Vec<&str> = usage
            .defaulted_arguments
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(defaulted, ["User.friends(first:)"]);
        let types: Vec<&str> = usage.variable_types.iter().map(String::as_str).collect();
        assert_eq!(types, ["LinkInput", "LinkKind", "ProfileInput", "String"]);
    }

    #[test]
    fn field_coordinates_name_output_and_input_fields() {
        let schema = Schema::parse_and_validate(
            "type Query { me: User }\ninterface Node { id: ID! }\n\
             type User implements Node { id: ID!, name: String }\n\
             input Filter { name: String }\nenum Kind { A }",
            "schema.graphql",
        )
        .unwrap();
        assert_eq!(
            field_coordinates(&schema),
            ["Filter.name", "Node.id", "Query.me", "User.id", "User.name"]
        );
    }
}

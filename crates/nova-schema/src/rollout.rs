//! Progressive `@override`: the subgraph SDL a rollout publishes.
//!
//! A field moves between subgraphs when the new one declares it with
//! `@override(from: "old")`. Published as is, every request moves at once. A
//! rollout publishes it with `@override(from: "old", label: "<label>")`
//! instead (Federation 2.7): the router sends a request to the new subgraph
//! only when the label is on for that request, and Nova's router plugin turns
//! it on for the rollout's share of requests. async-graphql 7.2.1 exports a
//! Federation v2.5 `@link` and cannot write `label:`, so this adds the label to
//! the overrides the rollout moves and raises the `@link` to v2.7.

use apollo_compiler::ast::{Argument, Definition, Directive, DirectiveList, Document, Value};
use apollo_compiler::{Name, Node};

/// The lowest Federation version that knows `@override(label:)`.
const LABEL_VERSION: (u32, u32) = (2, 7);
const FEDERATION_SPEC: &str = "https://specs.apollo.dev/federation/v";

/// A subgraph SDL whose new overrides carry a rollout's label.
#[derive(Debug, PartialEq, Eq)]
pub struct LabelledSdl {
    pub sdl: String,
    /// The fields the label moves, as `Type.field`.
    pub fields: Vec<String>,
}

/// `candidate` with `label` on each `@override(from:)` that `current` (the
/// subgraph's published SDL, if any) does not already declare without a
/// label: those are the fields this rollout moves. Errors name what is wrong
/// (no new override, an override that already has a label, an SDL that does
/// not parse, a Federation `@link` missing).
pub fn label_new_overrides(
    candidate: &str,
    current: Option<&str>,
    label: &str,
) -> Result<LabelledSdl, String> {
    let settled = match current {
        Some(current) => settled_overrides(&parse(current)?),
        None => Vec::new(),
    };
    let mut document = parse(candidate)?;
    let mut fields = Vec::new();
    for definition in &mut document.definitions {
        let (type_name, field_list) = match definition {
            Definition::ObjectTypeDefinition(def) => {
                let def = def.make_mut();
                (def.name.to_string(), &mut def.fields)
            }
            Definition::ObjectTypeExtension(def) => {
                let def = def.make_mut();
                (def.name.to_string(), &mut def.fields)
            }
            _ => continue,
        };
        for field in field_list.iter_mut() {
            let path = format!("{type_name}.{}", field.name);
            let Some(directive) = field
                .directives
                .iter()
                .find(|d| d.name == "override")
                .cloned()
            else {
                continue;
            };
            if directive.specified_argument_by_name("label").is_some() {
                return Err(format!(
                    "{path} already has an @override label; a rollout sets its own"
                ));
            }
            let from = text_argument(&directive, "from").unwrap_or_default();
            if settled.contains(&(path.clone(), from)) {
                continue;
            }
            let field = field.make_mut();
            let mut labelled = (*directive).clone();
            labelled.arguments.push(Node::new(Argument {
                name: Name::new("label").map_err(|e| e.to_string())?,
                value: Node::new(Value::String(label.to_string())),
            }));
            field.directives = DirectiveList(
                field
                    .directives
                    .iter()
                    .map(|d| {
                        if d.name == "override" {
                            Node::new(labelled.clone())
                        } else {
                            d.clone()
                        }
                    })
                    .collect(),
            );
            fields.push(path);
        }
    }
    if fields.is_empty() {
        return Err(
            "nothing to roll out: the schema declares no @override(from: ...) that the published version does not already have".into(),
        );
    }
    raise_federation_link(&mut document)?;
    Ok(LabelledSdl {
        sdl: document.to_string(),
        fields,
    })
}

fn parse(sdl: &str) -> Result<Document, String> {
    Document::parse(sdl, "subgraph.graphql")
        .map_err(|e| format!("the schema does not parse: {}", e.errors))
}

fn text_argument(directive: &Directive, name: &str) -> Option<String> {
    directive
        .specified_argument_by_name(name)
        .and_then(|value| value.as_str().map(str::to_string))
}

/// `(Type.field, from)` of each override `document` declares without a label.
fn settled_overrides(document: &Document) -> Vec<(String, String)> {
    let mut settled = Vec::new();
    for definition in &document.definitions {
        let (type_name, field_list) = match definition {
            Definition::ObjectTypeDefinition(def) => (&def.name, &def.fields),
            Definition::ObjectTypeExtension(def) => (&def.name, &def.fields),
            _ => continue,
        };
        for field in field_list {
            for directive in field.directives.iter().filter(|d| d.name == "override") {
                if directive.specified_argument_by_name("label").is_none() {
                    if let Some(from) = text_argument(directive, "from") {
                        settled.push((format!("{type_name}.{}", field.name), from));
                    }
                }
            }
        }
    }
    settled
}

/// Raise the Federation `@link` (on `schema` or `extend schema`) to v2.7 when
/// it is older; an SDL without one is not a Federation 2 subgraph.
fn raise_federation_link(document: &mut Document) -> Result<(), String> {
    let mut found = false;
    for definition in &mut document.definitions {
        let directives = match definition {
            Definition::SchemaDefinition(def) => &mut def.make_mut().directives,
            Definition::SchemaExtension(def) => &mut def.make_mut().directives,
            _ => continue,
        };
        for directive in directives.iter_mut().filter(|d| d.name == "link") {
            let Some(url) = text_argument(directive, "url") else {
                continue;
            };
            let Some(version) = url.strip_prefix(FEDERATION_SPEC) else {
                continue;
            };
            found = true;
            if parse_version(version).is_some_and(|v| v >= LABEL_VERSION) {
                continue;
            }
            let raised = format!("{FEDERATION_SPEC}{}.{}", LABEL_VERSION.0, LABEL_VERSION.1);
            for argument in &mut directive.make_mut().arguments {
                if argument.name == "url" {
                    argument.make_mut().value = Node::new(Value::String(raised.clone()));
                }
            }
        }
    }
    if found {
        Ok(())
    } else {
        Err("the schema has no Federation 2 @link (extend schema @link(url: \"https://specs.apollo.dev/federation/v2.x\"))".into())
    }
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@override"])"#;

    fn profiles(fields: &str) -> String {
        format!("{LINK}\ntype User @key(fields: \"id\") {{ id: ID! {fields} }}\n")
    }

    #[test]
    fn a_new_override_gets_the_label_and_the_link_rises_to_2_7() {
        let candidate = profiles("bio: String! @override(from: \"users\")");
        let labelled = label_new_overrides(&candidate, None, "nova-rollout-1").unwrap();
        assert_eq!(labelled.fields, ["User.bio"]);
        assert!(
            labelled
                .sdl
                .contains(r#"bio: String! @override(from: "users", label: "nova-rollout-1")"#),
            "{}",
            labelled.sdl
        );
        assert!(labelled.sdl.contains("federation/v2.7"), "{}", labelled.sdl);
        assert!(
            !labelled.sdl.contains("federation/v2.5"),
            "{}",
            labelled.sdl
        );
    }

    #[test]
    fn an_override_already_published_is_left_as_it_is() {
        let current = profiles("bio: String! @override(from: \"users\")");
        let candidate = profiles(
            "bio: String! @override(from: \"users\") displayName: String @override(from: \"users\")",
        );
        let labelled = label_new_overrides(&candidate, Some(&current), "nova-rollout-2").unwrap();
        assert_eq!(labelled.fields, ["User.displayName"]);
        assert!(
            labelled
                .sdl
                .contains(r#"bio: String! @override(from: "users")"#),
            "{}",
            labelled.sdl
        );
    }

    #[test]
    fn nothing_to_move_is_an_error() {
        let current = profiles("bio: String! @override(from: \"users\")");
        let error = label_new_overrides(&current, Some(&current), "nova-rollout-3").unwrap_err();
        assert!(error.starts_with("nothing to roll out"), "{error}");
        let labelled = profiles("bio: String! @override(from: \"users\", label: \"percent(5)\")");
        let error = label_new_overrides(&labelled, None, "nova-rollout-3").unwrap_err();
        assert_eq!(
            error,
            "User.bio already has an @override label; a rollout sets its own"
        );
        let unlinked =
            "type User @key(fields: \"id\") { id: ID! bio: String! @override(from: \"users\") }";
        let error = label_new_overrides(unlinked, None, "nova-rollout-3").unwrap_err();
        assert!(error.contains("no Federation 2 @link"), "{error}");
    }

    #[test]
    fn a_labelled_override_composes_with_the_subgraph_it_moves_from() {
        use crate::compose::{compose, SubgraphSource};
        let source = |name: &str, sdl: String| SubgraphSource {
            name: name.into(),
            url: format!("http://{name}.invalid/graphql"),
            sdl,
        };
        let candidate = profiles("bio: String! @override(from: \"users\")");
        let labelled = label_new_overrides(&candidate, None, "nova-rollout-4").unwrap();
        let users = include_str!("../../../schema/users.graphql").to_string();
        let identity = include_str!("../../../schema/identity.graphql").to_string();
        let subgraphs = [
            source("identity", identity),
            source("profiles", labelled.sdl),
            source("users", users),
        ];
        let supergraph = compose(&subgraphs).unwrap_or_else(|errors| panic!("{errors:?}"));
        assert!(
            supergraph.contains(r#"overrideLabel: "nova-rollout-4""#),
            "{supergraph}"
        );
    }
}

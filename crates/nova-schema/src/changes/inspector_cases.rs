//! The cases where Nova once classified differently from graphql-inspector
//! (issue 18), each with the answer both now give.

use super::*;

fn severities(old: &str, new: &str) -> Vec<(Severity, String)> {
    let parse = |sdl: &str| Schema::parse_and_validate(sdl, "test.graphql").unwrap();
    changes(&parse(old), &parse(new))
        .into_iter()
        .map(|c| (c.severity, c.path))
        .collect()
}

const OLD: &str = r#"
    interface Node { id: ID! }
    type Query {
        "Messages, newest first."
        messages(first: Int, ids: [ID!]): [Message]
        node(id: ID!): Node
    }
    type Message { id: ID!, body: String, kind: Kind }
    enum Kind { TEXT IMAGE }
"#;

#[test]
fn an_argument_made_non_null_breaks_even_with_a_default() {
    let new = OLD.replace("messages(first: Int,", "messages(first: Int! = 20,");
    let found = severities(OLD, &new);
    assert!(
        found.contains(&(Severity::Breaking, "Query.messages(first:)".to_string())),
        "{found:?}"
    );
}

#[test]
fn input_list_items_made_nullable_are_safe() {
    let new = OLD.replace("ids: [ID!]", "ids: [ID]");
    assert_eq!(
        severities(OLD, &new),
        vec![(Severity::Safe, "Query.messages(ids:)".to_string())]
    );
}

#[test]
fn output_list_items_made_non_null_are_safe() {
    let new = OLD.replace("): [Message]", "): [Message!]!");
    assert_eq!(
        severities(OLD, &new),
        vec![(Severity::Safe, "Query.messages".to_string())]
    );
    // Not the other way round.
    assert_eq!(
        severities(&new, OLD),
        vec![(Severity::Breaking, "Query.messages".to_string())]
    );
}

#[test]
fn an_interface_implementation_added_is_dangerous() {
    let new = OLD.replace("type Message {", "type Message implements Node {");
    assert_eq!(
        severities(OLD, &new),
        vec![(Severity::Dangerous, "Message".to_string())]
    );
}

#[test]
fn descriptions_and_deprecations_are_reported_as_safe() {
    let new = OLD
        .replace("\"Messages, newest first.\"", "\"Messages, oldest first.\"")
        .replace("body: String,", "\"The text.\" body: String,")
        .replace(
            "kind: Kind }",
            "kind: Kind @deprecated(reason: \"Use body.\") }",
        )
        .replace("IMAGE }", "IMAGE @deprecated }");
    assert_eq!(
        severities(OLD, &new),
        vec![
            (Severity::Safe, "Kind.IMAGE".to_string()),
            (Severity::Safe, "Message.body".to_string()),
            (Severity::Safe, "Message.kind".to_string()),
            (Severity::Safe, "Query.messages".to_string()),
        ]
    );
}

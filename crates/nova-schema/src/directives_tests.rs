use super::*;
use crate::compose::{compose, SubgraphSource};

const LINK: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@tag", "@inaccessible", "@override", "@shareable"])"#;

/// The supergraph of two subgraphs: `users` (a `User` entity) with `users_extra`
/// appended to its type body, and `profiles` with its own `User` fields.
fn supergraph(users_extra: &str, user_directives: &str, profiles: &str) -> String {
    let users = format!(
        "{LINK}\ntype Query {{ me: User }}\n\
         type User @key(fields: \"id\") {user_directives} {{ id: ID! name: String {users_extra} }}"
    );
    let profiles = format!("{LINK}\n{profiles}");
    compose(&[
        SubgraphSource {
            name: "users".into(),
            url: "http://users".into(),
            sdl: users,
        },
        SubgraphSource {
            name: "profiles".into(),
            url: "http://profiles".into(),
            sdl: profiles,
        },
    ])
    .expect("the test subgraphs compose")
}

const PROFILES: &str = "type User @key(fields: \"id\") { id: ID! bio: String }";

fn severities(changes: &[Change]) -> Vec<(Severity, &str)> {
    changes
        .iter()
        .map(|c| (c.severity, c.path.as_str()))
        .collect()
}

#[test]
fn tags_are_safe_both_ways() {
    let before = supergraph("", "", PROFILES);
    let after = supergraph("email: String @tag(name: \"internal\")", "", PROFILES);
    // A new field's tag is part of adding it: nothing to report.
    assert!(directive_changes(&before, &after).is_empty());
    let tagged = supergraph(
        "",
        "",
        &PROFILES.replace("bio: String", "bio: String @tag(name: \"public\")"),
    );
    let found = directive_changes(&before, &tagged);
    assert_eq!(severities(&found), [(Severity::Safe, "User.bio")]);
    assert!(found[0].message.contains("\"public\""), "{found:?}");
    let untagged = directive_changes(&tagged, &before);
    assert_eq!(severities(&untagged), [(Severity::Safe, "User.bio")]);
}

#[test]
fn inaccessible_added_breaks_and_removed_is_safe() {
    let before = supergraph("", "", PROFILES);
    let hidden = supergraph(
        "",
        "",
        &PROFILES.replace("bio: String", "bio: String @inaccessible"),
    );
    assert_eq!(
        severities(&directive_changes(&before, &hidden)),
        [(Severity::Breaking, "User.bio")]
    );
    assert_eq!(
        severities(&directive_changes(&hidden, &before)),
        [(Severity::Safe, "User.bio")]
    );
}

#[test]
fn a_second_key_only_changes_planning_and_removing_one_is_dangerous() {
    let before = supergraph("", "", PROFILES);
    let two_keys = supergraph("handle: String!", "@key(fields: \"handle\")", PROFILES);
    let found = directive_changes(&before, &two_keys);
    assert_eq!(severities(&found), [(Severity::Safe, "User")]);
    assert!(found[0].message.contains("planning"), "{found:?}");
    let one_key = supergraph("handle: String!", "", PROFILES);
    assert_eq!(
        severities(&directive_changes(&two_keys, &one_key)),
        [(Severity::Dangerous, "User")]
    );
}

#[test]
fn an_override_is_dangerous() {
    let before = supergraph("", "", PROFILES);
    let moved = supergraph(
        "",
        "",
        "type User @key(fields: \"id\") { id: ID! bio: String name: String @override(from: \"users\") }",
    );
    let found = directive_changes(&before, &moved);
    assert_eq!(severities(&found), [(Severity::Dangerous, "User.name")]);
    assert!(
        found[0].message.contains("profiles instead of users"),
        "{found:?}"
    );
}

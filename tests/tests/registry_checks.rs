//! The registry refuses what would break: a publish that does not compose or
//! breaks a shipped operation changes nothing; a rollback restores an earlier
//! supergraph after the same checks.

use std::time::Instant;

use nova_e2e::registry_ops::*;
use nova_e2e::{eventually, Stack};
use serde_json::{json, Value};

/// The registry's count of supergraph reads answered "unchanged".
const UNCHANGED_READS: &str = "nova_registry_supergraph_reads_total{status=\"304\"}";

/// `nova subgraph check` of `schema` as `name`, with a read token.
fn check(
    stack: &Stack,
    registry: &nova_e2e::Registry,
    name: &str,
    schema: &std::path::Path,
) -> std::process::Output {
    stack
        .nova(registry, &registry.read_token)
        .args(["subgraph", "check", "--name", name])
        .args(["--url", "http://127.0.0.1:1/graphql", "--schema"])
        .arg(schema)
        .output()
        .unwrap()
}

#[tokio::test]
async fn rejected_publishes_change_nothing_and_rollback_restores() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (registry, routers) = with_registry(&mut stack, 1).await;
    let before = history(&stack, &registry).await;
    let file = stack.state_dir().join("supergraph-from-registry.graphql");
    let served = std::fs::read_to_string(&file).unwrap();

    // A schema that does not compose.
    let bad = stack.state_dir().join("users-bad.graphql");
    std::fs::write(
        &bad,
        "type User @key(fields: \"id\") {\n  id: Int!\n}\n\ntype Query {\n  x: Int\n}\n",
    )
    .unwrap();
    let output = publish(&stack, &registry, &registry.operator_token, "users", &bad);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("composition: FAILED"),
        "{}",
        text(&output)
    );
    assert!(text(&output).contains("User.id"), "{}", text(&output));

    // A schema that breaks shipped operations: rejected, naming them.
    let content = std::fs::read_to_string(schema_file("content")).unwrap();
    let renamed = content.replacen(
        "\tbody: String!\n\t\"\"\"\n\t`#tags`",
        "\tbodyText: String!\n\t\"\"\"\n\t`#tags`",
        1,
    );
    assert_ne!(renamed, content, "the test's edit applies");
    let breaking = stack.state_dir().join("content-breaking.graphql");
    std::fs::write(&breaking, renamed).unwrap();
    let output = publish(
        &stack,
        &registry,
        &registry.operator_token,
        "content",
        &breaking,
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    for operation in ["PostPage", "ProfilePage", "CreatePost"] {
        assert!(
            text(&output).contains(operation),
            "{operation} not named: {}",
            text(&output)
        );
    }
    assert!(
        text(&output).contains("breaking  field Post.body was removed"),
        "{}",
        text(&output)
    );
    // `check` says the same without publishing, with a read token.
    let checked = check(&stack, &registry, "content", &breaking);
    assert_eq!(checked.status.code(), Some(1), "{}", text(&checked));
    assert!(text(&checked).contains("PostPage"));

    // A default that now applies where none did: accepted (the documents stay
    // valid), but the operations whose requests may leave the argument out are
    // named.
    let chat = std::fs::read_to_string(schema_file("chat")).unwrap();
    let defaulted = chat.replacen("messages(first: Int,", "messages(first: Int! = 20,", 1);
    assert_ne!(defaulted, chat, "the test's edit applies");
    let defaulted_path = stack.state_dir().join("chat-defaulted.graphql");
    std::fs::write(&defaulted_path, defaulted).unwrap();
    let checked = check(&stack, &registry, "chat", &defaulted_path);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked));
    for expected in [
        "breaking  argument Conversation.messages(first:) changed type from Int to Int!",
        "shipped operations affected (not blocking): 2",
        "ConversationMessages: it may leave out Conversation.messages(first:), whose default is now 20",
        "Inbox: it may leave out Conversation.messages(first:), whose default is now 20",
    ] {
        assert!(text(&checked).contains(expected), "{expected}: {}", text(&checked));
    }

    // Directives the API schema does not carry are compared on the supergraphs:
    // a tag is safe, and so is a second key (it changes planning only).
    let users = std::fs::read_to_string(schema_file("users")).unwrap();
    let tagged = users
        .replacen(
            "\tbio: String!\n",
            "\tbio: String! @tag(name: \"profile\")\n",
            1,
        )
        .replacen(
            "type User @key(fields: \"id\") {\n\tid: ID!\n",
            "type User @key(fields: \"id\") @key(fields: \"id bio\") {\n\tid: ID!\n",
            1,
        );
    assert_eq!(
        tagged.matches("\"profile\"").count(),
        1,
        "the tag edit applies"
    );
    assert!(tagged.contains("\"id bio\""), "the key edit applies");
    let tagged_path = stack.state_dir().join("users-tagged.graphql");
    std::fs::write(&tagged_path, tagged).unwrap();
    let checked = check(&stack, &registry, "users", &tagged_path);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked));
    for expected in [
        "tag \"profile\" added to User.bio: contracts that select it now include it",
        "key \"id bio\" added to User in users: changes query planning only",
    ] {
        assert!(
            text(&checked).contains(expected),
            "{expected}: {}",
            text(&checked)
        );
    }

    // Wrong tokens.
    let output = publish(
        &stack,
        &registry,
        "not-a-token",
        "users",
        &schema_file("users"),
    );
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    assert!(text(&output).contains("401"), "{}", text(&output));
    let output = publish(
        &stack,
        &registry,
        &registry.read_token,
        "users",
        &schema_file("users"),
    );
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    assert!(text(&output).contains("403"), "{}", text(&output));

    // Bad input, each refused with its reason (exit 1) and nothing stored.
    let operator = &registry.operator_token;
    let output = stack
        .nova(&registry, operator)
        .args(["subgraph", "publish", "--name", "usres"])
        .args(["--url", &format!("{}/graphql", stack.subgraph_url("users"))])
        .arg("--schema")
        .arg(schema_file("users"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    for expected in ["unknown subgraph usres", "social, users.", "--new"] {
        assert!(
            text(&output).contains(expected),
            "{expected}: {}",
            text(&output)
        );
    }
    let output = publish_with(
        &stack,
        &registry,
        operator,
        "users",
        &schema_file("users"),
        &["--new"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("exists already"),
        "{}",
        text(&output)
    );
    let empty = stack.state_dir().join("empty.graphql");
    std::fs::write(&empty, "\n").unwrap();
    let output = publish(&stack, &registry, operator, "users", &empty);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("the schema is empty"),
        "{}",
        text(&output)
    );
    let huge = stack.state_dir().join("huge.graphql");
    let field = "  field: String\n".repeat(5 * 1024 * 1024 / 16);
    std::fs::write(&huge, format!("type Query {{\n{field}}}\n")).unwrap();
    let output = publish(&stack, &registry, operator, "users", &huge);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("(413) the request is larger than the registry accepts"),
        "{}",
        text(&output)
    );
    assert!(
        text(&output).contains("at most 1048576 bytes"),
        "{}",
        text(&output)
    );

    // Changes that leave every shipped document valid yet fail its requests: a
    // required field in an input an operation sends as a variable, and a
    // sign-in required on a field operations read signed out.
    let users = std::fs::read_to_string(schema_file("users")).unwrap();
    let edits = [
        (
            "required-input",
            "\tavatarMediaId: ID\n}\n\ntype User",
            "\tavatarMediaId: ID\n\tpronouns: String!\n}\n\ntype User",
            "UpdateProfile: its variables carry UpdateProfileInput.pronouns",
        ),
        (
            "authenticated",
            "\tbio: String!\n\tavatarUrl: String\n",
            "\tbio: String!\n\tavatarUrl: String @authenticated\n",
            "PostPage: it selects User.avatarUrl, which now requires @authenticated",
        ),
    ];
    for (edit, from, to, expected) in edits {
        let edited = users.replacen(from, to, 1);
        assert_ne!(edited, users, "the test's {edit} edit applies");
        let path = stack.state_dir().join(format!("users-{edit}.graphql"));
        std::fs::write(&path, edited).unwrap();
        let output = publish(&stack, &registry, operator, "users", &path);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        assert!(text(&output).contains(expected), "{}", text(&output));
    }

    let anonymous = stack
        .http
        .get(format!("{}/v1/supergraph", registry.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    // Nothing changed: same history, and the same file after two more polls of
    // the sync agent (each answered 304: the current supergraph is the same);
    // routers serve posts' bodies.
    let unchanged_reads = || async {
        let (_, text) = stack.get(&format!("{}/metrics", registry.url)).await;
        nova_core::scrape::sample_value(&text, UNCHANGED_READS)
    };
    eventually(10, "a sync poll answered 304", &stack, || async {
        unchanged_reads().await.is_some()
    })
    .await;
    let polled = unchanged_reads().await.expect("the sample exists");
    eventually(10, "two more sync polls", &stack, || async {
        unchanged_reads()
            .await
            .is_some_and(|now| now >= polled + 2.0)
    })
    .await;
    assert_eq!(history(&stack, &registry).await, before);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), served);
    let post_body = stack
        .http
        .post(&routers[0])
        .json(&json!({ "query": "{ postsByHashtag(tag: \"x\", first: 1) { edges { node { body } } } }" }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(post_body.get("errors").is_none(), "{post_body}");

    // Publish a probe, then roll back to the supergraph before it.
    let previous = before["current"].as_str().unwrap().to_string();
    let output = publish(
        &stack,
        &registry,
        &registry.operator_token,
        "users",
        &users_with_probe(&stack, "RollbackProbe"),
    );
    assert!(output.status.success(), "{}", text(&output));
    wait_until_served(&stack, &routers, "RollbackProbe", true).await;
    let output = stack
        .nova(&registry, &registry.operator_token)
        .args([
            "supergraph",
            "rollback",
            "--to",
            &previous,
            "--message",
            "undo probe",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    // Removing a type is reported as breaking; no shipped operation used it.
    assert!(
        text(&output).contains("breaking  object RollbackProbe was removed"),
        "{}",
        text(&output)
    );
    wait_until_served(&stack, &routers, "RollbackProbe", false).await;
    let after = history(&stack, &registry).await;
    assert_eq!(after["supergraphs"][0]["reason"], "rollback");
    assert_eq!(after["supergraphs"][0]["subject"], previous.as_str());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), served);

    // History and versions read back through the CLI.
    let versions = stack
        .nova(&registry, &registry.read_token)
        .args(["subgraph", "versions", "--name", "users"])
        .output()
        .unwrap();
    assert!(versions.status.success());
    assert_eq!(String::from_utf8_lossy(&versions.stdout).lines().count(), 2);
    let listed = stack
        .nova(&registry, &registry.read_token)
        .args(["supergraph", "history"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.lines().next().unwrap().starts_with("* "), "{listed}");
    assert!(listed.contains("rollback"), "{listed}");

    // The sync agent asks with the ETag; an unchanged supergraph is a 304.
    let current = stack
        .http
        .get(format!("{}/v1/supergraph", registry.url))
        .bearer_auth(&registry.read_token)
        .send()
        .await
        .unwrap();
    let etag = current.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(current.text().await.unwrap(), served);
    let unchanged = stack
        .http
        .get(format!("{}/v1/supergraph", registry.url))
        .bearer_auth(&registry.read_token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status().as_u16(), 304);

    // What happened, as an operator's dashboard sees it (operations: the
    // renamed field, the required input field, the sign-in).
    let (_, metrics) = stack.get(&format!("{}/metrics", registry.url)).await;
    for sample in [
        "nova_registry_changes_total{kind=\"publish\",outcome=\"rejected_composition\"} 1",
        "nova_registry_changes_total{kind=\"publish\",outcome=\"rejected_operations\"} 3",
        "nova_registry_changes_total{kind=\"rollback\",outcome=\"rolled_back\"} 1",
    ] {
        assert!(metrics.contains(sample), "{sample} not in\n{metrics}");
    }

    // The registry goes down: the router goes on serving the last supergraph,
    // and the sync agent leaves the file alone.
    // A poll that finds the registry gone says it keeps the file.
    let kept = |stack: &Stack| stack.log_of("supergraph-sync").matches("as it is").count();
    let kept_before = kept(&stack);
    stack.terminate("registry");
    eventually(10, "a sync poll without the registry", &stack, || async {
        kept(&stack) > kept_before
    })
    .await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), served);
    // The router keeps answering from the supergraph it holds: 200 requests
    // that reach a subgraph, every one answered in full.
    let started = Instant::now();
    let failed = full_answers_missing(&stack, &routers, 200).await;
    eprintln!(
        "registry stopped: 200 requests to {} router(s) in {:?}, {} failed",
        routers.len(),
        started.elapsed(),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "answers without the registry: {failed:?}"
    );
}

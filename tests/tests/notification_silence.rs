//! Nobody is notified of an account blocked either way or muted: follows,
//! mentions and messages, each checked against an event ordered after it (same
//! Kafka key) that did notify someone else, so the absence is not a wait cut short.

use nova_e2e::realtime::{kinds, notifications_until, send};
use nova_e2e::Stack;
use serde_json::{json, Value};

const FOLLOW: &str = "mutation($id: ID!) { followUser(userId: $id) { id } }";
const MUTE: &str = "mutation($id: ID!) { muteUser(userId: $id) { id } }";
const BLOCK: &str = "mutation($id: ID!) { blockUser(userId: $id) { id } }";

/// The actors' usernames of every notification in `edges`.
fn actors(edges: &Value) -> Vec<String> {
    edges
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|edge| edge["node"]["actors"].as_array().unwrap().clone())
        .map(|actor| actor["username"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn blocked_and_muted_accounts_raise_no_notification() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let (carol_id, carol) = stack.sign_up("carol").await;
    let (dave_id, dave) = stack.sign_up("dave").await;
    stack
        .graphql(Some(&ann), MUTE, json!({ "id": bob_id }))
        .await
        .expect_ok();
    stack
        .graphql(Some(&ann), BLOCK, json!({ "id": dave_id }))
        .await
        .expect_ok();

    // Control: carol, neither blocked nor muted, mentions ann and ann hears of
    // it (which also shows notifications know ann's username by now).
    stack
        .graphql(
            Some(&carol),
            "mutation { createPost(body: \"hi @ann\") { id } }",
            json!({}),
        )
        .await
        .expect_ok();
    notifications_until(&stack, &ann, |edges| {
        kinds(edges).contains(&"MENTIONED".to_string())
    })
    .await;

    // Follows (keyed by the follower): bob follows ann, then carol.
    for followed in [&ann_id, &carol_id] {
        stack
            .graphql(Some(&bob), FOLLOW, json!({ "id": followed }))
            .await
            .expect_ok();
    }
    notifications_until(&stack, &carol, |edges| {
        kinds(edges).contains(&"FOLLOWED".to_string())
    })
    .await;

    // A mention: dave, blocked by ann, cannot mention her at all (the write is
    // refused: mention_blocks.rs); his mention of carol notifies carol.
    let refused = stack
        .graphql(
            Some(&dave),
            "mutation { createPost(body: \"hello @ann and @carol\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(refused.error_codes(), ["FORBIDDEN"], "{:?}", refused.body);
    stack
        .graphql(
            Some(&dave),
            "mutation { createPost(body: \"hello @carol\") { id } }",
            json!({}),
        )
        .await
        .expect_ok();
    notifications_until(&stack, &carol, |edges| {
        kinds(edges).contains(&"MENTIONED".to_string())
    })
    .await;

    // A group message (one event for every recipient): bob, muted by ann, writes
    // to a group of ann, carol and himself. The mute does not stop the message.
    let group = stack
        .graphql(
            Some(&bob),
            "mutation($m: [ID!]!) { createGroup(title: \"g\", memberIds: $m) { id } }",
            json!({ "m": [ann_id, carol_id] }),
        )
        .await;
    let group = group.expect_ok()["createGroup"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    send(&stack, &bob, &group, "hi both", "n-1")
        .await
        .expect_ok();
    notifications_until(&stack, &carol, |edges| {
        kinds(edges).contains(&"MESSAGE".to_string())
    })
    .await;

    // Every event has been applied, and ann heard of none of them: only carol.
    let anns = notifications_until(&stack, &ann, |_| true).await;
    assert_eq!(actors(&anns), ["carol"], "{anns:#}");
    let messages = stack
        .graphql(
            Some(&ann),
            "query($c: ID!) { conversation(id: $c) { messages(last: 5) { edges { node { body } } } } }",
            json!({ "c": group }),
        )
        .await;
    assert_eq!(
        messages.expect_ok()["conversation"]["messages"]["edges"][0]["node"]["body"],
        "hi both"
    );
}

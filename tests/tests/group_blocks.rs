//! A block in a group both belong to (docs/blocks.md): from the moment
//! `blockUser` returns, neither side sees the other's messages — live, in the
//! history (sent before the block too) or in the unread count — while the
//! other members see everything; unblocking shows them again.

use nova_e2e::live::LiveClient;
use nova_e2e::realtime::{next_chat_event, send, subscribe_chat, wait_for_subscribers};
use nova_e2e::Stack;
use serde_json::{json, Value};

const HISTORY: &str = "query($c: ID!) { conversation(id: $c) { unreadCount messages(last: 50) { edges { node { body sender { username } } } } } }";

/// The body of the next message event (read receipts and typing skipped).
async fn next_message(client: &mut LiveClient) -> String {
    loop {
        let event: Value = next_chat_event(client).await;
        if event["kind"] == "MESSAGE" {
            return event["message"]["body"].as_str().unwrap().to_string();
        }
    }
}

/// The bodies `token`'s user sees in the group, oldest first, and their unread count.
async fn history(stack: &Stack, token: &str, group: &str) -> (Vec<String>, i64) {
    let page = stack
        .graphql(Some(token), HISTORY, json!({ "c": group }))
        .await;
    let conversation = &page.expect_ok()["conversation"];
    let bodies = conversation["messages"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["body"].as_str().unwrap().to_string())
        .collect();
    (bodies, conversation["unreadCount"].as_i64().unwrap())
}

async fn say(stack: &Stack, token: &str, group: &str, body: &str) {
    send(stack, token, group, body, body).await.expect_ok();
}

#[tokio::test]
async fn in_a_shared_group_blocked_members_stop_seeing_each_other() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann, ann_token) = stack.sign_up("ann").await;
    let (bob, bob_token) = stack.sign_up("bob").await;
    let (_, carol_token) = stack.sign_up("carol").await;
    let created = stack
        .graphql(
            Some(&carol_token),
            "mutation($m: [ID!]!) { createGroup(title: \"trio\", memberIds: $m) { id } }",
            json!({ "m": [ann, bob] }),
        )
        .await;
    let group = created.expect_ok()["createGroup"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ann_live = subscribe_chat(&stack, &ann_token, &group).await;
    let mut bob_live = subscribe_chat(&stack, &bob_token, &group).await;
    let mut carol_live = subscribe_chat(&stack, &carol_token, &group).await;
    wait_for_subscribers(&stack, "chat", 3.0).await;

    // Before the block everyone sees everyone.
    say(&stack, &bob_token, &group, "bob before").await;
    assert_eq!(next_message(&mut ann_live).await, "bob before");
    assert_eq!(next_message(&mut carol_live).await, "bob before");
    assert_eq!(next_message(&mut bob_live).await, "bob before");

    let blocked = stack
        .graphql(
            Some(&ann_token),
            "mutation($id: ID!) { blockUser(userId: $id) { viewerBlocked } }",
            json!({ "id": bob }),
        )
        .await;
    assert_eq!(blocked.expect_ok()["blockUser"]["viewerBlocked"], true);

    // Live: each side's messages reach carol, not the other. Carol's message
    // after them is the next thing each of the two sees: live events of a
    // conversation arrive in order, so what came before it was skipped.
    say(&stack, &bob_token, &group, "bob after").await;
    say(&stack, &ann_token, &group, "ann after").await;
    say(&stack, &carol_token, &group, "carol after").await;
    assert_eq!(next_message(&mut carol_live).await, "bob after");
    assert_eq!(next_message(&mut carol_live).await, "ann after");
    assert_eq!(next_message(&mut carol_live).await, "carol after");
    assert_eq!(next_message(&mut ann_live).await, "ann after");
    assert_eq!(next_message(&mut ann_live).await, "carol after");
    assert_eq!(next_message(&mut bob_live).await, "bob after");
    assert_eq!(next_message(&mut bob_live).await, "carol after");

    // History (the message from before the block too) and unread counts.
    let (ann_sees, ann_unread) = history(&stack, &ann_token, &group).await;
    assert_eq!(ann_sees, ["ann after", "carol after"]);
    assert_eq!(ann_unread, 1, "carol's message only");
    let (bob_sees, bob_unread) = history(&stack, &bob_token, &group).await;
    assert_eq!(bob_sees, ["bob before", "bob after", "carol after"]);
    assert_eq!(bob_unread, 1, "carol's message only");
    let (carol_sees, _) = history(&stack, &carol_token, &group).await;
    assert_eq!(
        carol_sees,
        ["bob before", "bob after", "ann after", "carol after"]
    );

    // Unblocked: the messages show again.
    stack
        .graphql(
            Some(&ann_token),
            "mutation($id: ID!) { unblockUser(userId: $id) { viewerBlocked } }",
            json!({ "id": bob }),
        )
        .await
        .expect_ok();
    let (ann_sees, _) = history(&stack, &ann_token, &group).await;
    assert_eq!(ann_sees, carol_sees);
    say(&stack, &bob_token, &group, "bob again").await;
    assert_eq!(next_message(&mut ann_live).await, "bob again");
}

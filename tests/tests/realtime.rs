//! Chat through the router as an app uses it: mutations over HTTP, live events
//! over graphql-transport-ws (`/ws`). Notifications and the cross-instance and
//! token rules of live streams are in `live_notifications.rs`.

use std::time::{Duration, Instant};

use nova_e2e::live::LiveClient;
use nova_e2e::realtime::*;
use nova_e2e::Stack;
use serde_json::{json, Value};

#[tokio::test]
async fn two_users_chat_live_and_a_third_cannot_listen_in() {
    let stack = Stack::start().await.expect("stack starts");
    let (alice, alice_token) = stack.sign_up("alice").await;
    let (bob, bob_token) = stack.sign_up("bob").await;
    let (_, carol_token) = stack.sign_up("carol").await;
    let conversation = start_direct(&stack, &alice_token, &bob).await;
    // The same pair gets the same conversation.
    assert_eq!(start_direct(&stack, &bob_token, &alice).await, conversation);

    let mut alice_live = subscribe_chat(&stack, &alice_token, &conversation).await;
    let mut bob_live = subscribe_chat(&stack, &bob_token, &conversation).await;
    wait_for_subscribers(&stack, "chat", 2.0).await;

    let sent = send(
        &stack,
        &alice_token,
        &conversation,
        "hi bob, lunch at noon?",
        "a-1",
    )
    .await;
    assert_eq!(sent.expect_ok()["sendMessage"]["seq"], 1);
    for live in [&mut alice_live, &mut bob_live] {
        let event = next_chat_event(live).await;
        assert_eq!(event["kind"], "MESSAGE");
        assert_eq!(event["seq"], 1);
        assert_eq!(event["conversationId"], conversation.as_str());
        assert_eq!(event["message"]["body"], "hi bob, lunch at noon?");
        // Resolved from the users subgraph for each event.
        assert_eq!(event["message"]["sender"]["username"], "alice");
        assert_eq!(event["user"]["id"], alice.as_str());
    }

    // Typing and a read receipt reach the other side, carrying the newest seq.
    stack
        .graphql(
            Some(&bob_token),
            "mutation($c: ID!) { setTyping(conversationId: $c, typing: true) }",
            json!({ "c": conversation }),
        )
        .await
        .expect_ok();
    let typing = next_chat_event(&mut alice_live).await;
    assert_eq!(typing["kind"], "TYPING");
    assert_eq!(typing["typing"], true);
    assert_eq!(typing["user"]["username"], "bob");
    assert_eq!(typing["seq"], 1);
    let cursor = typing["cursor"].as_str().unwrap().to_string();
    let read = stack
        .graphql(
            Some(&bob_token),
            "mutation($c: ID!, $u: String!) { markRead(conversationId: $c, upTo: $u) { unreadCount } }",
            json!({ "c": conversation, "u": cursor }),
        )
        .await;
    assert_eq!(read.expect_ok()["markRead"]["unreadCount"], 0);
    // Alice sees bob typing (her own stream) then his receipt.
    let receipt = next_chat_event(&mut alice_live).await;
    assert_eq!(receipt["kind"], "READ_RECEIPT");
    assert_eq!(receipt["readUpTo"], 1);

    // Bob reads the conversation list: the message, unread count 0.
    let listed = stack
        .graphql(
            Some(&bob_token),
            "{ conversations(first: 10) { edges { node { id unreadCount lastSeq \
               messages(last: 5) { edges { node { seq body sender { username } } } } } } } }",
            json!({}),
        )
        .await;
    let node = &listed.expect_ok()["conversations"]["edges"][0]["node"];
    assert_eq!(node["id"], conversation.as_str());
    assert_eq!(node["lastSeq"], 1);
    assert_eq!(node["unreadCount"], 0);
    assert_eq!(
        node["messages"]["edges"][0]["node"]["body"],
        "hi bob, lunch at noon?"
    );

    // Carol is no member: she can neither listen nor write nor read.
    let mut carol_live = LiveClient::connect(&stack.router_url, Some(&carol_token))
        .await
        .unwrap();
    carol_live
        .subscribe("chat", CHAT_EVENTS, json!({ "c": conversation }))
        .await
        .unwrap();
    let refused = carol_live.next_message(WAIT).await.unwrap();
    let codes = error_codes_of(&refused);
    assert!(
        codes.contains(&"FORBIDDEN".to_string()),
        "carol's subscription: {refused}"
    );
    let carol_send = send(&stack, &carol_token, &conversation, "let me in", "c-1").await;
    assert_eq!(carol_send.error_codes(), vec!["FORBIDDEN"]);
    let carol_read = stack
        .graphql(
            Some(&carol_token),
            "query($c: ID!) { conversation(id: $c) { id } }",
            json!({ "c": conversation }),
        )
        .await;
    assert_eq!(carol_read.error_codes(), vec!["FORBIDDEN"]);
    // Bob's stream had his own typing and receipt; nothing of carol's attempt
    // reached it.
    let kinds: Vec<Value> = [
        next_chat_event(&mut bob_live).await,
        next_chat_event(&mut bob_live).await,
    ]
    .iter()
    .map(|e| e["kind"].clone())
    .collect();
    assert_eq!(kinds, vec![json!("TYPING"), json!("READ_RECEIPT")]);
    assert!(bob_live.stays_quiet(Duration::from_millis(500)).await);

    // At rest the body is ciphertext only.
    let mut chat_db = stack.connect("chat").await.unwrap();
    let stored: Vec<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT body_ciphertext, body_nonce FROM messages")
            .fetch_all(&mut chat_db)
            .await
            .unwrap();
    assert_eq!(stored.len(), 1);
    let (ciphertext, nonce) = &stored[0];
    assert_eq!(nonce.len(), 12);
    assert!(!String::from_utf8_lossy(ciphertext).contains("lunch"));
    // AES-GCM: body length plus a 16-byte tag.
    assert_eq!(ciphertext.len(), "hi bob, lunch at noon?".len() + 16);
}

#[tokio::test]
async fn a_dropped_connection_catches_up_and_a_retried_send_is_one_message() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, alice_token) = stack.sign_up("alice").await;
    let (bob, bob_token) = stack.sign_up("bob").await;
    let conversation = start_direct(&stack, &alice_token, &bob).await;

    let mut bob_live = subscribe_chat(&stack, &bob_token, &conversation).await;
    wait_for_subscribers(&stack, "chat", 1.0).await;
    send(&stack, &alice_token, &conversation, "one", "k-1")
        .await
        .expect_ok();
    let first = next_chat_event(&mut bob_live).await;
    assert_eq!(first["seq"], 1);
    let last_seen = first["message"]["cursor"].as_str().unwrap().to_string();

    // Bob's network drops; alice goes on writing.
    bob_live.drop_connection();
    wait_for_open_subscriptions(&stack, stack.subgraph_url("chat"), |open| open == 0.0).await;
    for (body, key) in [("two", "k-2"), ("three", "k-3"), ("four", "k-4")] {
        send(&stack, &alice_token, &conversation, body, key)
            .await
            .expect_ok();
    }

    // Bob reconnects; the next live event shows a gap (seq 5 after 1)...
    let mut bob_live = subscribe_chat(&stack, &bob_token, &conversation).await;
    wait_for_subscribers(&stack, "chat", 1.0).await;
    send(&stack, &alice_token, &conversation, "five", "k-5")
        .await
        .expect_ok();
    let after_gap = next_chat_event(&mut bob_live).await;
    assert_eq!(after_gap["seq"], 5);
    // ...so he asks for what came after the last message he holds: exactly 2..5.
    let missed = stack
        .graphql(
            Some(&bob_token),
            "query($c: ID!, $a: String!) { conversation(id: $c) { \
               messages(first: 50, after: $a) { edges { node { seq body } } pageInfo { hasNextPage } } } }",
            json!({ "c": conversation, "a": last_seen }),
        )
        .await;
    let page = &missed.expect_ok()["conversation"]["messages"];
    let got: Vec<(i64, String)> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["seq"].as_i64().unwrap(),
                e["node"]["body"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (2, "two".to_string()),
            (3, "three".to_string()),
            (4, "four".to_string()),
            (5, "five".to_string())
        ]
    );
    assert_eq!(page["pageInfo"]["hasNextPage"], false);

    // A send retried with the same clientMessageId is one message.
    let once = send(&stack, &alice_token, &conversation, "only once", "k-6").await;
    let again = send(&stack, &alice_token, &conversation, "only once", "k-6").await;
    let (once, again) = (
        once.expect_ok()["sendMessage"].clone(),
        again.expect_ok()["sendMessage"].clone(),
    );
    assert_eq!(once["id"], again["id"]);
    assert_eq!(once["seq"], 6);
    assert_eq!(again["seq"], 6);
    assert_eq!(next_chat_event(&mut bob_live).await["seq"], 6);
    send(&stack, &alice_token, &conversation, "seven", "k-7")
        .await
        .expect_ok();
    // The retry sent no second event: the next one is message 7.
    assert_eq!(next_chat_event(&mut bob_live).await["seq"], 7);
    let mut chat_db = stack.connect("chat").await.unwrap();
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM messages WHERE client_message_id = 'k-6'")
            .fetch_one(&mut chat_db)
            .await
            .unwrap();
    assert_eq!(count, 1);

    // Bad input is refused with a clear code, and nothing is stored.
    let empty = send(&stack, &alice_token, &conversation, "   ", "k-8").await;
    assert_eq!(empty.error_codes(), vec!["BAD_USER_INPUT"]);
    let long = send(
        &stack,
        &alice_token,
        &conversation,
        &"x".repeat(4001),
        "k-9",
    )
    .await;
    assert_eq!(long.error_codes(), vec!["BAD_USER_INPUT"]);
    let (total,): (i64,) = sqlx::query_as("SELECT count(*) FROM messages")
        .fetch_one(&mut chat_db)
        .await
        .unwrap();
    assert_eq!(total, 7);
}

#[tokio::test]
async fn blocked_users_cannot_message_each_other() {
    let stack = Stack::start().await.expect("stack starts");
    let (alice, alice_token) = stack.sign_up("alice").await;
    let (bob, bob_token) = stack.sign_up("bob").await;
    let conversation = start_direct(&stack, &alice_token, &bob).await;
    send(&stack, &bob_token, &conversation, "hello", "b-1")
        .await
        .expect_ok();

    stack
        .graphql(
            Some(&alice_token),
            "mutation($u: ID!) { blockUser(userId: $u) { id } }",
            json!({ "u": bob }),
        )
        .await
        .expect_ok();
    // chat learns of the block from social's event.
    let started = Instant::now();
    for attempt in 2.. {
        let key = format!("b-{attempt}");
        let attempt = send(&stack, &bob_token, &conversation, "still there?", &key).await;
        if attempt.error_codes() == vec!["FORBIDDEN"] {
            break;
        }
        attempt.expect_ok();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the block never reached chat\n{}",
            stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let restart = stack
        .graphql(
            Some(&bob_token),
            "mutation($u: ID!) { startDirectConversation(userId: $u) { id } }",
            json!({ "u": alice }),
        )
        .await;
    assert_eq!(restart.error_codes(), vec!["FORBIDDEN"]);
    let group = stack
        .graphql(
            Some(&alice_token),
            "mutation($m: [ID!]!) { createGroup(title: \"team\", memberIds: $m) { id } }",
            json!({ "m": [bob] }),
        )
        .await;
    assert_eq!(group.error_codes(), vec!["FORBIDDEN"]);
}

#[tokio::test]
async fn leaving_a_group_ends_the_leavers_subscription_and_others_see_it() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, alice_token) = stack.sign_up("alice").await;
    let (bob, bob_token) = stack.sign_up("bob").await;
    let (carol, carol_token) = stack.sign_up("carol").await;
    let (group, mut alice_live, mut bob_live) =
        group_of_two_listening(&stack, &alice_token, (&bob, &bob_token)).await;

    // Carol is added: everyone listening sees her join.
    stack
        .graphql(
            Some(&alice_token),
            "mutation($c: ID!, $u: [ID!]!) { addMembers(conversationId: $c, userIds: $u) { id } }",
            json!({ "c": group, "u": [carol] }),
        )
        .await
        .expect_ok();
    for live in [&mut alice_live, &mut bob_live] {
        let joined = next_chat_event(live).await;
        assert_eq!(joined["kind"], "MEMBER_JOINED");
        assert_eq!(joined["user"]["username"], "carol");
    }

    // Bob leaves: his subscription completes, alice sees MEMBER_LEFT.
    stack
        .graphql(
            Some(&bob_token),
            "mutation($c: ID!) { leave(conversationId: $c) }",
            json!({ "c": group }),
        )
        .await
        .expect_ok();
    let left = next_chat_event(&mut alice_live).await;
    assert_eq!(left["kind"], "MEMBER_LEFT");
    assert_eq!(left["user"]["username"], "bob");
    let ended = bob_live.next_message(WAIT).await.unwrap();
    assert_eq!(ended["type"], "complete", "{ended}");

    // What is said afterwards reaches carol's and alice's screens, not bob's.
    send(&stack, &carol_token, &group, "bye bob", "l-1")
        .await
        .expect_ok();
    assert_eq!(
        next_chat_event(&mut alice_live).await["message"]["body"],
        "bye bob"
    );
    assert!(bob_live.stays_quiet(Duration::from_millis(500)).await);
    let bob_reads = stack
        .graphql(
            Some(&bob_token),
            "query($c: ID!) { conversation(id: $c) { id } }",
            json!({ "c": group }),
        )
        .await;
    assert_eq!(bob_reads.error_codes(), vec!["FORBIDDEN"]);
}

/// The "member left" notice travels on Redis, best effort. When it is lost, live
/// delivery still stops: each event is checked against the membership stored.
#[tokio::test]
async fn a_member_removed_without_the_live_notice_receives_nothing_more() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, alice_token) = stack.sign_up("alice").await;
    let (bob, bob_token) = stack.sign_up("bob").await;
    let (group, mut alice_live, mut bob_live) =
        group_of_two_listening(&stack, &alice_token, (&bob, &bob_token)).await;

    // Bob's membership ends in the database alone: no live notice is published.
    let mut chat = stack.connect("chat").await.expect("chat's database");
    let ended = sqlx::query(
        "UPDATE conversation_members SET left_at = now() \
         WHERE conversation_id = $1::uuid AND user_id = $2::uuid",
    )
    .bind(&group)
    .bind(&bob)
    .execute(&mut chat)
    .await
    .expect("update");
    assert_eq!(ended.rows_affected(), 1);

    send(&stack, &alice_token, &group, "not for bob", "m-1")
        .await
        .expect_ok();
    assert_eq!(
        next_chat_event(&mut alice_live).await["message"]["body"],
        "not for bob"
    );
    let bobs_next = bob_live.next_message(WAIT).await.unwrap();
    assert_eq!(bobs_next["type"], "complete", "{bobs_next}");
}

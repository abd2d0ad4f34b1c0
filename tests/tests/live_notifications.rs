//! Notifications through the router, live (graphql-transport-ws and SSE) and
//! listed; live events across subgraph instances; a live stream refuses an
//! expired token.

use std::time::{Duration, Instant};

use futures::StreamExt;
use nova_e2e::forge::{claims, Forger};
use nova_e2e::live::LiveClient;
use nova_e2e::realtime::*;
use nova_e2e::{error_codes, Stack};
use serde_json::{json, Value};

#[tokio::test]
async fn notifications_arrive_live_grouped_and_only_for_their_owner() {
    let stack = Stack::start().await.expect("stack starts");
    let (alice, alice_token) = stack.sign_up("alice").await;
    let (_, bob_token) = stack.sign_up("bob").await;
    let (_, carol_token) = stack.sign_up("carol").await;

    let mut alice_live = LiveClient::connect(&stack.router_url, Some(&alice_token))
        .await
        .unwrap();
    alice_live
        .subscribe("n", NOTIFICATION_ADDED, json!({}))
        .await
        .unwrap();
    let mut bob_live = LiveClient::connect(&stack.router_url, Some(&bob_token))
        .await
        .unwrap();
    bob_live
        .subscribe("n", NOTIFICATION_ADDED, json!({}))
        .await
        .unwrap();
    wait_for_subscribers(&stack, "notifications", 2.0).await;

    let follow = "mutation($u: ID!) { followUser(userId: $u) { id } }";
    stack
        .graphql(Some(&bob_token), follow, json!({ "u": alice }))
        .await
        .expect_ok();
    let first =
        alice_live.next_data(WAIT).await.expect("a notification")["notificationAdded"].clone();
    assert_eq!(first["kind"], "FOLLOWED");
    assert_eq!(first["actorCount"], 1);
    assert_eq!(first["actors"][0]["username"], "bob");

    // A second follower joins the same unread notification.
    stack
        .graphql(Some(&carol_token), follow, json!({ "u": alice }))
        .await
        .expect_ok();
    let grouped = alice_live.next_data(WAIT).await.unwrap()["notificationAdded"].clone();
    assert_eq!(grouped["id"], first["id"]);
    assert_eq!(grouped["actorCount"], 2);
    assert_eq!(grouped["actors"][0]["username"], "carol");

    // Only the owner hears of it.
    assert!(bob_live.stays_quiet(Duration::from_millis(500)).await);

    // A message notifies its recipient.
    let conversation = start_direct(&stack, &bob_token, &alice).await;
    send(&stack, &bob_token, &conversation, "hey", "n-1")
        .await
        .expect_ok();
    let messaged = alice_live.next_data(WAIT).await.unwrap()["notificationAdded"].clone();
    assert_eq!(messaged["kind"], "MESSAGE");
    assert_eq!(messaged["conversationId"], conversation.as_str());

    let counts = stack
        .graphql(
            Some(&alice_token),
            "{ unreadNotificationCount notifications(first: 10) { edges { node { kind actorCount read } } } }",
            json!({}),
        )
        .await;
    let data = counts.expect_ok();
    assert_eq!(data["unreadNotificationCount"], 2);
    assert_eq!(data["notifications"]["edges"][0]["node"]["kind"], "MESSAGE");
    assert_eq!(data["notifications"]["edges"][1]["node"]["actorCount"], 2);
    let marked = stack
        .graphql(
            Some(&alice_token),
            "mutation { markNotificationsRead }",
            json!({}),
        )
        .await;
    assert_eq!(marked.expect_ok()["markNotificationsRead"], 0);

    // Without a token the subscription is refused.
    let mut anonymous = LiveClient::connect(&stack.router_url, None).await.unwrap();
    anonymous
        .subscribe("n", NOTIFICATION_ADDED, json!({}))
        .await
        .unwrap();
    let refused = anonymous.next_message(WAIT).await.unwrap();
    assert!(
        error_codes_of(&refused).contains(&"UNAUTHENTICATED".to_string()),
        "anonymous subscription: {refused}"
    );
}

#[tokio::test]
async fn an_expired_token_cannot_open_a_subscription_and_sse_works() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, alice_token) = stack.sign_up("alice").await;
    let (bob, bob_token) = stack.sign_up("bob").await;
    let conversation = start_direct(&stack, &alice_token, &bob).await;
    // An hour past: the router's verifier (jsonwebtoken) allows 60 s of clock
    // skew, so a token expired a minute ago may still be accepted.
    let expired = Forger::new(&stack).eddsa(&claims(
        &bob,
        json!({ "exp": chrono::Utc::now().timestamp() - 3600 }),
    ));

    // graphql-transport-ws: the connection opens (the token is only read per
    // operation), and the subscription's one message is the refusal.
    let mut client = LiveClient::connect(&stack.router_url, Some(&expired))
        .await
        .expect("the connection is acknowledged");
    client
        .subscribe("chat", CHAT_EVENTS, json!({ "c": conversation }))
        .await
        .unwrap();
    let refusal = client.next_message(WAIT).await.expect("an answer");
    assert_eq!(refusal["type"], "next", "{refusal}");
    assert_invalid_token(&refusal["payload"]);
    let end = client.next_message(WAIT).await.expect("the end");
    assert_eq!(end, json!({ "type": "complete", "id": "chat" }));

    // SSE: the expired token gets 401 before anything streams.
    let sse_body = json!({ "query": CHAT_EVENTS, "variables": { "c": conversation } });
    let refused = sse(&stack, &expired, &sse_body).await;
    assert_eq!(refused.status().as_u16(), 401);
    assert_invalid_token(&refused.json().await.unwrap());

    // SSE with a good token streams events.
    let streaming = sse(&stack, &bob_token, &sse_body).await;
    assert_eq!(streaming.status().as_u16(), 200);
    let mut chunks = streaming.bytes_stream();
    wait_for_subscribers(&stack, "chat", 1.0).await;
    send(&stack, &alice_token, &conversation, "over sse", "s-1")
        .await
        .expect_ok();
    let mut text = String::new();
    let deadline = Instant::now() + WAIT;
    while !text.contains("over sse") {
        assert!(Instant::now() < deadline, "no SSE event: {text}");
        let chunk = tokio::time::timeout(WAIT, chunks.next())
            .await
            .expect("a chunk in time")
            .expect("the stream stays open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: next"), "{text}");
    assert!(text.contains("\"username\":\"alice\""), "{text}");
}

#[tokio::test]
async fn live_events_cross_instances() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (alice, alice_token) = stack.sign_up("alice").await;
    let (bob, bob_token) = stack.sign_up("bob").await;
    let chat_2 = stack
        .start_subgraph_instance("chat", "chat-2")
        .await
        .unwrap();
    let notifications_2 = stack
        .start_subgraph_instance("notifications", "notifications-2")
        .await
        .unwrap();
    // A second router whose chat and notifications are the second instances.
    let router_2 = stack
        .start_router_replica(
            "router-2",
            &[
                ("NOVA_CHAT_URL", &format!("{chat_2}/graphql")),
                (
                    "NOVA_NOTIFICATIONS_URL",
                    &format!("{notifications_2}/graphql"),
                ),
            ],
        )
        .await
        .unwrap();
    let conversation = start_direct(&stack, &alice_token, &bob).await;

    // Bob listens through router 2 → chat-2; alice writes through router 1 → chat.
    let mut bob_live = LiveClient::connect(&router_2, Some(&bob_token))
        .await
        .unwrap();
    bob_live
        .subscribe("chat", CHAT_EVENTS, json!({ "c": conversation }))
        .await
        .unwrap();
    let mut alice_live = LiveClient::connect(&router_2, Some(&alice_token))
        .await
        .unwrap();
    alice_live
        .subscribe("n", NOTIFICATION_ADDED, json!({}))
        .await
        .unwrap();
    wait_for_open_subscriptions(&stack, &chat_2, |open| open >= 1.0).await;
    assert_eq!(stack.metric("chat", "nova_live_subscribers").await, 0.0);

    send(
        &stack,
        &alice_token,
        &conversation,
        "across instances",
        "x-1",
    )
    .await
    .expect_ok();
    let event = next_chat_event(&mut bob_live).await;
    assert_eq!(event["message"]["body"], "across instances");
    assert_eq!(event["message"]["sender"]["username"], "alice");

    // Bob follows alice through router 1; alice hears it on notifications-2
    // (whichever instance's consumer built it).
    stack
        .graphql(
            Some(&bob_token),
            "mutation($u: ID!) { followUser(userId: $u) { id } }",
            json!({ "u": alice }),
        )
        .await
        .expect_ok();
    let mut kinds = Vec::new();
    while !kinds.contains(&"FOLLOWED".to_string()) {
        let notification = alice_live.next_data(WAIT).await.expect("a notification");
        kinds.push(
            notification["notificationAdded"]["kind"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
}

#[tokio::test]
async fn likes_comments_and_mentions_notify_and_conversations_page_by_activity() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, alice_token) = stack.sign_up("alice").await;
    let (bob, bob_token) = stack.sign_up("bob").await;
    let (carol, carol_token) = stack.sign_up("carol").await;

    // Carol posts mentioning alice; bob likes and comments; carol likes her own.
    let post = stack
        .graphql(
            Some(&carol_token),
            "mutation { createPost(body: \"lunch with @alice?\") { id } }",
            json!({}),
        )
        .await;
    let post_id = post.expect_ok()["createPost"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (token, mutation) in [
        (
            &bob_token,
            "mutation($p: ID!) { likePost(postId: $p) { id } }",
        ),
        (
            &bob_token,
            "mutation($p: ID!) { addComment(postId: $p, body: \"yes\") { id } }",
        ),
        (
            &carol_token,
            "mutation($p: ID!) { likePost(postId: $p) { id } }",
        ),
    ] {
        stack
            .graphql(Some(token), mutation, json!({ "p": post_id }))
            .await
            .expect_ok();
    }
    let carols = notifications_until(&stack, &carol_token, |edges| {
        let kinds = kinds(edges);
        kinds.contains(&"POST_LIKED".to_string()) && kinds.contains(&"COMMENTED".to_string())
    })
    .await;
    assert_eq!(carols.as_array().unwrap().len(), 2, "{carols:#}");
    for edge in carols.as_array().unwrap() {
        // Her own like notified nobody.
        assert_eq!(edge["node"]["actorCount"], 1);
        assert_eq!(edge["node"]["actors"][0]["username"], "bob");
        assert_eq!(edge["node"]["post"]["id"], post_id.as_str());
    }
    let alices = notifications_until(&stack, &alice_token, |edges| {
        kinds(edges) == vec!["MENTIONED".to_string()]
    })
    .await;
    assert_eq!(alices[0]["node"]["actors"][0]["username"], "carol");

    // Alice's conversations, most recently active first, two to a page.
    let with_bob = start_direct(&stack, &alice_token, &bob).await;
    let with_carol = start_direct(&stack, &alice_token, &carol).await;
    let group = stack
        .graphql(
            Some(&alice_token),
            "mutation($m: [ID!]!) { createGroup(title: \"lunch\", memberIds: $m) { id title } }",
            json!({ "m": [bob, carol] }),
        )
        .await;
    let group = group.expect_ok()["createGroup"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    send(&stack, &bob_token, &with_bob, "newest", "p-1")
        .await
        .expect_ok();
    let page = |after: Option<String>| {
        let token = alice_token.clone();
        let stack = &stack;
        async move {
            let listed = stack
                .graphql(
                    Some(&token),
                    "query($a: String) { conversations(first: 2, after: $a) { \
                       edges { cursor node { id unreadCount } } pageInfo { hasNextPage } } }",
                    json!({ "a": after }),
                )
                .await;
            listed.expect_ok()["conversations"].clone()
        }
    };
    let first = page(None).await;
    let ids = |page: &Value| -> Vec<String> {
        page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&first), vec![with_bob.clone(), group.clone()]);
    assert_eq!(first["edges"][0]["node"]["unreadCount"], 1);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let cursor = first["edges"][1]["cursor"].as_str().unwrap().to_string();
    let second = page(Some(cursor)).await;
    assert_eq!(ids(&second), vec![with_carol]);
    assert_eq!(second["pageInfo"]["hasNextPage"], false);
}

/// The router's answer to a token that failed verification, as over HTTP.
fn assert_invalid_token(body: &Value) {
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(error_codes(&body["errors"]), ["UNAUTHENTICATED"], "{body}");
    assert_eq!(body["errors"][0]["extensions"]["reason"], "INVALID_TOKEN");
}

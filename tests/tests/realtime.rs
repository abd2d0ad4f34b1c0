//! Chat and notifications through the router as an app uses them: mutations over
//! HTTP, live events over graphql-transport-ws (`/ws`) or SSE.

use std::time::{Duration, Instant};

use futures::StreamExt;
use nova_e2e::forge::{claims, Forger};
use nova_e2e::live::LiveClient;
use nova_e2e::{error_codes, Response, Stack};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(15);

const CHAT_EVENTS: &str = "subscription($c: ID!) { chatEvents(conversationId: $c) { \
     kind seq cursor conversationId user { id username } readUpTo typing \
     message { id seq cursor body clientMessageId sender { id username } } } }";

const NOTIFICATION_ADDED: &str = "subscription { notificationAdded { \
     id kind actorCount eventCount conversationId read actors { id username } } }";

const SEND: &str = "mutation($c: ID!, $b: String!, $k: String!) { \
     sendMessage(conversationId: $c, body: $b, clientMessageId: $k) { id seq cursor body } }";

async fn start_direct(stack: &Stack, token: &str, other: &str) -> String {
    let response = stack
        .graphql(
            Some(token),
            "mutation($u: ID!) { startDirectConversation(userId: $u) { id kind members { id username } } }",
            json!({ "u": other }),
        )
        .await;
    let conversation = &response.expect_ok()["startDirectConversation"];
    assert_eq!(conversation["kind"], "DIRECT");
    assert_eq!(conversation["members"].as_array().unwrap().len(), 2);
    conversation["id"].as_str().unwrap().to_string()
}

async fn send(stack: &Stack, token: &str, conversation: &str, body: &str, key: &str) -> Response {
    stack
        .graphql(
            Some(token),
            SEND,
            json!({ "c": conversation, "b": body, "k": key }),
        )
        .await
}

/// Wait until `count` subscriptions are open on a subgraph (the router has
/// reached it), so what is sent next is seen live.
async fn wait_for_subscribers(stack: &Stack, subgraph: &str, count: f64) {
    let url = stack.subgraph_url(subgraph);
    wait_for_open_subscriptions(stack, url, |open| open >= count).await
}

/// Wait until the number of subscriptions open on the instance at `base_url`
/// satisfies `done`.
async fn wait_for_open_subscriptions(stack: &Stack, base_url: &str, done: impl Fn(f64) -> bool) {
    let started = Instant::now();
    loop {
        let open = stack.metric_at(base_url, "nova_live_subscribers").await;
        if done(open) {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "{base_url} has {open} subscriptions open\n{}",
            stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn subscribe_chat(stack: &Stack, token: &str, conversation: &str) -> LiveClient {
    let mut client = LiveClient::connect(&stack.router_url, Some(token))
        .await
        .expect("the router accepts the connection");
    client
        .subscribe("chat", CHAT_EVENTS, json!({ "c": conversation }))
        .await
        .unwrap();
    client
}

async fn next_chat_event(client: &mut LiveClient) -> Value {
    client.next_data(WAIT).await.expect("a chat event")["chatEvents"].clone()
}

/// A group alice creates with bob, both subscribed to it: its id and the two
/// live clients.
async fn group_of_two_listening(
    stack: &Stack,
    alice_token: &str,
    (bob, bob_token): (&str, &str),
) -> (String, LiveClient, LiveClient) {
    let group = stack
        .graphql(
            Some(alice_token),
            "mutation($m: [ID!]!) { createGroup(title: \"group\", memberIds: $m) { id } }",
            json!({ "m": [bob] }),
        )
        .await;
    let group = group.expect_ok()["createGroup"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let alice_live = subscribe_chat(stack, alice_token, &group).await;
    let bob_live = subscribe_chat(stack, bob_token, &group).await;
    wait_for_subscribers(stack, "chat", 2.0).await;
    (group, alice_live, bob_live)
}

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

/// The error codes of a graphql-transport-ws message (`error`, or `next` with errors).
fn error_codes_of(message: &Value) -> Vec<String> {
    if message["type"] == "error" {
        error_codes(&message["payload"])
    } else {
        error_codes(&message["payload"]["errors"])
    }
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
    let expired = Forger::new(&stack).eddsa(&claims(
        &bob,
        json!({ "exp": chrono::Utc::now().timestamp() - 60 }),
    ));

    // graphql-transport-ws: refused at connection_init or at subscribe.
    match LiveClient::connect(&stack.router_url, Some(&expired)).await {
        Err(_) => {}
        Ok(mut client) => {
            client
                .subscribe("chat", CHAT_EVENTS, json!({ "c": conversation }))
                .await
                .unwrap();
            let answer = client.next_message(WAIT).await;
            assert!(
                answer
                    .as_ref()
                    .map(|m| !error_codes_of(m).is_empty())
                    .unwrap_or(true),
                "an expired token subscribed: {answer:?}"
            );
        }
    }

    // SSE: the expired token gets 401 before anything streams.
    let sse_body = json!({ "query": CHAT_EVENTS, "variables": { "c": conversation } });
    let refused = stack
        .http
        .post(&stack.router_url)
        .header("accept", "text/event-stream")
        .bearer_auth(&expired)
        .json(&sse_body)
        .send()
        .await
        .unwrap();
    // Hive streams the refusal: the subscription resolves to one UNAUTHENTICATED
    // error (the router does not forward an expired token's claims) and ends.
    let status = refused.status().as_u16();
    let text = refused.text().await.unwrap();
    assert!(status == 401 || status == 200, "{status}: {text}");
    if status == 200 {
        assert!(text.contains("\"code\":\"UNAUTHENTICATED\""), "{text}");
        assert!(text.contains("\"data\":null"), "{text}");
        assert!(!text.contains("\"kind\""), "{text}");
    }

    // SSE with a good token streams events.
    let streaming = stack
        .http
        .post(&stack.router_url)
        .header("accept", "text/event-stream")
        .bearer_auth(&bob_token)
        .json(&sse_body)
        .send()
        .await
        .unwrap();
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

/// Poll the caller's notifications until `done` holds for them.
async fn notifications_until(stack: &Stack, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let listed = stack
            .graphql(
                Some(token),
                "{ notifications(first: 20) { edges { node { kind actorCount post { id } actors { username } } } } }",
                json!({}),
            )
            .await;
        let edges = listed.expect_ok()["notifications"]["edges"].clone();
        if done(&edges) {
            return edges;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "notifications so far: {edges:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn kinds(edges: &Value) -> Vec<String> {
    edges
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap().to_string())
        .collect()
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

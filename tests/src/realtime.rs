//! What the realtime tests share: the chat and notification operations an app
//! sends, and waiting for subscriptions, events and notifications.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::live::LiveClient;
use crate::{error_codes, Response, Stack};

pub const WAIT: Duration = Duration::from_secs(15);

pub const CHAT_EVENTS: &str = "subscription($c: ID!) { chatEvents(conversationId: $c) { \
     kind seq cursor conversationId user { id username } readUpTo typing \
     message { id seq cursor body clientMessageId sender { id username } } } }";

pub const NOTIFICATION_ADDED: &str = "subscription { notificationAdded { \
     id kind actorCount eventCount conversationId read actors { id username } } }";

pub const SEND: &str = "mutation($c: ID!, $b: String!, $k: String!) { \
     sendMessage(conversationId: $c, body: $b, clientMessageId: $k) { id seq cursor body } }";

/// Open an SSE subscription (`POST /graphql`, `accept: text/event-stream`) with
/// `body` (`query`, `variables`) as the user of `token`: the router's answer.
pub async fn sse(stack: &Stack, token: &str, body: &Value) -> reqwest::Response {
    stack
        .http
        .post(&stack.router_url)
        .header("accept", "text/event-stream")
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("the router answers")
}

pub async fn start_direct(stack: &Stack, token: &str, other: &str) -> String {
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

pub async fn send(
    stack: &Stack,
    token: &str,
    conversation: &str,
    body: &str,
    key: &str,
) -> Response {
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
pub async fn wait_for_subscribers(stack: &Stack, subgraph: &str, count: f64) {
    let url = stack.subgraph_url(subgraph);
    wait_for_open_subscriptions(stack, url, |open| open >= count).await
}

/// Wait until the number of subscriptions open on the instance at `base_url`
/// satisfies `done`.
pub async fn wait_for_open_subscriptions(
    stack: &Stack,
    base_url: &str,
    done: impl Fn(f64) -> bool,
) {
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

pub async fn subscribe_chat(stack: &Stack, token: &str, conversation: &str) -> LiveClient {
    let mut client = LiveClient::connect(&stack.router_url, Some(token))
        .await
        .expect("the router accepts the connection");
    client
        .subscribe("chat", CHAT_EVENTS, json!({ "c": conversation }))
        .await
        .unwrap();
    client
}

pub async fn next_chat_event(client: &mut LiveClient) -> Value {
    client.next_data(WAIT).await.expect("a chat event")["chatEvents"].clone()
}

/// A group alice creates with bob, both subscribed to it: its id and the two
/// live clients.
pub async fn group_of_two_listening(
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

/// The error codes of a graphql-transport-ws message (`error`, or `next` with errors).
pub fn error_codes_of(message: &Value) -> Vec<String> {
    if message["type"] == "error" {
        error_codes(&message["payload"])
    } else {
        error_codes(&message["payload"]["errors"])
    }
}

/// Poll the caller's notifications until `done` holds for them.
pub async fn notifications_until(
    stack: &Stack,
    token: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
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

pub fn kinds(edges: &Value) -> Vec<String> {
    edges
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap().to_string())
        .collect()
}

/// A refusal on a socket: one `next` with `RATE_LIMITED` and the delay in
/// whole seconds, then `complete`.
pub async fn assert_limited_on_socket(live: &mut LiveClient, id: &str) {
    let refusal = live.next_message(WAIT).await.expect("an answer");
    assert_eq!(refusal["type"], "next", "{refusal}");
    assert_eq!(refusal["id"], id, "{refusal}");
    assert_eq!(error_codes_of(&refusal), ["RATE_LIMITED"], "{refusal}");
    let retry_after = &refusal["payload"]["errors"][0]["extensions"]["retryAfter"];
    assert!(
        retry_after.as_u64().expect("whole seconds") >= 1,
        "{refusal}"
    );
    let end = live.next_message(WAIT).await.expect("the end");
    assert_eq!(end, json!({ "type": "complete", "id": id }));
}

//! A live stream ends when its access token expires: the subgraph serving it
//! sends one `UNAUTHENTICATED` error (reason `TOKEN_EXPIRED`) and completes, over
//! graphql-transport-ws and SSE alike, on every subgraph that serves
//! subscriptions. Until then the stream delivers.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use nova_e2e::forge::{claims, Forger};
use nova_e2e::live::LiveClient;
use nova_e2e::realtime::*;
use nova_e2e::Stack;
use serde_json::{json, Value};

/// How long the forged token lives: enough to open the streams and see one event.
const TOKEN_LIFETIME_SECONDS: i64 = 12;

const HOME_FEED_UPDATED: &str = "subscription { homeFeedUpdated { post { id } } }";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn assert_token_expired(message: &Value) {
    assert_eq!(message["type"], "next", "{message}");
    let error = &message["payload"]["errors"][0];
    assert_eq!(error["extensions"]["code"], "UNAUTHENTICATED", "{message}");
    assert_eq!(error["extensions"]["reason"], "TOKEN_EXPIRED", "{message}");
}

#[tokio::test]
async fn live_streams_end_with_token_expired_when_their_token_expires() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, alice_token) = stack.sign_up("alice").await;
    let (bob, _) = stack.sign_up("bob").await;
    let conversation = start_direct(&stack, &alice_token, &bob).await;
    let expires_at = chrono::Utc::now().timestamp() + TOKEN_LIFETIME_SECONDS;
    let short_lived = Forger::new(&stack).eddsa(&claims(&bob, json!({ "exp": expires_at })));

    // One socket with a subscription on each subgraph that serves them, and SSE.
    let mut live = LiveClient::connect(&stack.router_url, Some(&short_lived))
        .await
        .expect("the connection is acknowledged");
    let chat = json!({ "c": conversation });
    live.subscribe("chat", CHAT_EVENTS, chat.clone())
        .await
        .unwrap();
    live.subscribe("notifications", NOTIFICATION_ADDED, json!({}))
        .await
        .unwrap();
    live.subscribe("feed", HOME_FEED_UPDATED, json!({}))
        .await
        .unwrap();
    let streaming = sse(
        &stack,
        &short_lived,
        &json!({ "query": CHAT_EVENTS, "variables": chat }),
    )
    .await;
    assert_eq!(streaming.status().as_u16(), 200);
    let mut sse_chunks = streaming.bytes_stream();
    wait_for_subscribers(&stack, "chat", 2.0).await;
    wait_for_subscribers(&stack, "notifications", 1.0).await;
    wait_for_subscribers(&stack, "feed", 1.0).await;

    // Until the token expires, the streams deliver.
    send(&stack, &alice_token, &conversation, "before expiry", "k-1")
        .await
        .expect_ok();
    assert!(
        now_ms() < expires_at * 1000,
        "the token expired before the first event was sent; raise TOKEN_LIFETIME_SECONDS"
    );

    // Every WebSocket message per subscription, until all three completed.
    let deadline = Duration::from_secs(TOKEN_LIFETIME_SECONDS as u64) + WAIT;
    let mut by_id: HashMap<String, Vec<(i64, Value)>> = HashMap::new();
    while by_id
        .values()
        .filter(|messages| {
            messages
                .last()
                .is_some_and(|(_, m)| m["type"] == "complete")
        })
        .count()
        < 3
    {
        let message = live
            .next_message(deadline)
            .await
            .unwrap_or_else(|error| panic!("{error}; so far {by_id:?}\n{}", stack.logs()));
        let id = message["id"].as_str().expect("an id").to_string();
        by_id.entry(id).or_default().push((now_ms(), message));
    }
    let chat_messages = &by_id["chat"];
    assert_eq!(chat_messages.len(), 3, "{chat_messages:?}");
    let (delivered_at, delivered) = &chat_messages[0];
    assert_eq!(
        delivered["payload"]["data"]["chatEvents"]["message"]["body"],
        "before expiry"
    );
    assert!(*delivered_at < expires_at * 1000);
    for id in ["chat", "notifications", "feed"] {
        let messages = &by_id[id];
        let (ended_at, expired) = &messages[messages.len() - 2];
        assert_token_expired(expired);
        assert!(
            *ended_at >= expires_at * 1000,
            "{id} ended {} ms before the token expired",
            expires_at * 1000 - ended_at
        );
        assert_eq!(
            messages[messages.len() - 1].1,
            json!({ "type": "complete", "id": id })
        );
    }
    // The message also notified bob before the expiry: one notification, then the end.
    let notifications = &by_id["notifications"];
    assert_eq!(notifications.len(), 3, "{notifications:?}");
    assert_eq!(
        notifications[0].1["payload"]["data"]["notificationAdded"]["kind"],
        "MESSAGE"
    );
    assert_eq!(by_id["feed"].len(), 2, "{:?}", by_id["feed"]);

    // SSE: the event, then the same error, then the end of the stream.
    let mut text = String::new();
    while !text.contains("event: complete") {
        let chunk = tokio::time::timeout(WAIT, sse_chunks.next())
            .await
            .expect("an SSE chunk in time")
            .expect("the stream ends with a complete event")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let before = text.find("before expiry").expect("the event before expiry");
    let expired = text.find("TOKEN_EXPIRED").expect("the expiry error");
    assert!(before < expired, "{text}");
    assert!(text.contains("\"code\":\"UNAUTHENTICATED\""), "{text}");
}

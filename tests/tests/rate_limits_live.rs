//! Rate limits on the live doors: a WebSocket's operations and subscriptions
//! over WebSocket and SSE draw on the same buckets as HTTP, and a socket's
//! operations are keyed by its address whatever the client writes in
//! `connection_init`.

use nova_e2e::live::LiveClient;
use nova_e2e::realtime::{assert_limited_on_socket, sse, NOTIFICATION_ADDED, WAIT};
use nova_e2e::{error_codes, Stack};
use serde_json::{json, Value};

const ANYONE: &str = "{ userByUsername(username: \"nobody\") { id } }";

#[tokio::test]
async fn a_sockets_operations_count_against_its_address_not_one_it_names() {
    let stack = Stack::start_with_router_env(&[
        ("NOVA_RATE_LIMIT_ANONYMOUS_BURST", "3"),
        ("NOVA_RATE_LIMIT_ANONYMOUS_PER_SECOND", "0.01"),
    ])
    .await
    .expect("stack starts");
    // The headers a client may set in connection_init, naming another address.
    let spoofing = json!({ "headers": {
        "x-nova-client-ip": "203.0.113.7",
        "x-forwarded-for": "203.0.113.7",
    } });
    let mut live = LiveClient::connect_with_init(&stack.router_url, spoofing)
        .await
        .expect("the connection is acknowledged");
    for id in ["1", "2", "3"] {
        live.subscribe(id, ANYONE, json!({})).await.unwrap();
        let data = live.next_data(WAIT).await.expect("an answer");
        assert_eq!(data, json!({ "userByUsername": null }));
        let end = live.next_message(WAIT).await.expect("the end");
        assert_eq!(end, json!({ "type": "complete", "id": id }));
    }
    // The socket spent this address's burst: HTTP from it is refused...
    let response = stack.graphql(None, ANYONE, json!({})).await;
    assert_eq!(response.status, 429, "{:?}", response.body);
    assert_eq!(response.error_codes(), ["RATE_LIMITED"]);
    // ...and so is the socket's next operation.
    live.subscribe("4", ANYONE, json!({})).await.unwrap();
    assert_limited_on_socket(&mut live, "4").await;
}

#[tokio::test]
async fn subscriptions_draw_on_the_users_bucket_over_websocket_and_sse() {
    let stack = Stack::start_with_router_env(&[
        ("NOVA_RATE_LIMIT_USER_BURST", "2"),
        ("NOVA_RATE_LIMIT_USER_PER_SECOND", "0.01"),
    ])
    .await
    .expect("stack starts");
    let (_, token) = stack.sign_up("ann").await;

    // One token each: a subscription over the socket, one over SSE.
    let mut live = LiveClient::connect(&stack.router_url, Some(&token))
        .await
        .expect("the connection is acknowledged");
    live.subscribe("first", NOTIFICATION_ADDED, json!({}))
        .await
        .unwrap();
    let streaming = sse(&stack, &token, &json!({ "query": NOTIFICATION_ADDED })).await;
    assert_eq!(streaming.status().as_u16(), 200);

    // The bucket is empty for both doors. (Another selection: Hive Router
    // joins a caller's identical subscription to the one in flight without
    // running it again, which costs the subgraphs nothing.)
    let other = "subscription { notificationAdded { id } }";
    live.subscribe("second", other, json!({})).await.unwrap();
    assert_limited_on_socket(&mut live, "second").await;
    let refused = sse(&stack, &token, &json!({ "query": other })).await;
    assert_eq!(refused.status().as_u16(), 429);
    let retry_after = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(retry_after.parse::<u64>().expect("whole seconds") >= 1);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(error_codes(&body["errors"]), ["RATE_LIMITED"], "{body}");
}

//! Behind a load balancer the per-address rate limits count the address the
//! balancer saw (`X-Forwarded-For`), but only when the router is told to trust
//! it (`NOVA_TRUSTED_PROXIES`); otherwise the header changes nothing.

use nova_e2e::live::LiveClient;
use nova_e2e::realtime::{assert_limited_on_socket, WAIT};
use nova_e2e::{Response, Stack};
use serde_json::json;

const ANYONE: &str = "{ __typename }";

/// An anonymous query to `url` that arrives with `forwarded_for`.
async fn anonymous(stack: &Stack, url: &str, forwarded_for: &str) -> Response {
    let response = stack
        .http
        .post(url)
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "query": ANYONE }))
        .send()
        .await
        .expect("the router answers");
    Response::from(response).await
}

#[tokio::test]
async fn forwarded_addresses_count_only_through_trusted_proxies() {
    let mut stack = Stack::start_with_router_env(&[
        ("NOVA_RATE_LIMIT_ANONYMOUS_BURST", "2"),
        ("NOVA_RATE_LIMIT_ANONYMOUS_PER_SECOND", "0.01"),
        // The tests' client plays the load balancer, on loopback.
        ("NOVA_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await
    .expect("stack starts");
    let behind_proxy = stack.router_url.clone();

    // Two clients behind the balancer: a bucket of two each.
    for client in ["203.0.113.1", "203.0.113.2"] {
        for _ in 0..2 {
            anonymous(&stack, &behind_proxy, client).await.expect_ok();
        }
        let over = anonymous(&stack, &behind_proxy, client).await;
        assert_eq!(over.status, 429, "{client}: {:?}", over.body);
    }
    // What a client writes left of the balancer's entry is not believed: this is
    // still 203.0.113.1, whose bucket is empty.
    let spoofed = anonymous(&stack, &behind_proxy, "198.51.100.9, 203.0.113.1").await;
    assert_eq!(spoofed.status, 429, "{:?}", spoofed.body);

    // A router that trusts no proxy ignores the header: these three are one
    // loopback client with a bucket of two.
    let direct = stack
        .start_router_replica("router-direct", &[("NOVA_TRUSTED_PROXIES", "")])
        .await
        .unwrap();
    for client in ["203.0.113.3", "203.0.113.4"] {
        anonymous(&stack, &direct, client).await.expect_ok();
    }
    let over = anonymous(&stack, &direct, "203.0.113.5").await;
    assert_eq!(over.status, 429, "{:?}", over.body);
}

/// One operation on `live` that runs (`id` answers `__typename` and completes).
async fn runs_on_socket(live: &mut LiveClient, id: &str) {
    live.subscribe(id, ANYONE, json!({})).await.unwrap();
    let data = live.next_data(WAIT).await.expect("an answer");
    assert_eq!(data, json!({ "__typename": "Query" }));
    let end = live.next_message(WAIT).await.expect("the end");
    assert_eq!(end, json!({ "type": "complete", "id": id }));
}

#[tokio::test]
async fn a_sockets_operations_count_against_the_address_its_trusted_proxy_saw() {
    let stack = Stack::start_with_router_env(&[
        ("NOVA_RATE_LIMIT_ANONYMOUS_BURST", "2"),
        ("NOVA_RATE_LIMIT_ANONYMOUS_PER_SECOND", "0.01"),
        ("NOVA_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await
    .expect("stack starts");
    let url = &stack.router_url;

    // A socket the balancer opened for 203.0.113.1 spends that address's bucket...
    let mut first = LiveClient::connect_forwarded_for(url, "203.0.113.1")
        .await
        .expect("the connection is acknowledged");
    runs_on_socket(&mut first, "1").await;
    runs_on_socket(&mut first, "2").await;
    first.subscribe("3", ANYONE, json!({})).await.unwrap();
    assert_limited_on_socket(&mut first, "3").await;
    // ...the same bucket as that address's HTTP requests...
    let over = anonymous(&stack, url, "203.0.113.1").await;
    assert_eq!(over.status, 429, "{:?}", over.body);
    // ...and not another client's behind the same balancer.
    let mut second = LiveClient::connect_forwarded_for(url, "203.0.113.2")
        .await
        .expect("the connection is acknowledged");
    runs_on_socket(&mut second, "1").await;
}

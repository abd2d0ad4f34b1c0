//! The schema registry as operators and routers use it: `nova` publishes and
//! rolls back, the sync agent keeps each router's supergraph file current, and
//! routers switch without restarting while clients keep working.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nova_e2e::live::LiveClient;
use nova_e2e::registry_ops::*;
use nova_e2e::Stack;
use serde_json::{json, Value};
use tokio::sync::watch;

const CHAT_EVENTS: &str = "subscription($c: ID!) { chatEvents(conversationId: $c) { seq message { body sender { username } } } }";

/// Read chat events until `stop` (and a little after). When the router ends the
/// subscription for a schema reload, reconnect and subscribe again (Hive ties
/// a WebSocket connection to the supergraph it opened on, so a new operation
/// needs a new connection). Keeps `latest` at the highest sequence number seen
/// live; returns the sequence numbers seen and how many reload notices came.
async fn listen(
    router: String,
    token: String,
    conversation: String,
    stop: Arc<AtomicBool>,
    latest: watch::Sender<i64>,
) -> (BTreeSet<i64>, usize) {
    let mut client = LiveClient::connect(&router, Some(&token)).await.unwrap();
    let mut seen = BTreeSet::new();
    let mut reloads = 0;
    let mut quiet_since: Option<Instant> = None;
    // A new id per subscription: Hive follows the reload error with a
    // `complete` for the old one.
    let mut current = "chat-0".to_string();
    client
        .subscribe(&current, CHAT_EVENTS, json!({ "c": conversation }))
        .await
        .unwrap();
    loop {
        if stop.load(Ordering::Relaxed) {
            let since = *quiet_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(3) {
                return (seen, reloads);
            }
        }
        let Ok(message) = client.next_message(Duration::from_millis(200)).await else {
            continue;
        };
        let for_current = message["id"] == current.as_str();
        match message["type"].as_str() {
            Some("next") if for_current => {
                let event = &message["payload"]["data"]["chatEvents"];
                assert_eq!(event["message"]["sender"]["username"], "alice", "{message}");
                let seq = event["seq"].as_i64().unwrap();
                seen.insert(seq);
                latest.send_modify(|latest| *latest = (*latest).max(seq));
            }
            Some("error")
                if for_current
                    && nova_e2e::error_codes(&message["payload"])
                        == ["SUBSCRIPTION_SCHEMA_RELOAD"] =>
            {
                reloads += 1;
                current = format!("chat-{reloads}");
                client = LiveClient::connect(&router, Some(&token)).await.unwrap();
                client
                    .subscribe(&current, CHAT_EVENTS, json!({ "c": conversation }))
                    .await
                    .unwrap();
            }
            Some("complete") if !for_current => {}
            _ => panic!("unexpected on the subscription: {message}"),
        }
    }
}

/// Sequence numbers of the messages after `cursor`, as a client catching up asks.
async fn messages_after(stack: &Stack, token: &str, conversation: &str, cursor: &str) -> Vec<i64> {
    let page = stack
        .graphql(
            Some(token),
            "query($c: ID!, $a: String!) { conversation(id: $c) { messages(first: 100, after: $a) { edges { node { seq } } } } }",
            json!({ "c": conversation, "a": cursor }),
        )
        .await;
    page.expect_ok()["conversation"]["messages"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["seq"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn compatible_publishes_reach_every_router_without_a_client_error() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (_, alice_token) = stack.sign_up("alice").await;
    let (bob, bob_token) = stack.sign_up("bob").await;
    let (registry, routers) = with_registry(&mut stack, 2).await;
    let started = stack
        .graphql(
            Some(&alice_token),
            "mutation($u: ID!) { startDirectConversation(userId: $u) { id } }",
            json!({ "u": bob }),
        )
        .await;
    let conversation = started.expect_ok()["startDirectConversation"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // One open subscription through the first replica, read while the
    // switches happen. Hive Router 0.2.19 ends every subscription of a retired
    // supergraph with SUBSCRIPTION_SCHEMA_RELOAD; the client reconnects at once,
    // as Apollo's and Hive's clients do, and fills gaps by `seq`.
    let stop = Arc::new(AtomicBool::new(false));
    let stop_listening = Arc::new(AtomicBool::new(false));
    let (latest_seen, mut latest_seen_rx) = watch::channel(0i64);
    let subscriber = tokio::spawn(listen(
        routers[0].clone(),
        bob_token.clone(),
        conversation.clone(),
        stop_listening.clone(),
        latest_seen,
    ));
    nova_e2e::realtime::wait_for_subscribers(&stack, "chat", 1.0).await;

    // A steady load on both replicas, and a message every 100 ms, until told to stop.
    let (requests, failures, sent) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut load = Vec::new();
    for (worker, url) in routers.iter().cycle().take(4).enumerate() {
        let (http, url, token, stop) = (
            stack.http.clone(),
            url.clone(),
            alice_token.clone(),
            stop.clone(),
        );
        let (requests, failures, sent) = (requests.clone(), failures.clone(), sent.clone());
        let conversation = conversation.clone();
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let body = if worker == 0 && n % 5 == 0 {
                    sent.fetch_add(1, Ordering::Relaxed);
                    json!({ "query": "mutation($c: ID!, $b: String!, $k: String!) { sendMessage(conversationId: $c, body: $b, clientMessageId: $k) { seq } }",
                            "variables": { "c": conversation, "b": format!("during switch {n}"), "k": format!("k-{n}") } })
                } else {
                    json!({ "query": "{ me { id username } conversations(first: 5) { edges { node { id lastSeq } } } }" })
                };
                let answer = http.post(&url).bearer_auth(&token).json(&body).send().await;
                requests.fetch_add(1, Ordering::Relaxed);
                let ok = match answer {
                    Ok(response) if response.status().is_success() => response
                        .json::<Value>()
                        .await
                        .is_ok_and(|b| b.get("errors").is_none() && !b["data"].is_null()),
                    _ => false,
                };
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }

    // Repeated compatible publishes; each must reach both routers.
    let mut delays = Vec::new();
    for round in 0..6 {
        let probe = format!("RegistryProbe{round}");
        let output = publish(
            &stack,
            &registry,
            &registry.operator_token,
            "users",
            &users_with_probe(&stack, &probe),
        );
        assert!(
            output.status.success(),
            "publish {round}: {}",
            text(&output)
        );
        delays.push(wait_until_served(&stack, &routers, &probe, true).await);
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    // The subscription is live again after the last switch: a message sent now
    // arrives on it. Until the client has reconnected it may not (that one is
    // read by cursor below), so send again until one does.
    let mut sent = sent.load(Ordering::Relaxed);
    let started = Instant::now();
    loop {
        sent += 1;
        let answer = stack
            .graphql(
                Some(&alice_token),
                "mutation($c: ID!, $k: String!) { sendMessage(conversationId: $c, body: \"after the switches\", clientMessageId: $k) { seq } }",
                json!({ "c": conversation, "k": format!("final-{sent}") }),
            )
            .await;
        let seq = answer.expect_ok()["sendMessage"]["seq"].as_i64().unwrap();
        assert_eq!(seq, sent as i64, "every message is numbered in order");
        let arrived = tokio::time::timeout(
            Duration::from_secs(2),
            latest_seen_rx.wait_for(|latest| *latest >= seq),
        )
        .await;
        if matches!(arrived, Ok(Ok(_))) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no message reached the subscription live after the switches"
        );
    }
    stop_listening.store(true, Ordering::Relaxed);
    let (seen, reloads) = subscriber.await.unwrap();
    // What the live stream missed around a reload, the client reads by cursor:
    // together nothing is lost.
    let mut complete = seen.clone();
    let mut expected = 1;
    for seq in seen.iter().copied().chain(std::iter::once(i64::MAX)) {
        if seq > expected {
            let after = nova_core::connection::encode_position_cursor(expected - 1);
            for missed in messages_after(&stack, &bob_token, &conversation, &after).await {
                complete.insert(missed);
            }
        }
        expected = seq.saturating_add(1);
    }
    assert_eq!(
        complete,
        (1..=sent as i64).collect::<BTreeSet<i64>>(),
        "messages sent: {sent}; seen live: {seen:?}"
    );
    assert!(
        seen.contains(&(sent as i64)),
        "the subscription was live again after the last switch"
    );
    // One notice per switch, or two when the reconnect lands on the outgoing
    // supergraph a moment before it is retired; never a reconnect loop.
    assert!(reloads <= 12, "{reloads} reload notices for 6 publishes");
    let (requests, failures) = (
        requests.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed),
    );
    delays.sort();
    println!(
        "publish → served by both routers over {} publishes: p50 {:?}, max {:?}; \
         {requests} requests during the switches, {failures} failed; {sent} messages sent, \
         {} seen live, {reloads} SUBSCRIPTION_SCHEMA_RELOAD notices (reconnected), 0 lost",
        delays.len(),
        delays[delays.len() / 2],
        delays[delays.len() - 1],
        seen.len()
    );
    assert!(requests > 100, "the load ran ({requests} requests)");
    assert_eq!(failures, 0, "client errors during the switches");
}

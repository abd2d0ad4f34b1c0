//! The schema registry as operators and routers use it: `nova` publishes and
//! rolls back, the sync agent keeps each router's supergraph file current, and
//! routers switch without restarting while clients keep working.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nova_e2e::live::LiveClient;
use nova_e2e::{subgraphs, Registry, Stack};
use serde_json::{json, Value};

/// What the issue promises: a router serves a new supergraph within 5 s.
const DELIVERY_BOUND: Duration = Duration::from_secs(5);

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A subgraph's schema file as `cargo xtask compose` wrote it.
fn schema_file(name: &str) -> PathBuf {
    PathBuf::from(std::env::var("NOVA_ROOT").expect("NOVA_ROOT is set by cargo xtask test"))
        .join("schema")
        .join(format!("{name}.graphql"))
}

/// Publish a schema with `nova subgraph publish`; the command's output.
fn publish(
    stack: &Stack,
    registry: &Registry,
    token: &str,
    name: &str,
    schema: &PathBuf,
) -> Output {
    stack
        .nova(registry, token)
        .args(["subgraph", "publish", "--name", name])
        .args(["--url", &format!("{}/graphql", stack.subgraph_url(name))])
        .arg("--schema")
        .arg(schema)
        .args(["--message", "test"])
        .output()
        .expect("nova runs")
}

/// users' schema plus an unused type: a compatible change routers can be asked about.
fn users_with_probe(stack: &Stack, probe: &str) -> PathBuf {
    let sdl = std::fs::read_to_string(schema_file("users")).unwrap();
    let path = stack.state_dir().join(format!("users-{probe}.graphql"));
    std::fs::write(&path, format!("{sdl}\ntype {probe} {{\n  id: ID!\n}}\n")).unwrap();
    path
}

/// A registry seeded with every subgraph, a sync agent writing the routers'
/// supergraph file, and `routers` router replicas reading it.
async fn with_registry(stack: &mut Stack, routers: usize) -> (Registry, Vec<String>) {
    let registry = stack.start_registry().await.expect("the registry starts");
    for name in subgraphs() {
        let output = publish(
            stack,
            &registry,
            &registry.operator_token,
            name,
            &schema_file(name),
        );
        assert!(output.status.success(), "seeding {name}: {}", text(&output));
    }
    let file = stack.state_dir().join("supergraph-from-registry.graphql");
    stack
        .start_supergraph_sync(&registry, &file)
        .await
        .expect("the sync agent starts");
    let file = file.display().to_string();
    let names = ["router-r1", "router-r2", "router-r3"];
    let mut urls = Vec::new();
    for name in names.iter().take(routers) {
        urls.push(
            stack
                .start_router_replica(name, &[("NOVA_SUPERGRAPH_PATH", &file)])
                .await
                .expect("a router replica starts"),
        );
    }
    (registry, urls)
}

/// Whether the router at `url` serves type `name`.
async fn serves_type(stack: &Stack, url: &str, name: &str) -> bool {
    let response = stack
        .http
        .post(url)
        .json(&json!({ "query": format!("{{ __type(name: \"{name}\") {{ name }} }}") }))
        .send()
        .await;
    match response {
        Ok(response) => response
            .json::<Value>()
            .await
            .is_ok_and(|body| body["data"]["__type"]["name"] == name),
        Err(_) => false,
    }
}

/// Wait until every router serves (or no longer serves) type `name`; how long.
async fn wait_until_served(
    stack: &Stack,
    routers: &[String],
    name: &str,
    served: bool,
) -> Duration {
    let started = Instant::now();
    for url in routers {
        while serves_type(stack, url, name).await != served {
            assert!(
                started.elapsed() < DELIVERY_BOUND,
                "{url} did not switch within {DELIVERY_BOUND:?}\n{}",
                stack.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    started.elapsed()
}

async fn history(stack: &Stack, registry: &Registry) -> Value {
    stack
        .http
        .get(format!("{}/v1/supergraphs", registry.url))
        .bearer_auth(&registry.read_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

const CHAT_EVENTS: &str = "subscription($c: ID!) { chatEvents(conversationId: $c) { seq message { body sender { username } } } }";

/// Read chat events until `stop` (and a little after). When the router ends the
/// subscription for a schema reload, reconnect and subscribe again (Hive ties
/// a WebSocket connection to the supergraph it opened on, so a new operation
/// needs a new connection). Returns the message sequence numbers seen and how
/// many reload notices came.
async fn listen(
    router: String,
    token: String,
    conversation: String,
    stop: Arc<AtomicBool>,
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
                seen.insert(event["seq"].as_i64().unwrap());
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
    let subscriber = tokio::spawn(listen(
        routers[0].clone(),
        bob_token.clone(),
        conversation.clone(),
        stop_listening.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;

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
    // One more message once the client has had a moment to reconnect after the
    // last switch: it must arrive live.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent = sent.load(Ordering::Relaxed) + 1;
    stack
        .graphql(
            Some(&alice_token),
            "mutation($c: ID!) { sendMessage(conversationId: $c, body: \"after the switches\", clientMessageId: \"final\") { seq } }",
            json!({ "c": conversation }),
        )
        .await
        .expect_ok();
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

#[tokio::test]
async fn rejected_publishes_change_nothing_and_rollback_restores() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (registry, routers) = with_registry(&mut stack, 1).await;
    let before = history(&stack, &registry).await;
    let file = stack.state_dir().join("supergraph-from-registry.graphql");
    let served = std::fs::read_to_string(&file).unwrap();

    // A schema that does not compose.
    let bad = stack.state_dir().join("users-bad.graphql");
    std::fs::write(
        &bad,
        "type User @key(fields: \"id\") {\n  id: Int!\n}\n\ntype Query {\n  x: Int\n}\n",
    )
    .unwrap();
    let output = publish(&stack, &registry, &registry.operator_token, "users", &bad);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("composition: FAILED"),
        "{}",
        text(&output)
    );
    assert!(text(&output).contains("User.id"), "{}", text(&output));

    // A schema that breaks shipped operations: rejected, naming them.
    let content = std::fs::read_to_string(schema_file("content")).unwrap();
    let renamed = content.replacen(
        "\tbody: String!\n\t\"\"\"\n\t`#tags`",
        "\tbodyText: String!\n\t\"\"\"\n\t`#tags`",
        1,
    );
    assert_ne!(renamed, content, "the test's edit applies");
    let breaking = stack.state_dir().join("content-breaking.graphql");
    std::fs::write(&breaking, renamed).unwrap();
    let output = publish(
        &stack,
        &registry,
        &registry.operator_token,
        "content",
        &breaking,
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    for operation in ["PostPage", "ProfilePage", "CreatePost"] {
        assert!(
            text(&output).contains(operation),
            "{operation} not named: {}",
            text(&output)
        );
    }
    assert!(
        text(&output).contains("breaking  field Post.body was removed"),
        "{}",
        text(&output)
    );
    // `check` says the same without publishing, with a read token.
    let checked = stack
        .nova(&registry, &registry.read_token)
        .args([
            "subgraph",
            "check",
            "--name",
            "content",
            "--url",
            "http://127.0.0.1:1/graphql",
            "--schema",
        ])
        .arg(&breaking)
        .output()
        .unwrap();
    assert_eq!(checked.status.code(), Some(1), "{}", text(&checked));
    assert!(text(&checked).contains("PostPage"));

    // Wrong tokens.
    let output = publish(
        &stack,
        &registry,
        "not-a-token",
        "users",
        &schema_file("users"),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("401"), "{}", text(&output));
    let output = publish(
        &stack,
        &registry,
        &registry.read_token,
        "users",
        &schema_file("users"),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("403"), "{}", text(&output));
    let anonymous = stack
        .http
        .get(format!("{}/v1/supergraph", registry.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    // Nothing changed: same history, same file, routers serve posts' bodies.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(history(&stack, &registry).await, before);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), served);
    let post_body = stack
        .http
        .post(&routers[0])
        .json(&json!({ "query": "{ postsByHashtag(tag: \"x\", first: 1) { edges { node { body } } } }" }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(post_body.get("errors").is_none(), "{post_body}");

    // Publish a probe, then roll back to the supergraph before it.
    let previous = before["current"].as_str().unwrap().to_string();
    let output = publish(
        &stack,
        &registry,
        &registry.operator_token,
        "users",
        &users_with_probe(&stack, "RollbackProbe"),
    );
    assert!(output.status.success(), "{}", text(&output));
    wait_until_served(&stack, &routers, "RollbackProbe", true).await;
    let output = stack
        .nova(&registry, &registry.operator_token)
        .args([
            "supergraph",
            "rollback",
            "--to",
            &previous,
            "--message",
            "undo probe",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    // Removing a type is reported as breaking; no shipped operation used it.
    assert!(
        text(&output).contains("breaking  object RollbackProbe was removed"),
        "{}",
        text(&output)
    );
    wait_until_served(&stack, &routers, "RollbackProbe", false).await;
    let after = history(&stack, &registry).await;
    assert_eq!(after["supergraphs"][0]["reason"], "rollback");
    assert_eq!(after["supergraphs"][0]["subject"], previous.as_str());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), served);

    // History and versions read back through the CLI.
    let versions = stack
        .nova(&registry, &registry.read_token)
        .args(["subgraph", "versions", "--name", "users"])
        .output()
        .unwrap();
    assert!(versions.status.success());
    assert_eq!(String::from_utf8_lossy(&versions.stdout).lines().count(), 2);
    let listed = stack
        .nova(&registry, &registry.read_token)
        .args(["supergraph", "history"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.lines().next().unwrap().starts_with("* "), "{listed}");
    assert!(listed.contains("rollback"), "{listed}");

    // The sync agent asks with the ETag; an unchanged supergraph is a 304.
    let current = stack
        .http
        .get(format!("{}/v1/supergraph", registry.url))
        .bearer_auth(&registry.read_token)
        .send()
        .await
        .unwrap();
    let etag = current.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(current.text().await.unwrap(), served);
    let unchanged = stack
        .http
        .get(format!("{}/v1/supergraph", registry.url))
        .bearer_auth(&registry.read_token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status().as_u16(), 304);

    // What happened, as an operator's dashboard sees it.
    let (_, metrics) = stack.get(&format!("{}/metrics", registry.url)).await;
    for sample in [
        "nova_registry_changes_total{kind=\"publish\",outcome=\"rejected_composition\"} 1",
        "nova_registry_changes_total{kind=\"publish\",outcome=\"rejected_operations\"} 1",
        "nova_registry_changes_total{kind=\"rollback\",outcome=\"rolled_back\"} 1",
    ] {
        assert!(metrics.contains(sample), "{sample} not in\n{metrics}");
    }

    // The registry goes down: the router goes on serving the last supergraph,
    // and the sync agent leaves the file alone.
    stack.terminate("registry");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), served);
    let during_outage = stack
        .http
        .post(&routers[0])
        .json(&json!({ "query": "{ __type(name: \"Post\") { name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(during_outage.status().as_u16(), 200);
    assert_eq!(
        during_outage.json::<Value>().await.unwrap()["data"]["__type"]["name"],
        "Post"
    );
}

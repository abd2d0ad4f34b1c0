//! A subgraph killed under load (the seeds' fault test): the router stays up and
//! answers every request with what the other subgraphs have — partial data with
//! errors, never a failed request — and full answers return once the subgraph is
//! back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use nova_e2e::{eventually, Stack};
use serde_json::{json, Value};

const POST_PAGE: &str =
    "query($p: ID!) { post(id: $p) { id body author { username displayName } } }";
const CLIENTS: usize = 8;

#[derive(Default)]
struct Tally {
    /// Every field, no error.
    full: u64,
    /// The post and its author's username, the profile's display name null
    /// with an error.
    partial: u64,
    /// Anything else (no data, a non-200 answer, a transport error).
    failed: u64,
    first_failures: Vec<String>,
}

fn classify(status: u16, body: &Value, expected_body: &str) -> Result<bool, String> {
    let post = &body["data"]["post"];
    if status != 200 || post["body"] != expected_body || post["author"]["username"] != "ann" {
        return Err(format!("{status} {body}"));
    }
    let errors = body["errors"].as_array().map_or(0, Vec::len);
    match (errors, post["author"]["displayName"].is_null()) {
        (0, false) => Ok(true),
        (n, true) if n > 0 => Ok(false),
        _ => Err(format!("{status} {body}")),
    }
}

#[tokio::test]
async fn a_killed_subgraph_costs_fields_not_requests_and_comes_back() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (_, ann_token) = stack.sign_up("ann").await;
    stack
        .graphql(
            Some(&ann_token),
            "mutation { updateProfile(input: { displayName: \"Ann\" }) { id } }",
            json!({}),
        )
        .await
        .expect_ok();
    let post = stack.create_post(&ann_token, "still readable").await;

    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (http, url, tally, stop) = (
            stack.http.clone(),
            stack.router_url.clone(),
            tally.clone(),
            stop.clone(),
        );
        let request = json!({ "query": POST_PAGE, "variables": { "p": post } });
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let outcome = match http.post(&url).json(&request).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body: Value = response.json().await.unwrap_or(Value::Null);
                        classify(status, &body, "still readable")
                    }
                    Err(error) => Err(error.to_string()),
                };
                let mut tally = tally.lock().unwrap();
                match outcome {
                    Ok(true) => tally.full += 1,
                    Ok(false) => tally.partial += 1,
                    Err(failure) => {
                        tally.failed += 1;
                        if tally.first_failures.len() < 3 {
                            tally.first_failures.push(failure);
                        }
                    }
                }
            }
        }));
    }
    let count = |f: fn(&Tally) -> u64| f(&tally.lock().unwrap());
    eventually(30, "full answers under load", &stack, || async {
        count(|t| t.full) >= 50
    })
    .await;

    // users (display names) dies under load.
    let killed = Instant::now();
    stack.kill("users");
    let partial_before = count(|t| t.partial);
    eventually(30, "partial answers without users", &stack, || async {
        count(|t| t.partial) >= partial_before + 50
    })
    .await;
    let base = stack.router_url.trim_end_matches("/graphql");
    let (status, _) = stack.get(&format!("{base}/health")).await;
    assert_eq!(status, 200, "the router is alive");

    // It comes back: full answers again.
    stack
        .restart_subgraph("users", &[])
        .await
        .expect("users restarts");
    let full_after_restart = count(|t| t.full);
    eventually(30, "full answers after the restart", &stack, || async {
        count(|t| t.full) >= full_after_restart + 50
    })
    .await;
    let outage = killed.elapsed();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let tally = tally.lock().unwrap();
    eprintln!(
        "{CLIENTS} clients; users killed and back within {outage:?}: {} full, {} partial, {} failed answers",
        tally.full, tally.partial, tally.failed
    );
    assert_eq!(tally.failed, 0, "{:?}", tally.first_failures);
}

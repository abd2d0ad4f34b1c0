//! Postgres restarted under load (the seeds' fault test), on a cluster of this
//! test's own: while it is down the subgraphs report not ready and requests get
//! GraphQL errors that say the database is unavailable — never an HTTP 5xx from
//! the router; once it is back every subgraph reconnects by itself (ready again,
//! requests succeed, events flow), and no write that was acknowledged is lost.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use nova_e2e::own_postgres::OwnPostgres;
use nova_e2e::{error_codes, eventually, Stack};
use serde_json::{json, Value};

const POST_PAGE: &str = "query($p: ID!) { post(id: $p) { id body author { username } } }";
const CREATE_POST: &str = "mutation($b: String!) { createPost(body: $b) { id } }";
const READERS: usize = 4;
const WRITERS: usize = 2;

#[derive(Default)]
struct Tally {
    ok: u64,
    /// Answered 200 with GraphQL errors, counted by code.
    graphql_errors: BTreeMap<String, u64>,
    /// HTTP status other than 200 (or no answer), counted by status.
    http_failures: BTreeMap<String, u64>,
    /// Successes in a row, up to now.
    streak: u64,
    /// Posts whose creation was acknowledged with an id.
    created: Vec<String>,
}

impl Tally {
    fn failures(&self) -> u64 {
        self.graphql_errors.values().sum::<u64>() + self.http_failures.values().sum::<u64>()
    }

    fn record(&mut self, outcome: Result<Value, Failure>) {
        match outcome {
            Ok(data) => {
                self.ok += 1;
                self.streak += 1;
                if let Some(id) = data["createPost"]["id"].as_str() {
                    self.created.push(id.to_string());
                }
            }
            Err(Failure::GraphQl(codes)) => {
                self.streak = 0;
                for code in codes {
                    *self.graphql_errors.entry(code).or_default() += 1;
                }
            }
            Err(Failure::Http(status)) => {
                self.streak = 0;
                *self.http_failures.entry(status).or_default() += 1;
            }
        }
    }
}

enum Failure {
    GraphQl(Vec<String>),
    Http(String),
}

async fn send(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    request: &Value,
) -> Result<Value, Failure> {
    let response = http
        .post(url)
        .bearer_auth(token)
        .json(request)
        .send()
        .await
        .map_err(|error| Failure::Http(format!("no answer: {error}")))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(Failure::Http(status.to_string()));
    }
    let body: Value = response
        .json()
        .await
        .map_err(|error| Failure::Http(format!("unreadable: {error}")))?;
    if body["errors"].is_array() {
        return Err(Failure::GraphQl(error_codes(&body["errors"])));
    }
    Ok(body["data"].clone())
}

/// Whether every subgraph's readiness is `ready` (asked all at once: each
/// probe may take its 1 s timeout while Postgres is away).
async fn all_ready(stack: &Stack, ready: bool) -> bool {
    let probes = nova_e2e::subgraphs().iter().map(|subgraph| async move {
        let url = format!("{}/health/ready", stack.subgraph_url(subgraph));
        stack.get(&url).await.0 == 200
    });
    futures::future::join_all(probes)
        .await
        .into_iter()
        .all(|answer| answer == ready)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subgraphs_ride_out_a_postgres_restart() {
    let postgres =
        Arc::new(OwnPostgres::start().expect("a Postgres cluster of the test's own starts"));
    let stack = Stack::start_on(&postgres.admin_url(), &[], &[])
        .await
        .expect("stack starts");
    let (_, token) = stack.sign_up("pat").await;
    let post = stack.create_post(&token, "before the restart").await;

    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..READERS + WRITERS {
        let (http, url, token, tally, stop) = (
            stack.http.clone(),
            stack.router_url.clone(),
            token.clone(),
            tally.clone(),
            stop.clone(),
        );
        let post = post.clone();
        clients.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let request = if client < READERS {
                    json!({ "query": POST_PAGE, "variables": { "p": post } })
                } else {
                    json!({ "query": CREATE_POST, "variables": { "b": format!("writer {client} post {n}") } })
                };
                let outcome = send(&http, &url, &token, &request).await;
                tally.lock().unwrap().record(outcome);
            }
        }));
    }
    let count = |f: fn(&Tally) -> u64| f(&tally.lock().unwrap());
    eventually(30, "answers under load", &stack, || async {
        count(|t| t.ok) >= 50
    })
    .await;

    // Postgres goes away.
    let stopped = Instant::now();
    let cluster = postgres.clone();
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .unwrap()
        .expect("Postgres stops");
    eventually(15, "every subgraph reports not ready", &stack, || {
        all_ready(&stack, false)
    })
    .await;
    let not_ready_after = stopped.elapsed();
    let failed_before = count(Tally::failures);
    eventually(
        15,
        "requests fail while Postgres is down",
        &stack,
        || async { count(Tally::failures) >= failed_before + 10 },
    )
    .await;

    // It comes back.
    let cluster = postgres.clone();
    tokio::task::spawn_blocking(move || cluster.start_again())
        .await
        .unwrap()
        .expect("Postgres starts again");
    let restarted = Instant::now();
    let down_for = stopped.elapsed();
    eventually(30, "every subgraph ready again", &stack, || {
        all_ready(&stack, true)
    })
    .await;
    let ready_after = restarted.elapsed();
    eventually(30, "100 successes in a row", &stack, || async {
        count(|t| t.streak) >= 100
    })
    .await;
    let recovered_after = restarted.elapsed();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    eprintln!(
        "Postgres down {down_for:?} (subgraphs not ready {not_ready_after:?} after the stop); \
         all ready {ready_after:?} and 100 successes in a row {recovered_after:?} after the restart; \
         {} ok, GraphQL errors {:?}, HTTP failures {:?}; {} posts acknowledged",
        tally.ok,
        tally.graphql_errors,
        tally.http_failures,
        tally.created.len()
    );

    assert!(
        tally.http_failures.is_empty(),
        "the router answered every request: {:?}",
        tally.http_failures
    );
    let codes: Vec<&String> = tally.graphql_errors.keys().collect();
    assert_eq!(
        codes,
        ["UNAVAILABLE"],
        "what clients were told while Postgres was down"
    );

    // Nothing acknowledged is lost.
    for id in &tally.created {
        let page = stack
            .graphql(Some(&token), POST_PAGE, json!({ "p": id }))
            .await;
        assert_eq!(
            page.expect_ok()["post"]["id"],
            id.as_str(),
            "acknowledged post {id} is there"
        );
    }
    // Events flow again: a post written now reaches search (content's relay and
    // search's consumer both reconnected).
    let body = "after the restart searchable";
    let created = stack.create_post(&token, body).await;
    eventually(30, "the new post is searchable", &stack, || async {
        let found = stack
            .graphql(
                Some(&token),
                "query { search(query: \"searchable\") { edges { node { ... on PostResult { post { id } } } } } }",
                json!({}),
            )
            .await;
        found.expect_ok()["search"]["edges"]
            .as_array()
            .is_some_and(|edges| edges.iter().any(|e| e["node"]["post"]["id"] == created.as_str()))
    })
    .await;
}

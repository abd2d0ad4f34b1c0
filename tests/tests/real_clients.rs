//! Real front-end clients against the router: `tests/clients/` runs Nova's shipped
//! operations with the npm packages front ends use — Apollo Client (persisted-queries
//! link, graphql-ws on /ws) and urql (persisted exchange, subscriptions over SSE) —
//! under Node's test runner. `cargo xtask test` installs the packages (`npm ci`).

use std::process::Stdio;
use std::time::Duration;

use nova_e2e::{required_env, Stack};

/// The subgraphs whose live streams the clients' scenario waits for.
const LIVE_SUBGRAPHS: [&str; 3] = ["notifications", "feed", "chat"];

/// Run one Node test file of `tests/clients/` against `stack`; fails with its output.
async fn node_tests(stack: &Stack, file: &str) {
    let root = required_env("NOVA_ROOT").unwrap();
    let subgraph_urls: serde_json::Map<String, serde_json::Value> = LIVE_SUBGRAPHS
        .iter()
        .map(|name| (name.to_string(), stack.subgraph_url(name).into()))
        .collect();
    let run = tokio::process::Command::new("node")
        .current_dir(format!("{root}/tests/clients"))
        .args(["--test", "--test-reporter=spec", file])
        .env("NOVA_ROUTER_URL", &stack.router_url)
        .env("NOVA_MAILDIR", stack.maildir())
        .env(
            "NOVA_SUBGRAPH_URLS",
            serde_json::Value::Object(subgraph_urls).to_string(),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .unwrap_or_else(|_| panic!("node --test {file} ran over 300 s"))
        .expect("node runs (cargo xtask test installs the client packages)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{report}");
    assert!(
        output.status.success(),
        "node --test {file} failed ({}):\n{report}\nthe router's log ends:\n{}",
        output.status,
        tail(&stack.log_of("router"), 6000)
    );
}

/// The last `bytes` (about) of `text`.
fn tail(text: &str, bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[tokio::test]
async fn apollo_client_and_urql_run_every_shipped_operation_with_the_safelist_on() {
    let stack = Stack::start_with_router_env(&[("NOVA_SAFELIST", "true")])
        .await
        .expect("stack starts");
    node_tests(&stack, "safelist.test.mjs").await;
}

#[tokio::test]
async fn apollo_client_and_urql_send_unlisted_operations_in_development_mode() {
    let stack = Stack::start().await.expect("stack starts");
    node_tests(&stack, "apq.test.mjs").await;
}

//! Checks against real traffic: a router reports the operations it executed to
//! the registry with Hive Router's own usage reporting; `nova usage` shows
//! which fields traffic used, and a change that breaks an operation seen in
//! traffic (never shipped) is refused, naming the operation and its clients.

use nova_e2e::registry_ops::*;
use nova_e2e::{eventually, Registry, Stack};
use serde_json::{json, Value};

/// A field no shipped operation reads (so only traffic can make removing it fail).
const FIELD: &str = "Query.postsByHashtag";
const TAG_PEEK: &str =
    "query TagPeek { postsByHashtag(tag: \"rust\", first: 1) { edges { node { id } } } }";
const REQUESTS: usize = 3;

/// content's schema without `postsByHashtag`: breaking, but no shipped
/// operation reads it.
fn content_without_tag_lists(stack: &Stack) -> std::path::PathBuf {
    let sdl = std::fs::read_to_string(schema_file("content")).unwrap();
    let removed = sdl.replacen(
        "\t\"\"\"\n\tPosts carrying `#tag`, newest first, without those of accounts blocked\n\teither way with the viewer.\n\t\"\"\"\n\tpostsByHashtag(tag: String!, first: Int, after: String): PostConnection!\n",
        "",
        1,
    );
    assert_ne!(removed, sdl, "the test's edit applies");
    let path = stack
        .state_dir()
        .join("content-without-postsByHashtag.graphql");
    std::fs::write(&path, removed).unwrap();
    path
}

fn check_content(stack: &Stack, registry: &Registry, schema: &std::path::Path) -> (i32, String) {
    let output = stack
        .nova(registry, &registry.read_token)
        .args(["subgraph", "check", "--name", "content"])
        .args(["--url", "http://127.0.0.1:1/graphql", "--schema"])
        .arg(schema)
        .output()
        .unwrap();
    (output.status.code().unwrap_or(-1), text(&output))
}

fn usage(stack: &Stack, registry: &Registry, extra: &[&str]) -> String {
    let output = stack
        .nova(registry, &registry.read_token)
        .arg("usage")
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    text(&output)
}

/// Requests the registry recorded for `FIELD` (from `GET /v1/usage`).
async fn field_requests(stack: &Stack, registry: &Registry) -> Option<i64> {
    let answer: Value = stack
        .http
        .get(format!("{}/v1/usage", registry.url))
        .bearer_auth(&registry.read_token)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    answer["used"]
        .as_array()?
        .iter()
        .find(|used| used["coordinate"] == FIELD)
        .and_then(|used| used["requests"].as_i64())
}

#[tokio::test]
async fn a_change_that_breaks_an_operation_seen_in_traffic_is_refused() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (registry, _) = with_registry(&mut stack, 0).await;
    let file = stack.state_dir().join("supergraph-from-registry.graphql");
    let usage_url = format!("{}/v1/usage", registry.url);
    let router = stack
        .start_router_replica(
            "router-reporting",
            &[
                ("NOVA_SUPERGRAPH_PATH", &file.display().to_string()),
                ("HIVE_USAGE_REPORTING_ENABLED", "true"),
                ("HIVE_ACCESS_TOKEN", &registry.report_token),
                ("NOVA_USAGE_REPORTING_URL", &usage_url),
                ("NOVA_USAGE_REPORTING_INTERVAL", "500ms"),
            ],
        )
        .await
        .expect("a reporting router starts");

    // Before any traffic: removing the field breaks no shipped operation, so
    // the check passes, and `nova usage` lists the field as unused.
    let without = content_without_tag_lists(&stack);
    let (code, output) = check_content(&stack, &registry, &without);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("breaking  field Query.postsByHashtag was removed"),
        "{output}"
    );
    let unused = usage(&stack, &registry, &["--unused"]);
    assert!(unused.lines().any(|l| l.trim() == FIELD), "{unused}");

    // An iOS client runs an operation no front-end shipped.
    for _ in 0..REQUESTS {
        let response: Value = stack
            .http
            .post(&router)
            .header("x-nova-client", "ios")
            .header("graphql-client-name", "ios-app")
            .header("graphql-client-version", "3.1.0")
            .json(&json!({ "query": TAG_PEEK, "operationName": "TagPeek" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            response["data"]["postsByHashtag"]["edges"],
            json!([]),
            "{response}"
        );
    }
    eventually(
        20,
        "the router's usage report reaching the registry",
        &stack,
        || async { field_requests(&stack, &registry).await == Some(REQUESTS as i64) },
    )
    .await;
    let used = usage(&stack, &registry, &[]);
    assert!(!used.lines().any(|l| l.trim() == FIELD), "{used}");
    assert!(
        used.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == [FIELD, "3", "1"]),
        "{used}"
    );

    // The same change now fails its check, naming the operation and who sent it.
    let (code, output) = check_content(&stack, &registry, &without);
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("operations seen in traffic broken: 1"),
        "{output}"
    );
    assert!(output.contains("TagPeek ("), "{output}");
    assert!(
        output.contains("sent by ios-app 3.1.0 (3 requests)"),
        "{output}"
    );
    // Shipped operations alone would still pass.
    assert!(
        output.contains("shipped operations: all still valid"),
        "{output}"
    );
    let output = publish(
        &stack,
        &registry,
        &registry.operator_token,
        "content",
        &without,
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("breaks operation(s) seen in traffic: TagPeek ("),
        "{}",
        text(&output)
    );

    // The registry counted what it recorded.
    let (_, metrics) = stack.get(&format!("{}/metrics", registry.url)).await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "nova_registry_usage_requests_total 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn usage_reports_need_a_report_token_and_a_consistent_report() {
    let mut stack = Stack::start().await.expect("stack starts");
    let registry = stack.start_registry().await.expect("the registry starts");
    let usage_url = format!("{}/v1/usage", registry.url);
    let report = json!({
        "size": 1,
        "map": { "h1": { "operation": "{me{id}}", "fields": ["Query.me"] } },
        "operations": [{ "operationMapKey": "h1", "timestamp": 0,
                         "execution": { "ok": true, "duration": 1, "errorsTotal": 0 } }]
    });
    let post = |token: &str, body: &Value| {
        stack
            .http
            .post(&usage_url)
            .bearer_auth(token)
            .json(body)
            .send()
    };
    let status = |token: &str, body: &Value| {
        let sent = post(token, body);
        async move { sent.await.unwrap().status().as_u16() }
    };
    assert_eq!(status("not-a-token", &report).await, 401);
    assert_eq!(status(&registry.read_token, &report).await, 403);
    assert_eq!(status(&registry.operator_token, &report).await, 403);
    // A report token reads nothing.
    let read = stack
        .http
        .get(format!("{}/v1/supergraphs", registry.url))
        .bearer_auth(&registry.report_token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 403);

    // A request whose operation the report lacks: the whole report is refused.
    let mut inconsistent = report.clone();
    inconsistent["operations"][0]["operationMapKey"] = json!("h2");
    let refused = post(&registry.report_token, &inconsistent).await.unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "operation h2 is not in the report's map");

    let accepted = post(&registry.report_token, &report).await.unwrap();
    assert_eq!(accepted.status().as_u16(), 200);
    assert_eq!(accepted.json::<Value>().await.unwrap()["requests"], 1);
}

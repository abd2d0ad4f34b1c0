//! The router's front-door policies, through the real router: persisted queries in
//! development and safelist mode, operation limits, CSRF prevention.

use nova_e2e::{Response, Stack};
use serde_json::{json, Value};

/// The shipped operations: name → manifest id.
fn manifest() -> Vec<(String, String)> {
    let root = nova_e2e::required_env("NOVA_ROOT").expect("NOVA_ROOT");
    let text = std::fs::read_to_string(format!("{root}/persisted-queries/manifest.json"))
        .expect("the manifest");
    let manifest: Value = serde_json::from_str(&text).expect("manifest JSON");
    manifest["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|op| {
            (
                op["name"].as_str().unwrap().to_string(),
                op["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn id_of(name: &str) -> String {
    manifest()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, id)| id)
        .unwrap_or_else(|| panic!("{name} is not in the manifest"))
}

/// POST a JSON body to the router as is.
async fn post(stack: &Stack, body: Value) -> Response {
    let response = stack
        .http
        .post(&stack.router_url)
        .json(&body)
        .send()
        .await
        .expect("the router answers");
    Response::from(response).await
}

/// A persisted operation by its Apollo-style id.
async fn by_id(stack: &Stack, name: &str, id: &str, variables: Value) -> Response {
    post(
        stack,
        json!({
            "operationName": name,
            "variables": variables,
            "extensions": { "persistedQuery": { "version": 1, "sha256Hash": id } }
        }),
    )
    .await
}

const PROFILE_PAGE: &str = "ProfilePage";

/// The shipped profile page operation, by id.
async fn profile_page(stack: &Stack, username: &str) -> Response {
    let variables = json!({ "username": username });
    by_id(stack, PROFILE_PAGE, &id_of(PROFILE_PAGE), variables).await
}

#[tokio::test]
async fn development_mode_runs_manifest_ids_and_other_operations() {
    let stack = Stack::start().await.expect("stack starts");
    stack.register("ann").await;

    let profile = profile_page(&stack, "ann").await;
    assert_eq!(profile.expect_ok()["userByUsername"]["username"], "ann");

    let by_document_id = post(
        &stack,
        json!({ "documentId": id_of(PROFILE_PAGE), "variables": { "username": "ann" } }),
    )
    .await;
    assert_eq!(
        by_document_id.expect_ok()["userByUsername"]["username"],
        "ann"
    );

    let unknown = by_id(&stack, PROFILE_PAGE, &"0".repeat(64), json!({})).await;
    assert_eq!(
        unknown.error_codes(),
        ["PERSISTED_QUERY_NOT_FOUND"],
        "{:?}",
        unknown.body
    );
    assert_eq!(
        unknown.body["errors"][0]["extensions"]["reason"],
        "PERSISTED_DOCUMENT_NOT_FOUND"
    );

    // Development mode: an operation that is not in the manifest still runs.
    let ad_hoc = stack
        .graphql(
            None,
            "{ userByUsername(username: \"ann\") { id } }",
            json!({}),
        )
        .await;
    assert!(ad_hoc.expect_ok()["userByUsername"]["id"].is_string());
}

#[tokio::test]
async fn safelist_mode_runs_only_manifest_operations() {
    let stack = Stack::start_with_router_env(&[("NOVA_SAFELIST", "true")])
        .await
        .expect("stack starts");

    let profile = profile_page(&stack, "nobody").await;
    assert!(
        profile.expect_ok()["userByUsername"].is_null(),
        "{:?}",
        profile.body
    );

    for document in [
        "{ userByUsername(username: \"nobody\") { id } }",
        "{ __schema { types { name } } }",
        "mutation { register(email: \"x@example.com\", username: \"x\", password: \"long enough pw\") { id } }",
    ] {
        let refused = stack.graphql(None, document, json!({})).await;
        assert_eq!(
            refused.error_codes(),
            ["OPERATION_NOT_ALLOWED"],
            "{document}: {:?}",
            refused.body
        );
        assert!(refused.data().is_null(), "{document} ran: {:?}", refused.body);
    }
    let unknown = by_id(&stack, PROFILE_PAGE, &"f".repeat(64), json!({})).await;
    assert_eq!(unknown.error_codes(), ["PERSISTED_QUERY_NOT_FOUND"]);

    // Nothing was registered by the refused mutation.
    let mut identity = stack.connect("identity").await.unwrap();
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts")
        .fetch_one(&mut identity)
        .await
        .unwrap();
    assert_eq!(accounts, 0);
}

#[tokio::test]
async fn every_shipped_operation_is_inside_the_limits() {
    let stack = Stack::start().await.expect("stack starts");
    for (name, id) in manifest() {
        let response = by_id(&stack, &name, &id, json!({})).await;
        // Missing variables and sign-in errors are expected here; a limit is not.
        assert!(
            !response.error_codes().iter().any(|c| c.starts_with("MAX_")
                || c == "TOKEN_LIMIT_EXCEEDED"
                || c == "PERSISTED_QUERY_NOT_FOUND"),
            "{name}: {:?}",
            response.body
        );
    }
}

/// `{ userByUsername { posts { edges { node { author { posts ... } } } } } }`,
/// `levels` times around.
fn deep_document(levels: usize) -> String {
    let mut selection = "id".to_string();
    for _ in 0..levels {
        selection =
            format!("posts(first: 1) {{ edges {{ node {{ author {{ {selection} }} }} }} }}");
    }
    format!("{{ userByUsername(username: \"ann\") {{ {selection} }} }}")
}

/// Refused with `code` first (other validation errors may follow).
fn assert_refused(response: &Response, code: &str) {
    let codes = response.error_codes();
    assert_eq!(codes.first().map(String::as_str), Some(code), "{codes:?}");
    assert!(response.data().is_null());
}

#[tokio::test]
async fn oversized_deep_and_alias_bombed_documents_are_refused_and_the_router_lives_on() {
    let stack = Stack::start().await.expect("stack starts");
    stack.register("ann").await;

    // Depth: 3 rounds (13 levels) is over the default limit of 12; 2 rounds is not.
    let shallow = stack.graphql(None, &deep_document(2), json!({})).await;
    shallow.expect_ok();
    let deep = stack.graphql(None, &deep_document(3), json!({})).await;
    assert_refused(&deep, "MAX_DEPTH_EXCEEDED");

    let aliases: String = (0..200).map(|i| format!("a{i}: __typename ")).collect();
    let alias_bomb = stack
        .graphql(None, &format!("{{ {aliases} }}"), json!({}))
        .await;
    assert_refused(&alias_bomb, "MAX_ALIASES_EXCEEDED");

    let roots: String = (0..25)
        .map(|i| format!("u{i}: userByUsername(username: \"ann\") {{ id }} "))
        .collect();
    let wide = stack
        .graphql(None, &format!("{{ {roots} }}"), json!({}))
        .await;
    assert_refused(&wide, "MAX_ROOT_FIELDS_EXCEEDED");
    assert_eq!(wide.status, 400);

    let fields = "__typename ".repeat(3_000);
    let token_bomb = stack
        .graphql(None, &format!("{{ {fields} }}"), json!({}))
        .await;
    assert_refused(&token_bomb, "TOKEN_LIMIT_EXCEEDED");

    let directives = "@include(if: true) ".repeat(50);
    let directive_bomb = stack
        .graphql(None, &format!("{{ __typename {directives} }}"), json!({}))
        .await;
    assert_refused(&directive_bomb, "MAX_DIRECTIVES_EXCEEDED");

    // A body over 64 KiB is refused before it is parsed.
    let padding = " ".repeat(100 * 1024);
    let oversized = stack
        .graphql(None, &format!("{{ __typename {padding} }}"), json!({}))
        .await;
    assert_eq!(oversized.status, 413, "{:?}", oversized.body);

    // The router still serves.
    let after = stack.graphql(None, "{ __typename }", json!({})).await;
    assert_eq!(after.expect_ok()["__typename"], "Query");
}

#[tokio::test]
async fn a_cross_site_form_post_is_refused() {
    let stack = Stack::start().await.expect("stack starts");
    let body = json!({ "query": "{ __typename }" }).to_string();
    let form_post = stack
        .http
        .post(&stack.router_url)
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .expect("the router answers");
    let refused = Response::from(form_post).await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(refused.error_codes(), ["CSRF_PREVENTION_FAILED"]);
    // The message names the headers that would do.
    let message = refused.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("`x-nova-client`"), "{message}");

    // The same request with a header only a preflighted request can carry —
    // Nova's, or either of Apollo Client's — passes the CSRF check (and then
    // fails on the content type, which is not JSON).
    for header in [
        "x-nova-client",
        "apollo-require-preflight",
        "x-apollo-operation-name",
    ] {
        let with_header = stack
            .http
            .post(&stack.router_url)
            .header("content-type", "text/plain")
            .header(header, "web")
            .body(body.clone())
            .send()
            .await
            .expect("the router answers");
        let answered = Response::from(with_header).await;
        assert_eq!(answered.status, 415, "{header}: {:?}", answered.body);
    }
}

#[tokio::test]
async fn browsers_may_call_only_from_the_configured_origins() {
    let stack = Stack::start_with_router_env(&[("NOVA_CORS_ORIGINS", "https://app.nova.test")])
        .await
        .expect("stack starts");
    let preflight = |origin: &'static str| {
        stack
            .http
            .request(reqwest::Method::OPTIONS, &stack.router_url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };
    let allowed = preflight("https://app.nova.test").await.expect("an answer");
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.nova.test")
    );
    let foreign = preflight("https://evil.example").await.expect("an answer");
    // Hive answers `null` (or nothing): a browser then refuses the call.
    let granted = foreign
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("null");
    assert_eq!(granted, "null", "{:?}", foreign.headers());
    // `Origin: null` (a sandboxed frame, a file: page) is an unlisted origin too:
    // no grant, neither on the preflight nor on the call itself — an
    // `Access-Control-Allow-Origin: null` would be read as a grant for it.
    let sandboxed = preflight("null").await.expect("an answer");
    assert_eq!(
        sandboxed.headers().get("access-control-allow-origin"),
        None,
        "{:?}",
        sandboxed.headers()
    );
    let call = stack
        .http
        .post(&stack.router_url)
        .header("origin", "null")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        call.headers().get("access-control-allow-origin"),
        None,
        "{:?}",
        call.headers()
    );

    // A same-origin or non-browser client (no Origin header) is unaffected.
    let plain = stack.graphql(None, "{ __typename }", json!({})).await;
    assert_eq!(plain.expect_ok()["__typename"], "Query");
}

//! Rate limits through the real router and a real Redis: shared by replicas,
//! per user, per address, stricter for sign-in, and the declared policy when
//! Redis is gone.

use nova_e2e::{eventually, Response, Stack};
use serde_json::json;

const ANYONE: &str = "{ userByUsername(username: \"nobody\") { id } }";

/// The rate-limit headers of one answer.
#[derive(Debug)]
struct RateHeaders {
    retry_after: Option<String>,
    limit: Option<String>,
    remaining: Option<String>,
    reset: Option<String>,
}

/// POST an operation to `url`; the response and its rate-limit headers.
async fn send(
    stack: &Stack,
    url: &str,
    token: Option<&str>,
    query: &str,
    variables: serde_json::Value,
) -> (Response, RateHeaders) {
    let mut request = stack
        .http
        .post(url)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the router answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let headers = RateHeaders {
        retry_after: header("retry-after"),
        limit: header("ratelimit-limit"),
        remaining: header("ratelimit-remaining"),
        reset: header("ratelimit-reset"),
    };
    (Response::from(response).await, headers)
}

fn assert_limited(response: &Response, retry_after: Option<String>) {
    assert_eq!(response.status, 429, "{:?}", response.body);
    assert_eq!(response.error_codes(), ["RATE_LIMITED"]);
    let seconds: u64 = retry_after
        .expect("a Retry-After header")
        .parse()
        .expect("whole seconds");
    assert!(seconds >= 1);
}

#[tokio::test]
async fn two_router_replicas_share_one_limit_through_redis() {
    let mut stack = Stack::start_with_router_env(&[
        ("NOVA_RATE_LIMIT_ANONYMOUS_BURST", "6"),
        ("NOVA_RATE_LIMIT_ANONYMOUS_PER_SECOND", "0.01"),
    ])
    .await
    .expect("stack starts");
    let second = stack.start_second_router().await.expect("second router");
    let first = stack.router_url.clone();
    // Each admitted answer tells the shared bucket's state: 6 tokens, one less
    // each time, refilled at 0.01/s (100 s per missing token).
    let urls = [&first, &second, &first, &second, &first, &second];
    for (taken, url) in (1..).zip(urls) {
        let (response, headers) = send(&stack, url, None, ANYONE, json!({})).await;
        response.expect_ok();
        assert_eq!(headers.limit.as_deref(), Some("6"), "{headers:?}");
        let remaining = 6 - taken;
        assert_eq!(
            headers.remaining,
            Some(remaining.to_string()),
            "{headers:?}"
        );
        assert_eq!(
            headers.reset,
            Some((taken * 100).to_string()),
            "{headers:?}"
        );
    }
    // The seventh anonymous request from this address is over the shared burst,
    // whichever replica takes it.
    for url in [&first, &second] {
        let (response, headers) = send(&stack, url, None, ANYONE, json!({})).await;
        assert_limited(&response, headers.retry_after);
        assert_eq!(headers.limit.as_deref(), Some("6"));
    }
}

#[tokio::test]
async fn signed_in_users_and_sign_in_attempts_have_their_own_buckets() {
    let stack = Stack::start_with_router_env(&[
        ("NOVA_RATE_LIMIT_USER_BURST", "3"),
        ("NOVA_RATE_LIMIT_USER_PER_SECOND", "0.01"),
        ("NOVA_RATE_LIMIT_CREDENTIALS_BURST", "3"),
        ("NOVA_RATE_LIMIT_CREDENTIALS_PER_SECOND", "0.01"),
    ])
    .await
    .expect("stack starts");
    // signUp: one of the address's three sign-in tokens.
    let (_, token) = stack.sign_up("ann").await;
    let url = stack.router_url.clone();
    for _ in 0..3 {
        let (response, _) = send(&stack, &url, Some(&token), "{ me { id } }", json!({})).await;
        response.expect_ok();
    }
    let (response, headers) = send(&stack, &url, Some(&token), "{ me { id } }", json!({})).await;
    assert_limited(&response, headers.retry_after);
    // Anonymous traffic from the same address is counted apart from ann.
    let (response, _) = send(&stack, &url, None, ANYONE, json!({})).await;
    response.expect_ok();

    let login =
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
    let wrong = json!({ "e": "ann@example.com", "p": "a wrong password" });
    let (second, _) = send(&stack, &url, None, login, wrong.clone()).await;
    assert_eq!(
        second.error_codes(),
        ["UNAUTHENTICATED"],
        "{:?}",
        second.body
    );
    // Asking for a reset code takes a token too: it sends mail.
    let reset = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    let (third, _) = send(&stack, &url, None, reset, json!({ "e": "ann@example.com" })).await;
    assert_eq!(third.expect_ok()["requestPasswordReset"], true);
    let (fourth, headers) = send(&stack, &url, None, login, wrong).await;
    assert_limited(&fourth, headers.retry_after);
}

/// A sample of the router's `/metrics/nova`; a missing one fails the test.
async fn nova_metric(stack: &Stack, router_url: &str, name: &str) -> u64 {
    let (status, text) = stack
        .get(&router_url.replace("/graphql", "/metrics/nova"))
        .await;
    assert_eq!(status, 200);
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

async fn health(stack: &Stack, router_url: &str) -> serde_json::Value {
    let (status, body) = stack
        .get(&router_url.replace("/graphql", "/health/nova"))
        .await;
    assert_eq!(status, 200);
    serde_json::from_str(&body).unwrap()
}

/// With Redis gone the router serves (the default policy) and says so; after one
/// failed check it skips Redis until its retry wait is over (an unreachable Redis
/// would otherwise cost every request its timeouts), and it uses Redis again once
/// Redis is back.
#[tokio::test]
async fn with_redis_gone_the_router_fails_open_stops_asking_for_a_while_and_says_so() {
    // A wait far longer than the test, so the counts below are exact.
    let mut stack = Stack::start_with_router_env(&[
        ("NOVA_RATE_LIMIT_REDIS_RETRY_AFTER_MS", "600000"),
        ("NOVA_RATE_LIMIT_ANONYMOUS_BURST", "1000"),
    ])
    .await
    .expect("stack starts");
    let retrying = stack
        .start_router_replica(
            "router-retrying",
            &[("NOVA_RATE_LIMIT_REDIS_RETRY_AFTER_MS", "200")],
        )
        .await
        .unwrap();
    stack.stop_redis();
    let url = stack.router_url.clone();
    for _ in 0..3 {
        let (response, _) = send(&stack, &url, None, ANYONE, json!({})).await;
        response.expect_ok();
    }
    let rate_limits = health(&stack, &url).await["rate_limits"].clone();
    assert_eq!(rate_limits["redis"], "down", "{rate_limits}");
    assert_eq!(rate_limits["when_redis_is_down"], "open");
    assert_eq!(rate_limits["redis_errors"], 1, "{rate_limits}");
    assert_eq!(rate_limits["redis_skipped"], 2, "{rate_limits}");
    assert_eq!(rate_limits["redis_circuit"], "open");
    assert!(rate_limits["redis_retry_in_ms"].as_u64().unwrap() > 0);
    assert_eq!(
        nova_metric(&stack, &url, "nova_router_rate_limit_redis_up").await,
        0
    );
    assert_eq!(
        nova_metric(&stack, &url, "nova_router_rate_limit_redis_errors_total").await,
        1
    );
    assert_eq!(
        nova_metric(&stack, &url, "nova_router_rate_limit_redis_skipped_total").await,
        2
    );

    // Redis comes back: the replica that retries after 200 ms closes its circuit.
    let (during, _) = send(&stack, &retrying, None, ANYONE, json!({})).await;
    during.expect_ok();
    assert_eq!(
        health(&stack, &retrying).await["rate_limits"]["redis"],
        "down"
    );
    stack.start_redis().unwrap();
    eventually(
        15,
        "the retrying replica's circuit closing",
        &stack,
        || async {
            let (response, _) = send(&stack, &retrying, None, ANYONE, json!({})).await;
            response.expect_ok();
            health(&stack, &retrying).await["rate_limits"]["redis"] == "up"
        },
    )
    .await;
    let rate_limits = health(&stack, &retrying).await["rate_limits"].clone();
    assert_eq!(rate_limits["redis_circuit"], "closed", "{rate_limits}");
    // Counted in Redis again: the answer carries the bucket's headers.
    let (response, headers) = send(&stack, &retrying, None, ANYONE, json!({})).await;
    response.expect_ok();
    assert_eq!(headers.limit.as_deref(), Some("1000"));
}

#[tokio::test]
async fn with_redis_gone_a_fail_closed_router_refuses() {
    let mut stack =
        Stack::start_with_router_env(&[("NOVA_RATE_LIMIT_WHEN_REDIS_IS_DOWN", "closed")])
            .await
            .expect("stack starts");
    let url = stack.router_url.clone();
    let (before, _) = send(&stack, &url, None, ANYONE, json!({})).await;
    before.expect_ok();
    stack.stop_redis();
    let (response, _) = send(&stack, &url, None, ANYONE, json!({})).await;
    assert_eq!(response.status, 503, "{:?}", response.body);
    assert_eq!(response.error_codes(), ["RATE_LIMITED"]);
}

/// A sign-in counts against the credentials bucket however the operation is
/// written (alias, fragments, `@include`/`@skip` with literal or variable
/// conditions), and one the operation skips does not count at all.
#[tokio::test]
async fn a_login_is_counted_however_it_is_written_and_a_skipped_one_is_not() {
    // Signatures: `$e`, `$p` always; `$x` where a condition reads it.
    const VARS: &str = "$e: String!, $p: String!";
    const WITH_X: &str = "$e: String!, $p: String!, $x: Boolean!";
    const LOGIN: &str = "login(email: $e, password: $p) { accessToken }";
    let counted = [
        (format!("mutation({VARS}) {{ signIn: {LOGIN} }}"), None),
        (
            format!("mutation({VARS}) {{ ...SignIn }} fragment SignIn on Mutation {{ {LOGIN} }}"),
            None,
        ),
        (format!("mutation({VARS}) {{ ... on Mutation {{ {LOGIN} }} }}"), None),
        (
            format!("mutation({VARS}) {{ login(email: $e, password: $p) @include(if: true) {{ accessToken }} }}"),
            None,
        ),
        (
            format!("mutation({WITH_X}) {{ login(email: $e, password: $p) @include(if: $x) {{ accessToken }} }}"),
            Some(true),
        ),
        (
            format!("mutation({WITH_X}) {{ login(email: $e, password: $p) @skip(if: $x) {{ accessToken }} }}"),
            Some(false),
        ),
        (
            format!("mutation({WITH_X}) {{ ... @include(if: $x) {{ {LOGIN} }} }}"),
            Some(true),
        ),
    ];
    // `__typename` stays: an operation whose every field is skipped is refused
    // by Hive Router 0.2.19 (QUERY_PLAN_BUILD_FAILED).
    let skipped = [
        (
            format!("mutation({VARS}) {{ __typename login(email: $e, password: $p) @include(if: false) {{ accessToken }} }}"),
            None,
        ),
        (
            format!("mutation({VARS}) {{ __typename login(email: $e, password: $p) @skip(if: true) {{ accessToken }} }}"),
            None,
        ),
        (
            format!("mutation({WITH_X}) {{ __typename login(email: $e, password: $p) @include(if: $x) {{ accessToken }} }}"),
            Some(false),
        ),
        (
            format!("mutation({WITH_X}) {{ __typename login(email: $e, password: $p) @skip(if: $x) {{ accessToken }} }}"),
            Some(true),
        ),
        (
            format!("mutation({WITH_X}) {{ __typename ... @include(if: $x) {{ {LOGIN} }} }}"),
            Some(false),
        ),
        (
            format!(
                "mutation({WITH_X}) {{ __typename ...SignIn @include(if: $x) }} \
                 fragment SignIn on Mutation {{ {LOGIN} }}"
            ),
            Some(false),
        ),
    ];
    let burst = counted.len().to_string();
    let stack = Stack::start_with_router_env(&[
        ("NOVA_RATE_LIMIT_CREDENTIALS_BURST", burst.as_str()),
        ("NOVA_RATE_LIMIT_CREDENTIALS_PER_SECOND", "0.01"),
    ])
    .await
    .expect("stack starts");
    let url = stack.router_url.clone();
    let variables = |x: Option<bool>| {
        let mut variables = json!({ "e": "nobody@example.com", "p": "a wrong password" });
        if let Some(x) = x {
            variables["x"] = json!(x);
        }
        variables
    };
    // Skipped first: were one counted, a counted one below would be refused.
    for (query, x) in &skipped {
        let (response, _) = send(&stack, &url, None, query, variables(*x)).await;
        // Only the limit is asserted: Hive Router 0.2.19 answers a mutation whose
        // field a variable skips with SUBREQUEST_MALFORMED_RESPONSE (recorded in
        // the issue notes), which is not what this tests.
        assert_ne!(response.status, 429, "{query}: {:?}", response.body);
        assert!(
            !response.error_codes().contains(&"RATE_LIMITED".to_string()),
            "{query}: {:?}",
            response.body
        );
    }
    for (query, x) in &counted {
        let (response, _) = send(&stack, &url, None, query, variables(*x)).await;
        assert_eq!(
            response.error_codes(),
            ["UNAUTHENTICATED"],
            "{query}: {:?}",
            response.body
        );
    }
    // The bucket is empty: every counted form took one token.
    let plain = format!("mutation({VARS}) {{ {LOGIN} }}");
    let (response, headers) = send(&stack, &url, None, &plain, variables(None)).await;
    assert_limited(&response, headers.retry_after);
}

//! Rate limits through the real router and a real Redis: shared by replicas,
//! per user, per address, stricter for sign-in, and the declared policy when
//! Redis is gone.

use nova_e2e::{Response, Stack};
use serde_json::json;

const ANYONE: &str = "{ userByUsername(username: \"nobody\") { id } }";

/// POST an operation to `url`; the response and its `retry-after` and
/// `ratelimit-limit` headers.
async fn send(
    stack: &Stack,
    url: &str,
    token: Option<&str>,
    query: &str,
    variables: serde_json::Value,
) -> (Response, Option<String>, Option<String>) {
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
    let (retry_after, limit) = (header("retry-after"), header("ratelimit-limit"));
    (Response::from(response).await, retry_after, limit)
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
    for url in [&first, &second, &first, &second, &first, &second] {
        let (response, _, _) = send(&stack, url, None, ANYONE, json!({})).await;
        response.expect_ok();
    }
    // The seventh anonymous request from this address is over the shared burst,
    // whichever replica takes it.
    for url in [&first, &second] {
        let (response, retry_after, limit) = send(&stack, url, None, ANYONE, json!({})).await;
        assert_limited(&response, retry_after);
        assert_eq!(limit.as_deref(), Some("6"));
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
    // register + login: two of the address's three sign-in tokens.
    let (_, token) = stack.sign_up("ann").await;
    let url = stack.router_url.clone();
    for _ in 0..3 {
        let (response, _, _) = send(&stack, &url, Some(&token), "{ me { id } }", json!({})).await;
        response.expect_ok();
    }
    let (response, retry_after, _) =
        send(&stack, &url, Some(&token), "{ me { id } }", json!({})).await;
    assert_limited(&response, retry_after);
    // Anonymous traffic from the same address is counted apart from ann.
    let (response, _, _) = send(&stack, &url, None, ANYONE, json!({})).await;
    response.expect_ok();

    let login =
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
    let wrong = json!({ "e": "ann@example.com", "p": "a wrong password" });
    let (third, _, _) = send(&stack, &url, None, login, wrong.clone()).await;
    assert_eq!(third.error_codes(), ["UNAUTHENTICATED"], "{:?}", third.body);
    let (fourth, retry_after, _) = send(&stack, &url, None, login, wrong).await;
    assert_limited(&fourth, retry_after);
}

#[tokio::test]
async fn with_redis_gone_the_router_fails_open_by_default_and_says_so() {
    let mut stack = Stack::start().await.expect("stack starts");
    stack.stop_redis();
    let url = stack.router_url.clone();
    for _ in 0..3 {
        let (response, _, _) = send(&stack, &url, None, ANYONE, json!({})).await;
        response.expect_ok();
    }
    let health = stack.router_url.replace("/graphql", "/health/nova");
    let (status, body) = stack.get(&health).await;
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["rate_limits"]["redis"], "down", "{health}");
    assert_eq!(health["rate_limits"]["when_redis_is_down"], "open");
    assert!(health["rate_limits"]["redis_errors"].as_u64().unwrap() >= 3);
    let metrics = stack.router_url.replace("/graphql", "/metrics/nova");
    let (status, text) = stack.get(&metrics).await;
    assert_eq!(status, 200);
    assert!(text.contains("nova_router_rate_limit_redis_up 0"), "{text}");
    assert!(
        text.lines().any(
            |l| l.starts_with("nova_router_rate_limit_redis_errors_total ")
                && l.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()) >= Some(3)
        ),
        "{text}"
    );
}

#[tokio::test]
async fn with_redis_gone_a_fail_closed_router_refuses() {
    let mut stack =
        Stack::start_with_router_env(&[("NOVA_RATE_LIMIT_WHEN_REDIS_IS_DOWN", "closed")])
            .await
            .expect("stack starts");
    let url = stack.router_url.clone();
    let (before, _, _) = send(&stack, &url, None, ANYONE, json!({})).await;
    before.expect_ok();
    stack.stop_redis();
    let (response, _, _) = send(&stack, &url, None, ANYONE, json!({})).await;
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
        let (response, _, _) = send(&stack, &url, None, query, variables(*x)).await;
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
        let (response, _, _) = send(&stack, &url, None, query, variables(*x)).await;
        assert_eq!(
            response.error_codes(),
            ["UNAUTHENTICATED"],
            "{query}: {:?}",
            response.body
        );
    }
    // The bucket is empty: every counted form took one token.
    let plain = format!("mutation({VARS}) {{ {LOGIN} }}");
    let (response, retry_after, _) = send(&stack, &url, None, &plain, variables(None)).await;
    assert_limited(&response, retry_after);
}

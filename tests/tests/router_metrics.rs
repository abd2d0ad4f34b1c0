//! What Prometheus scrapes from the router (deploy/prometheus): Hive Router's
//! HTTP server metrics at /metrics, which the error-rate and rate-limit alerts
//! read, and the plugin's JWKS reloads at /metrics/nova, which the key-reload
//! alert reads, counted as the JWKS goes away and comes back.

use nova_e2e::{eventually, Stack};
use serde_json::json;

/// A sample of the router's `/metrics` (Hive's) or `/metrics/nova` (the
/// plugin's), or `None` when the router does not report it.
async fn router_sample(stack: &Stack, path: &str, sample: &str) -> Option<f64> {
    let base = stack.router_url.trim_end_matches("/graphql");
    let (status, text) = stack.get(&format!("{base}{path}")).await;
    assert_eq!(status, 200, "{path}: {text}");
    nova_core::scrape::sample_value(&text, sample)
}

#[tokio::test]
async fn the_router_counts_its_responses_by_status() {
    let stack = Stack::start().await.expect("stack starts");
    let served = stack.graphql(None, "{ __typename }", json!({})).await;
    assert_eq!(served.status, 200, "{:?}", served.body);
    // A document that does not parse, from a client that reads GraphQL over
    // HTTP's media type: 400.
    let refused = stack
        .http
        .post(&stack.router_url)
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "{ __typename" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);

    // The series NovaHighErrorRate and NovaRateLimitRefusals divide by.
    for status in ["200", "400"] {
        let sample = format!(
            r#"http_server_request_duration_seconds_count{{http_response_status_code="{status}"}}"#
        );
        eventually(10, &format!("{sample} counted"), &stack, || async {
            router_sample(&stack, "/metrics", &sample)
                .await
                .is_some_and(|count| count >= 1.0)
        })
        .await;
    }
}

#[tokio::test]
async fn jwks_reloads_are_counted_and_a_jwks_that_went_away_shows() {
    let mut stack = Stack::start_with_router_env(&[("NOVA_JWKS_POLL_INTERVAL", "1s")])
        .await
        .expect("stack starts");
    let loaded = r#"nova_router_jwks_reloads_total{outcome="loaded"}"#;
    let failed = r#"nova_router_jwks_reloads_total{outcome="failed"}"#;
    eventually(10, "a JWKS read counted", &stack, || async {
        router_sample(&stack, "/metrics/nova", loaded).await >= Some(1.0)
    })
    .await;
    let (_, jwks) = stack
        .get(&format!(
            "{}/.well-known/jwks.json",
            stack.subgraph_url("identity")
        ))
        .await;
    let published = serde_json::from_str::<serde_json::Value>(&jwks).unwrap()["keys"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        router_sample(&stack, "/metrics/nova", "nova_router_jwks_keys").await,
        Some(published as f64)
    );
    assert_eq!(
        router_sample(&stack, "/metrics/nova", failed).await,
        Some(0.0)
    );

    // identity, which serves the JWKS, stops: reads fail and are counted.
    stack.terminate("identity");
    eventually(15, "a failed JWKS read counted", &stack, || async {
        router_sample(&stack, "/metrics/nova", failed).await >= Some(1.0)
    })
    .await;

    // It comes back: reads succeed again.
    stack
        .restart_subgraph("identity", &[])
        .await
        .expect("identity restarts");
    let loaded_before = router_sample(&stack, "/metrics/nova", loaded).await;
    eventually(15, "the JWKS read again", &stack, || async {
        router_sample(&stack, "/metrics/nova", loaded).await > loaded_before
    })
    .await;
}

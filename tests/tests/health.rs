//! Operability: readiness follows the database, liveness does not; metrics are
//! Prometheus text; configuration mistakes stop the process with the variable named.

use std::process::Command;

use nova_e2e::{required_env, Stack};
use serde_json::json;

#[tokio::test]
async fn readiness_reports_a_lost_database_and_metrics_count_errors() {
    let stack = Stack::start().await.expect("stack starts");
    let ready_url = format!("{}/health/ready", stack.subgraph_url("users"));
    assert_eq!(stack.get(&ready_url).await.0, 200);

    // A refused registration shows up as an error by code in identity's metrics.
    let refused = stack
        .graphql(
            None,
            "mutation { register(email: \"x\", username: \"xy_z\", password: \"long enough password\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(refused.error_codes(), vec!["BAD_USER_INPUT"]);
    let (_, metrics) = stack
        .get(&format!("{}/metrics", stack.subgraph_url("identity")))
        .await;
    assert!(
        metrics
            .contains("nova_graphql_errors_total{code=\"BAD_USER_INPUT\",service=\"identity\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("nova_graphql_request_duration_seconds_bucket"));

    // The database goes away: not ready (503, saying why), still alive.
    stack
        .admin_sql(&format!(
            "DROP DATABASE \"{}\" WITH (FORCE)",
            stack.database("users")
        ))
        .await
        .unwrap();
    let (status, body) = stack.get(&ready_url).await;
    assert_eq!(status, 503);
    let detail: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(detail["status"], "unavailable");
    assert!(detail["postgres"].as_str().is_some(), "{detail}");
    let live_url = format!("{}/health/live", stack.subgraph_url("users"));
    assert_eq!(stack.get(&live_url).await.0, 200);
}

#[test]
fn configuration_errors_name_the_variable() {
    let binary = std::path::PathBuf::from(required_env("NOVA_BIN_DIR").unwrap()).join("nova-users");
    let secret = ("NOVA_ROUTER_SECRET", "0123456789abcdef0123456789abcdef");
    // users' own setting (the owner it asks about avatars), read before the
    // shared ones; each case but the last has it.
    let media = ("MEDIA_SERVICE_URL", "http://127.0.0.1:1");
    for (env, expected) in [
        (
            vec![media],
            "missing environment variable NOVA_ROUTER_SECRET",
        ),
        (
            vec![media, secret],
            "missing environment variable DATABASE_URL",
        ),
        (
            vec![
                media,
                secret,
                ("DATABASE_URL", "postgres://127.0.0.1:1/none"),
                ("HTTP_PORT", "eighty"),
            ],
            "environment variable HTTP_PORT is malformed",
        ),
        (
            vec![secret],
            "missing environment variable MEDIA_SERVICE_URL",
        ),
    ] {
        let output = Command::new(&binary)
            .env_clear()
            .envs(env)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }
}

//! Progressive rollout (`nova rollout`): a field moves from `users` to a new
//! `profiles` subgraph 5 → 50 → 100 % under load with no failed request, the
//! routers changing only which requests carry the label; then a rollout to a
//! subgraph that fails is aborted by the gate on its own, and every request is
//! served by the old subgraph again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use nova_e2e::registry_ops::*;
use nova_e2e::{eventually, Registry, Stack};
use serde_json::{json, Value};

const LINK: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@override"])"#;
const QUERY: &str = "query Profile($id: ID!) { user(id: $id) { id bio displayName } }";
const BIO: &str = "moving house";
const NAME: &str = "Ada";
const WORKERS: usize = 4;

/// Requests sent through the router until stopped, and what failed.
#[derive(Default)]
struct Load {
    stop: AtomicBool,
    sent: AtomicU64,
    failed: AtomicU64,
    failures: Mutex<Vec<String>>,
}

/// One request; `None` when it answered the user's profile in full.
async fn ask(http: &reqwest::Client, router: &str, user: &str) -> Option<String> {
    let response = http
        .post(router)
        .json(&json!({ "query": QUERY, "variables": { "id": user } }))
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) => return Some(error.to_string()),
    };
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let user = &body["data"]["user"];
    let whole = status == 200
        && body.get("errors").is_none()
        && user["bio"] == BIO
        && user["displayName"] == NAME;
    (!whole).then(|| format!("{status} {body}"))
}

fn start_load(http: reqwest::Client, router: String, user: String) -> Arc<Load> {
    let load = Arc::new(Load::default());
    for _ in 0..WORKERS {
        let (load, http, router, user) = (load.clone(), http.clone(), router.clone(), user.clone());
        tokio::spawn(async move {
            while !load.stop.load(Ordering::Relaxed) {
                let failure = ask(&http, &router, &user).await;
                load.sent.fetch_add(1, Ordering::Relaxed);
                if let Some(failure) = failure {
                    load.failed.fetch_add(1, Ordering::Relaxed);
                    load.failures.lock().unwrap().push(failure);
                }
            }
        });
    }
    load
}

fn schema(stack: &Stack, file: &str, fields: &str) -> std::path::PathBuf {
    let path = stack.state_dir().join(file);
    let sdl = format!("{LINK}\ntype User @key(fields: \"id\") {{\n  id: ID!\n{fields}}}\n");
    std::fs::write(&path, sdl).unwrap();
    path
}

fn nova(stack: &Stack, registry: &Registry, args: &[&str]) -> (i32, String) {
    let output = stack
        .nova(registry, &registry.operator_token)
        .arg("rollout")
        .args(args)
        .output()
        .unwrap();
    (output.status.code().unwrap_or(-1), text(&output))
}

async fn status(stack: &Stack, registry: &Registry) -> Value {
    let answer: Value = stack
        .http
        .get(format!("{}/v1/rollouts/current", registry.url))
        .bearer_auth(&registry.read_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["rollout"].clone()
}

async fn gate_passes(stack: &Stack, registry: &Registry) -> bool {
    status(stack, registry).await["gate"]["state"] == "passing"
}

#[tokio::test]
async fn a_field_moves_step_by_step_under_load_and_a_failing_gate_aborts() {
    let mut stack = Stack::start().await.expect("stack starts");
    let router_port = Stack::free_port();
    let router_metrics = format!("http://127.0.0.1:{router_port}/metrics/nova");
    let registry = stack
        .start_registry_with(&[
            ("NOVA_REGISTRY_ROUTER_METRICS", &router_metrics),
            ("NOVA_REGISTRY_ROLLOUT_GATE_INTERVAL_MS", "300"),
        ])
        .await
        .expect("the registry starts");
    seed_every_subgraph(&stack, &registry);
    let file = stack.state_dir().join("supergraph-from-registry.graphql");
    stack
        .start_supergraph_sync(&registry, &file)
        .await
        .expect("the sync agent starts");
    let rollouts = Stack::rollouts_file(&file).display().to_string();
    let router = stack
        .start_router_replica_on(
            "router-rollout",
            router_port,
            &[
                ("NOVA_SUPERGRAPH_PATH", &file.display().to_string()),
                ("NOVA_ROLLOUTS_PATH", &rollouts),
                ("NOVA_RATE_LIMITS", "false"),
            ],
        )
        .await
        .expect("the router starts");
    // `profiles` starts as another deployment of the users service: the
    // first step of splitting it.
    let profiles = stack
        .start_subgraph_instance("users", "profiles")
        .await
        .expect("profiles starts");
    let (user, token) = stack.sign_up("ada").await;
    stack
        .data_of(
            &token,
            "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }",
            json!({ "i": { "bio": BIO, "displayName": NAME } }),
        )
        .await;
    assert_eq!(ask(&stack.http, &router, &user).await, None);

    // The rollout's schema moves `bio`; a rollout starts at 5 %.
    let moved = schema(
        &stack,
        "profiles.graphql",
        "  bio: String! @override(from: \"users\")\n",
    );
    let moved = moved.display().to_string();
    let profiles_url = format!("{profiles}/graphql");
    let load = start_load(stack.http.clone(), router.clone(), user.clone());
    let (code, output) = nova(
        &stack,
        &registry,
        &[
            "start",
            "--name",
            "profiles",
            "--new",
            "--url",
            &profiles_url,
            "--schema",
            &moved,
            "--min-requests",
            "20",
        ],
    );
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("moves User.bio to profiles"), "{output}");
    assert!(
        output.contains("requests on the new subgraph: 5 %"),
        "{output}"
    );
    eventually(
        10,
        "the labelled supergraph reaching the router",
        &stack,
        || async {
            let sdl = std::fs::read_to_string(&file).unwrap_or_default();
            sdl.contains(r#"overrideLabel: "nova-rollout-1""#)
        },
    )
    .await;
    let started = std::time::Instant::now();
    let labelled = std::fs::read_to_string(&file).unwrap();
    // Promoting before 100 % is refused.
    let (code, output) = nova(&stack, &registry, &["promote"]);
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("the rollout is at 5 %: step it to 100 % before promoting"),
        "{output}"
    );

    for percent in ["50", "100"] {
        eventually(60, "the gate passing", &stack, || {
            gate_passes(&stack, &registry)
        })
        .await;
        let at = status(&stack, &registry).await;
        println!(
            "at {} %: {} answers from profiles, {} failed; {} requests sent so far",
            at["percent"],
            at["stepRequests"],
            at["stepErrors"],
            load.sent.load(Ordering::Relaxed)
        );
        let (code, output) = nova(&stack, &registry, &["step"]);
        assert_eq!(code, 0, "{output}");
        assert!(
            output.contains(&format!("requests on the new subgraph: {percent} %")),
            "{output}"
        );
    }
    let (code, output) = nova(&stack, &registry, &["step"]);
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("the rollout is at 100 %: promote it"),
        "{output}"
    );
    // The steps changed which requests carry the label, not the supergraph
    // (a switch would end open subscriptions).
    assert_eq!(std::fs::read_to_string(&file).unwrap(), labelled);
    eventually(60, "the gate passing", &stack, || {
        gate_passes(&stack, &registry)
    })
    .await;
    let (code, output) = nova(&stack, &registry, &["promote"]);
    assert_eq!(code, 0, "{output}");
    // The promoted supergraph moves `bio` for every request, without a label.
    eventually(
        10,
        "the router's supergraph file promoted",
        &stack,
        || async {
            let sdl = std::fs::read_to_string(&file).unwrap_or_default();
            sdl.contains("graph: PROFILES") && !sdl.contains("overrideLabel")
        },
    )
    .await;
    let served_before = load.sent.load(Ordering::Relaxed);
    eventually(10, "more requests after the promotion", &stack, || async {
        load.sent.load(Ordering::Relaxed) > served_before + 100
    })
    .await;
    load.stop.store(true, Ordering::Relaxed);
    let failures = load.failures.lock().unwrap().clone();
    assert_eq!(load.failed.load(Ordering::Relaxed), 0, "{failures:?}");
    let sent = load.sent.load(Ordering::Relaxed);
    println!(
        "rollout under load: {sent} requests in {:.1} s, 0 failed",
        started.elapsed().as_secs_f64()
    );
    let (_, metrics) = stack.get(&router_metrics).await;
    assert!(
        metrics.contains(
            "nova_router_rollout_subgraph_requests_total{label=\"nova-rollout-1\",outcome=\"ok\",subgraph=\"profiles\"}"
        ),
        "{metrics}"
    );

    // An injected failure: `displayName` moves to a subgraph nobody serves.
    let dead = format!("http://127.0.0.1:{}/graphql", Stack::free_port());
    let broken = schema(
        &stack,
        "avatars.graphql",
        "  displayName: String @override(from: \"users\")\n",
    );
    let broken = broken.display().to_string();
    let load = start_load(stack.http.clone(), router.clone(), user.clone());
    let (code, output) = nova(
        &stack,
        &registry,
        &[
            "start",
            "--name",
            "avatars",
            "--new",
            "--url",
            &dead,
            "--schema",
            &broken,
            "--min-requests",
            "20",
        ],
    );
    assert_eq!(code, 0, "{output}");
    eventually(60, "the gate aborting the rollout", &stack, || async {
        status(&stack, &registry).await["state"] == "aborted"
    })
    .await;
    load.stop.store(true, Ordering::Relaxed);
    assert!(
        load.failed.load(Ordering::Relaxed) > 0,
        "the failure was injected"
    );
    let rollout = status(&stack, &registry).await;
    println!(
        "injected failure: {} of {} requests failed before the gate aborted: {}",
        load.failed.load(Ordering::Relaxed),
        load.sent.load(Ordering::Relaxed),
        rollout["reason"]
    );
    let reason = rollout["reason"].as_str().unwrap();
    assert!(reason.starts_with("gate failed at 5 %: "), "{reason}");
    assert!(
        reason.contains("answers from avatars failed (at most 1.0 %)"),
        "{reason}"
    );
    let (code, output) = nova(&stack, &registry, &["status"]);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("aborted"), "{output}");
    // Once the routers have the label off, every request is whole again.
    eventually(20, "200 requests in a row served whole", &stack, || async {
        for _ in 0..200 {
            if ask(&stack.http, &router, &user).await.is_some() {
                return false;
            }
        }
        true
    })
    .await;
    let (_, metrics) = stack.get(&format!("{}/metrics", registry.url)).await;
    assert!(
        metrics.contains("nova_registry_rollouts_total{event=\"aborted_by_gate\"} 1"),
        "{metrics}"
    );

    // An operator stops a rollout; while one is active no other starts.
    let start = [
        "start",
        "--name",
        "avatars",
        "--url",
        &dead,
        "--schema",
        &broken,
        "--min-requests",
        "100000",
    ];
    let (code, output) = nova(&stack, &registry, &start);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("rollout 3 (nova-rollout-3): active"),
        "{output}"
    );
    let (code, output) = nova(&stack, &registry, &start);
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("rollout 3 of avatars is still active; promote or abort it first"),
        "{output}"
    );
    let output = stack
        .nova(&registry, &registry.operator_token)
        .args(["subgraph", "publish", "--name", "avatars", "--url", &dead])
        .args(["--schema", &broken])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("rollout 3 is moving fields to avatars; promote or abort it first"),
        "{}",
        text(&output)
    );
    let (code, output) = nova(&stack, &registry, &["abort", "--reason", "wrong field"]);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("rollout 3 (nova-rollout-3): aborted"),
        "{output}"
    );
    assert!(
        output.contains("moves User.displayName to avatars"),
        "{output}"
    );
    assert!(
        output.contains("requests on the new subgraph: 0 %"),
        "{output}"
    );
    assert_eq!(
        status(&stack, &registry).await["reason"],
        "aborted by ops: wrong field"
    );
    eventually(10, "the sync agent dropping the label", &stack, || async {
        let labels = std::fs::read_to_string(Stack::rollouts_file(&file)).unwrap_or_default();
        labels == r#"{"rollouts":[]}"#
    })
    .await;
}

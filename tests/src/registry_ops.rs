//! What the registry tests share: publishing with the `nova` CLI, a registry
//! seeded with every subgraph and routers following it, and what they serve.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{subgraphs, Registry, Stack};

/// What the issue promises: a router serves a new supergraph within 5 s.
pub const DELIVERY_BOUND: Duration = Duration::from_secs(5);

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A subgraph's schema file as `cargo xtask compose` wrote it.
pub fn schema_file(name: &str) -> PathBuf {
    PathBuf::from(std::env::var("NOVA_ROOT").expect("NOVA_ROOT is set by cargo xtask test"))
        .join("schema")
        .join(format!("{name}.graphql"))
}

/// Publish a new version of a subgraph with `nova subgraph publish`; the
/// command's output.
pub fn publish(
    stack: &Stack,
    registry: &Registry,
    token: &str,
    name: &str,
    schema: &PathBuf,
) -> Output {
    publish_with(stack, registry, token, name, schema, &[])
}

/// `publish` with more arguments (`--new` for a subgraph the registry does not
/// have yet).
pub fn publish_with(
    stack: &Stack,
    registry: &Registry,
    token: &str,
    name: &str,
    schema: &PathBuf,
    extra: &[&str],
) -> Output {
    stack
        .nova(registry, token)
        .args(["subgraph", "publish", "--name", name])
        .args(extra)
        .args(["--url", &format!("{}/graphql", stack.subgraph_url(name))])
        .arg("--schema")
        .arg(schema)
        .args(["--message", "test"])
        .output()
        .expect("nova runs")
}

/// users' schema plus an unused type: a compatible change routers can be asked about.
pub fn users_with_probe(stack: &Stack, probe: &str) -> PathBuf {
    let sdl = std::fs::read_to_string(schema_file("users")).unwrap();
    let path = stack.state_dir().join(format!("users-{probe}.graphql"));
    std::fs::write(&path, format!("{sdl}\ntype {probe} {{\n  id: ID!\n}}\n")).unwrap();
    path
}

/// A registry seeded with every subgraph, a sync agent writing the routers'
/// supergraph file, and `routers` router replicas reading it.
pub async fn with_registry(stack: &mut Stack, routers: usize) -> (Registry, Vec<String>) {
    let registry = stack.start_registry().await.expect("the registry starts");
    seed_every_subgraph(stack, &registry);
    let file = stack.state_dir().join("supergraph-from-registry.graphql");
    stack
        .start_supergraph_sync(&registry, &file)
        .await
        .expect("the sync agent starts");
    let file = file.display().to_string();
    let names = ["router-r1", "router-r2", "router-r3"];
    let mut urls = Vec::new();
    for name in names.iter().take(routers) {
        urls.push(
            stack
                .start_router_replica(name, &[("NOVA_SUPERGRAPH_PATH", &file)])
                .await
                .expect("a router replica starts"),
        );
    }
    (registry, urls)
}

/// Publish every subgraph's schema file, as new, to `registry`.
pub fn seed_every_subgraph(stack: &Stack, registry: &Registry) {
    for name in subgraphs() {
        let output = publish_with(
            stack,
            registry,
            &registry.operator_token,
            name,
            &schema_file(name),
            &["--new"],
        );
        assert!(output.status.success(), "seeding {name}: {}", text(&output));
    }
}

/// Whether the router at `url` serves type `name`.
pub async fn serves_type(stack: &Stack, url: &str, name: &str) -> bool {
    let response = stack
        .http
        .post(url)
        .json(&json!({ "query": format!("{{ __type(name: \"{name}\") {{ name }} }}") }))
        .send()
        .await;
    match response {
        Ok(response) => response
            .json::<Value>()
            .await
            .is_ok_and(|body| body["data"]["__type"]["name"] == name),
        Err(_) => false,
    }
}

/// Wait until every router serves (or no longer serves) type `name`; how long.
pub async fn wait_until_served(
    stack: &Stack,
    routers: &[String],
    name: &str,
    served: bool,
) -> Duration {
    let started = Instant::now();
    for url in routers {
        while serves_type(stack, url, name).await != served {
            assert!(
                started.elapsed() < DELIVERY_BOUND,
                "{url} did not switch within {DELIVERY_BOUND:?}\n{}",
                stack.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    started.elapsed()
}

pub async fn history(stack: &Stack, registry: &Registry) -> Value {
    stack
        .http
        .get(format!("{}/v1/supergraphs", registry.url))
        .bearer_auth(&registry.read_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Send `n` requests (a subgraph field and introspection) across `routers`;
/// the answers that were not 200 with full data and no error.
pub async fn full_answers_missing(stack: &Stack, routers: &[String], n: usize) -> Vec<String> {
    let query = "{ postsByHashtag(tag: \"x\", first: 1) { edges { node { body } } } __type(name: \"Post\") { name } }";
    let mut failed = Vec::new();
    for i in 0..n {
        let answer = stack
            .http
            .post(&routers[i % routers.len()])
            .json(&json!({ "query": query }))
            .send()
            .await
            .expect("the router answers");
        let status = answer.status().as_u16();
        let body = answer.json::<Value>().await.unwrap_or(Value::Null);
        if status != 200 || body.get("errors").is_some() || body["data"]["__type"]["name"] != "Post"
        {
            failed.push(format!("{status} {body}"));
        }
    }
    failed
}

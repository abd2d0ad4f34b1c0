//! What the registry tests share: publishing with the `nova` CLI, a registry
//! seeded with every subgraph and routers following it, and what they serve.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use nova_registry::auth::hash_token;
use serde_json::{json, Value};

use crate::processes::free_port;
use crate::{subgraphs, Registry, Stack};

impl Stack {
    /// Start a schema registry on its own database (process `registry`), with
    /// one operator and one read token.
    pub async fn start_registry(&mut self) -> Result<Registry> {
        self.start_registry_with(&[]).await
    }

    /// `start_registry` with `extra_env` on top of its settings.
    pub async fn start_registry_with(&mut self, extra_env: &[(&str, &str)]) -> Result<Registry> {
        let database = format!("nova_t_{}_registry", self.run_id);
        let database_url = self.databases.create(&database).await?;
        let port = free_port();
        let registry = Registry {
            url: format!("http://127.0.0.1:{port}"),
            operator_token: format!("operator-{}", self.run_id),
            read_token: format!("reader-{}", self.run_id),
            report_token: format!("reporter-{}", self.run_id),
        };
        let env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), database_url),
            ("HTTP_PORT".into(), port.to_string()),
            (
                "NOVA_REGISTRY_TOKENS".into(),
                format!(
                    "ops:operator:{},routers:read:{},usage:report:{}",
                    hash_token(&registry.operator_token),
                    hash_token(&registry.read_token),
                    hash_token(&registry.report_token)
                ),
            ),
            (
                "NOVA_PQ_MANIFEST_PATH".into(),
                self.launcher
                    .root
                    .join("persisted-queries/manifest.json")
                    .display()
                    .to_string(),
            ),
        ];
        let mut env = env;
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let process = self.launcher.spawn_nova_as("registry", "registry", &env)?;
        self.processes.push(process);
        self.wait_ready(&format!("{}/health/ready", registry.url))
            .await?;
        Ok(registry)
    }

    /// The `nova` command line against `registry` with `token`.
    pub fn nova(&self, registry: &Registry, token: &str) -> Command {
        let mut command = Command::new(self.launcher.bin_dir.join("nova"));
        command
            .current_dir(&self.launcher.root)
            .env("NOVA_REGISTRY_URL", &registry.url)
            .env("NOVA_REGISTRY_TOKEN", token);
        command
    }

    /// `nova admin …` against this stack's identity database.
    pub fn nova_admin(&self) -> Command {
        let mut command = Command::new(self.launcher.bin_dir.join("nova"));
        command
            .current_dir(&self.launcher.root)
            .env("IDENTITY_DATABASE_URL", self.database_url("identity"))
            .arg("admin");
        command
    }

    /// Write the registry's current supergraph to `out` and keep it current
    /// with `nova supergraph sync` (process `supergraph-sync`), as beside a
    /// router; the active rollout labels go to `rollouts_file(out)`.
    pub async fn start_supergraph_sync(
        &mut self,
        registry: &Registry,
        out: &std::path::Path,
    ) -> Result<()> {
        let fetched = self
            .nova(registry, &registry.read_token)
            .args(["supergraph", "fetch", "--out"])
            .arg(out)
            .output()?;
        if !fetched.status.success() {
            bail!(
                "nova supergraph fetch failed: {}",
                String::from_utf8_lossy(&fetched.stderr)
            );
        }
        let mut sync = self.nova(registry, &registry.read_token);
        sync.args(["supergraph", "sync", "--interval-ms", "1000", "--out"])
            .arg(out)
            .arg("--rollouts-out")
            .arg(Self::rollouts_file(out));
        let process = self.launcher.spawn("supergraph-sync", &mut sync)?;
        self.processes.push(process);
        Ok(())
    }

    /// Where `start_supergraph_sync` writes the rollout labels (a router's
    /// `NOVA_ROLLOUTS_PATH`).
    pub fn rollouts_file(supergraph_file: &std::path::Path) -> std::path::PathBuf {
        supergraph_file.with_extension("rollouts.json")
    }
}

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

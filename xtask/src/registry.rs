//! The development schema registry. `cargo xtask up` starts it (127.0.0.1:4100,
//! database `nova_registry`), publishes every subgraph of `supergraph.yaml` from
//! its schema file (the same `nova subgraph publish` an operator runs), and starts
//! the sync agent (`nova supergraph sync`) that keeps `.nova/supergraph.graphql`,
//! the file the development router reads, equal to the registry's current
//! supergraph. Tokens live in `.nova/secrets.env`; the registry only gets their
//! SHA-256 hashes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nova_registry::auth::hash_token;

use crate::load::{histogram, ms};
use crate::postgres::{self, Postgres};
use crate::stack::{self, secret, State};

pub const REGISTRY_PROCESS: &str = "registry";
pub const SYNC_PROCESS: &str = "supergraph-sync";

/// Where one registry runs: the development one of `up`, or the bench's.
pub struct Setup {
    pub port: u16,
    /// Prefix of its process names (`registry`, `supergraph-sync`).
    pub name_prefix: &'static str,
    pub database: &'static str,
    /// The supergraph file its sync agent writes, in `.nova/`.
    pub file_name: &'static str,
    pub sync_interval_ms: u64,
    /// The port of the router whose metrics the rollout gate reads.
    pub router_port: u16,
}

pub const DEVELOPMENT: Setup = Setup {
    port: 4100,
    name_prefix: "",
    database: "nova_registry",
    file_name: "supergraph.graphql",
    sync_interval_ms: 1000,
    router_port: crate::stack::ROUTER_PORT,
};

impl Setup {
    /// The supergraph file the router of this setup reads.
    pub fn supergraph_path(&self, state: &State) -> PathBuf {
        state.dir.join(self.file_name)
    }

    /// The rollout labels its sync agent writes (the router's `NOVA_ROLLOUTS_PATH`).
    pub fn rollouts_path(&self, state: &State) -> PathBuf {
        self.supergraph_path(state).with_extension("rollouts.json")
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The operator token of the development registry (`nova` reads it from
/// `NOVA_REGISTRY_TOKEN`).
pub fn operator_token(state: &State) -> Result<String> {
    secret(state, "NOVA_REGISTRY_OPERATOR_TOKEN")
}

fn read_token(state: &State) -> Result<String> {
    secret(state, "NOVA_REGISTRY_READ_TOKEN")
}

/// The token development routers send usage reports with (role `report`).
pub fn report_token(state: &State) -> Result<String> {
    secret(state, "NOVA_REGISTRY_REPORT_TOKEN")
}

/// `nova` with the registry's URL and `token`.
pub fn nova(setup: &Setup, bin_dir: &Path, token: &str) -> Command {
    let mut command = Command::new(bin_dir.join("nova"));
    command
        .env("NOVA_REGISTRY_URL", setup.url())
        .env("NOVA_REGISTRY_TOKEN", token);
    command
}

/// Start the registry, publish `supergraph.yaml`'s subgraphs, write the router's
/// supergraph file and start the sync agent.
pub fn up(setup: &Setup, state: &State, pg: &Postgres, bin_dir: &Path, root: &Path) -> Result<()> {
    postgres::ensure_database(pg, setup.database)?;
    let operator = operator_token(state)?;
    let reader = read_token(state)?;
    let reporter = report_token(state)?;
    let mut registry = Command::new(bin_dir.join("nova-registry"));
    registry
        .current_dir(root)
        .env("DATABASE_URL", pg.url(setup.database))
        .env(
            "NOVA_REGISTRY_TOKENS",
            format!(
                "xtask:operator:{},routers:read:{},usage:report:{}",
                hash_token(&operator),
                hash_token(&reader),
                hash_token(&reporter)
            ),
        )
        .env(
            "NOVA_PQ_MANIFEST_PATH",
            root.join("persisted-queries/manifest.json"),
        )
        .env(
            "NOVA_REGISTRY_ROUTER_METRICS",
            format!("http://127.0.0.1:{}/metrics/nova", setup.router_port),
        )
        .env("HTTP_PORT", setup.port.to_string());
    let registry_process = format!("{}{REGISTRY_PROCESS}", setup.name_prefix);
    stack::start_background(state, &registry_process, registry)?;
    let started = Instant::now();
    while stack::http_status(setup.port, "/health/ready") != Some(200) {
        if started.elapsed() > Duration::from_secs(60) {
            bail!(
                "the registry was not ready within 60s (log: {})",
                state
                    .logs()
                    .join(format!("{registry_process}.log"))
                    .display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    // Publish what this checkout has (forced: a developer's own machine follows
    // the code; the report still says what changed), as new where the registry
    // does not have the subgraph yet.
    let listed = nova(setup, bin_dir, &operator)
        .args(["subgraph", "list"])
        .output()
        .context("running nova subgraph list")?;
    if !listed.status.success() {
        bail!(
            "listing the registry's subgraphs failed:\n{}",
            String::from_utf8_lossy(&listed.stderr)
        );
    }
    let known = String::from_utf8_lossy(&listed.stdout).to_string();
    let known: Vec<&str> = known
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for entry in nova_schema::supergraph_config::read(root)? {
        let (name, schema) = (&entry.name, root.join(&entry.schema_file));
        let new: &[&str] = if known.contains(&name.as_str()) {
            &[]
        } else {
            &["--new"]
        };
        let output = nova(setup, bin_dir, &operator)
            .args([
                "subgraph",
                "publish",
                "--name",
                name,
                "--url",
                &entry.routing_url,
            ])
            .arg("--schema")
            .arg(&schema)
            .args(["--message", "cargo xtask up", "--force"])
            .args(new)
            .output()
            .context("running nova subgraph publish")?;
        if !output.status.success() {
            bail!(
                "publishing {name} to the registry failed:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        if let Some(last) = stdout.lines().last() {
            println!("registry: {last}");
        }
    }

    let out = setup.supergraph_path(state);
    let fetched = nova(setup, bin_dir, &reader)
        .args(["supergraph", "fetch", "--out"])
        .arg(&out)
        .status()?;
    if !fetched.success() {
        bail!("fetching the current supergraph from the registry failed");
    }
    let mut sync = nova(setup, bin_dir, &reader);
    sync.args(["supergraph", "sync", "--interval-ms"])
        .arg(setup.sync_interval_ms.to_string())
        .arg("--out")
        .arg(&out)
        .arg("--rollouts-out")
        .arg(setup.rollouts_path(state));
    stack::start_background(state, &format!("{}{SYNC_PROCESS}", setup.name_prefix), sync)
}

/// The bench's registry, beside the bench stack.
const BENCH_SETUP: Setup = Setup {
    port: 14100,
    name_prefix: "bench-",
    database: "nova_bench_registry",
    file_name: "bench-supergraph.graphql",
    sync_interval_ms: 1000,
    router_port: crate::bench_stack::BENCH.router_port,
};

/// Whether the router on `port` serves type `name` (introspection).
fn serves_type(port: u16, name: &str) -> bool {
    let body = format!(r#"{{"query":"{{ __type(name: \"{name}\") {{ name }} }}"}}"#);
    stack::http(
        port,
        "POST",
        "/graphql",
        &[("Content-Type", "application/json")],
        &body,
        Duration::from_secs(5),
    )
    .ok()
    .and_then(|(_, text)| serde_json::from_str::<serde_json::Value>(&text).ok())
    .is_some_and(|v| v["data"]["__type"]["name"] == name)
}

/// `cargo xtask bench registry [--publishes N]`: the bench stack with its own
/// registry and sync agent (1 s, as in development); N compatible publishes of
/// users one after another, each timed from the end of `nova subgraph publish`
/// until the router answers an introspection query with the new type.
pub fn bench(root: &Path, publishes: usize) -> Result<()> {
    use crate::bench_stack::{on_bench_stack, Data, BENCH};
    on_bench_stack(root, Data::Fresh, |bench_stack| {
        let (state, pg, bin_dir) = (bench_stack.state, bench_stack.pg, bench_stack.bin_dir);
        postgres::recreate_database(pg, BENCH_SETUP.database)?;
        up(&BENCH_SETUP, state, pg, bin_dir, root)?;
        let file = BENCH_SETUP.supergraph_path(state).display().to_string();
        let services: Vec<stack::Service> = bench_stack
            .services
            .iter()
            .map(|service| match service.name.as_str() {
                // Introspection is how the bench asks what the router serves.
                "bench-router" => service.variant(
                    "bench-router",
                    BENCH.router_port,
                    &[("NOVA_SUPERGRAPH_PATH", &file), ("NOVA_SAFELIST", "false")],
                ),
                _ => service.variant(&service.name, service.port(), &[]),
            })
            .collect();
        bench_stack.start(root, &services)?;
        let operator = operator_token(state)?;
        let users = std::fs::read_to_string(root.join("schema/users.graphql"))?;
        let candidate = state.dir.join("bench-users.graphql");
        let mut delays = histogram();
        for round in 0..publishes {
            let probe = format!("BenchProbe{round}");
            std::fs::write(
                &candidate,
                format!("{users}\ntype {probe} {{\n  id: ID!\n}}\n"),
            )?;
            let output = nova(&BENCH_SETUP, bin_dir, &operator)
                .args(["subgraph", "publish", "--name", "users"])
                .args(["--url", "http://127.0.0.1:14002/graphql", "--schema"])
                .arg(&candidate)
                .output()?;
            if !output.status.success() {
                bail!(
                    "publish {round} was rejected: {}",
                    String::from_utf8_lossy(&output.stdout)
                );
            }
            let published = Instant::now();
            while !serves_type(BENCH.router_port, &probe) {
                if published.elapsed() > Duration::from_secs(30) {
                    bail!("the router did not serve publish {round} within 30 s");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            delays.record(published.elapsed().as_micros() as u64)?;
        }
        println!(
            "publish → router serving it, {publishes} publishes (sync agent and router both poll every 1 s): \
             p50 {:.0} ms, p99 {:.0} ms, min {:.0} ms, max {:.0} ms",
            ms(&delays, 0.5),
            ms(&delays, 0.99),
            delays.min() as f64 / 1000.0,
            delays.max() as f64 / 1000.0
        );
        Ok(())
    })
}

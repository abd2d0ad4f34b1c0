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
use sha2::{Digest, Sha256};

use crate::compose::read_config;
use crate::postgres::{self, Postgres};
use crate::stack::{self, secret, State};

pub const REGISTRY_PORT: u16 = 4100;
pub const REGISTRY_PROCESS: &str = "registry";
pub const SYNC_PROCESS: &str = "supergraph-sync";
pub const DATABASE: &str = "nova_registry";

/// The supergraph file the development router reads.
pub fn supergraph_path(state: &State) -> PathBuf {
    state.dir.join("supergraph.graphql")
}

pub fn url() -> String {
    format!("http://127.0.0.1:{REGISTRY_PORT}")
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The operator token of the development registry (`nova` reads it from
/// `NOVA_REGISTRY_TOKEN`).
pub fn operator_token(state: &State) -> Result<String> {
    secret(state, "NOVA_REGISTRY_OPERATOR_TOKEN")
}

fn read_token(state: &State) -> Result<String> {
    secret(state, "NOVA_REGISTRY_READ_TOKEN")
}

/// `nova` with the registry's URL and `token`.
fn nova(bin_dir: &Path, token: &str) -> Command {
    let mut command = Command::new(bin_dir.join("nova"));
    command
        .env("NOVA_REGISTRY_URL", url())
        .env("NOVA_REGISTRY_TOKEN", token);
    command
}

/// Start the registry, publish `supergraph.yaml`'s subgraphs, write the router's
/// supergraph file and start the sync agent.
pub fn up(state: &State, pg: &Postgres, bin_dir: &Path, root: &Path) -> Result<()> {
    postgres::ensure_database(pg, DATABASE)?;
    let operator = operator_token(state)?;
    let reader = read_token(state)?;
    let mut registry = Command::new(bin_dir.join("nova-registry"));
    registry
        .current_dir(root)
        .env("DATABASE_URL", pg.url(DATABASE))
        .env(
            "NOVA_REGISTRY_TOKENS",
            format!(
                "xtask:operator:{},routers:read:{}",
                sha256_hex(&operator),
                sha256_hex(&reader)
            ),
        )
        .env(
            "NOVA_PQ_MANIFEST_PATH",
            root.join("persisted-queries/manifest.json"),
        )
        .env("HTTP_PORT", REGISTRY_PORT.to_string());
    stack::start_background(state, REGISTRY_PROCESS, registry)?;
    let started = Instant::now();
    while stack::http_status(REGISTRY_PORT, "/health/ready") != Some(200) {
        if started.elapsed() > Duration::from_secs(60) {
            bail!(
                "the registry was not ready within 60s (log: {})",
                state.logs().join("registry.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    // Publish what this checkout has (forced: a developer's own machine follows
    // the code; the report still says what changed).
    for (name, entry) in read_config(root)?.subgraphs {
        let schema = root.join(entry.schema.file.trim_start_matches("./"));
        let output = nova(bin_dir, &operator)
            .args([
                "subgraph",
                "publish",
                "--name",
                &name,
                "--url",
                &entry.routing_url,
            ])
            .arg("--schema")
            .arg(&schema)
            .args(["--message", "cargo xtask up", "--force"])
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

    let out = supergraph_path(state);
    let fetched = nova(bin_dir, &reader)
        .args(["supergraph", "fetch", "--out"])
        .arg(&out)
        .status()?;
    if !fetched.success() {
        bail!("fetching the current supergraph from the registry failed");
    }
    let mut sync = nova(bin_dir, &reader);
    sync.args(["supergraph", "sync", "--interval-ms", "1000", "--out"])
        .arg(&out);
    stack::start_background(state, SYNC_PROCESS, sync)
}

//! `up`, `down` and `test`: the local stack under `.nova/` (git-ignored).
//!
//! .nova/secrets.env   generated once: Postgres password, router secret
//! .nova/postgres/     the Postgres cluster
//! .nova/kafka/        the Kafka broker's SQLite log
//! (Redis keeps nothing on disk: rate-limit buckets are short-lived)
//! .nova/identity/     the development JWT signing key
//! .nova/logs/         one log per process
//! .nova/pids/         one PID file per process `up` started

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::postgres;
use crate::{kafka, redis};

mod layout;
mod process;

pub use layout::{services, subgraphs, Layout, Service, DEVELOPMENT, ROUTER_PORT};
pub use process::{
    http, http_status, metric, metrics_text, recorded_pid, start, start_background, start_ready,
    stop, stop_process, wait_listening, wait_ready,
};

pub struct State {
    pub dir: PathBuf,
}

impl State {
    pub fn open(root: &Path) -> Result<Self> {
        let dir = root.join(".nova");
        for sub in ["logs", "pids", "identity"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        Ok(Self { dir })
    }
    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }
    fn pid_file(&self, name: &str) -> PathBuf {
        self.dir.join("pids").join(format!("{name}.pid"))
    }
}

/// Run a command to completion; fail with its name when it fails.
pub fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {:?}", command.get_program()))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// A random secret (24 bytes, hex) kept in `.nova/secrets.env`, so it stays the
/// same across `up`s.
pub fn secret(state: &State, name: &str) -> Result<String> {
    remembered(state, name, || {
        Ok(random_bytes(24)?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    })
}

/// A random 32-byte key, base64, kept like `secret`.
pub fn key_base64(state: &State, name: &str) -> Result<String> {
    use base64::Engine;
    remembered(state, name, || {
        Ok(base64::engine::general_purpose::STANDARD.encode(random_bytes(32)?))
    })
}

fn remembered(state: &State, name: &str, make: impl FnOnce() -> Result<String>) -> Result<String> {
    let path = state.dir.join("secrets.env");
    if path.exists() {
        // A file made by an older release may be readable by others.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    for line in text.lines() {
        if let Some(value) = line.strip_prefix(&format!("{name}=")) {
            return Ok(value.to_string());
        }
    }
    let value = make()?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)?;
    writeln!(file, "{name}={value}")?;
    Ok(value)
}

/// Write a file only its owner can read (passwords, keys).
pub fn write_secret_file(path: &std::path::Path, contents: &str) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

fn random_bytes(n: usize) -> Result<Vec<u8>> {
    use rand::RngCore;
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes)?;
    Ok(bytes)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Build the router, registry and subgraph binaries; returns the folder holding
/// them. Every binary of the workspace, so dependencies are built with the
/// workspace's feature set — the one `cargo test --workspace` uses next — instead
/// of a second variant for a subset of packages (minutes on a cold machine).
pub fn build_binaries(root: &Path, release: bool) -> Result<PathBuf> {
    let mut command = cargo();
    command
        .current_dir(root)
        .args(["build", "--workspace", "--bins"]);
    if release {
        command.arg("--release");
    }
    run(&mut command)?;
    Ok(target_dir(root).join(if release { "release" } else { "debug" }))
}

pub fn up(root: &Path) -> Result<()> {
    let state = State::open(root)?;
    let pg = postgres::ensure_running(&state)?;
    crate::sql::prepare_databases(root, &pg, false)?;
    for name in subgraphs() {
        postgres::ensure_database(&pg, &DEVELOPMENT.database(name))?;
    }
    let kafka_brokers = kafka::ensure_running(&state, root, &DEVELOPMENT)?;
    redis::ensure_running(&state, &DEVELOPMENT)?;
    println!("building the subgraphs and the router");
    let bin_dir = build_binaries(root, false)?;
    // The router reads the supergraph the registry's sync agent keeps current.
    let registry = &crate::registry::DEVELOPMENT;
    crate::registry::up(registry, &state, &pg, &bin_dir, root)?;
    let supergraph = registry.supergraph_path(&state);
    let supergraph = supergraph.display().to_string();
    for service in services(&state, &pg, &kafka_brokers, root, &DEVELOPMENT)? {
        let service = if service.name == "router" {
            service.variant(
                "router",
                ROUTER_PORT,
                &[("NOVA_SUPERGRAPH_PATH", &supergraph)],
            )
        } else {
            service
        };
        start(&state, &bin_dir, root, &service)?;
        wait_ready(&state, &service, Duration::from_secs(60))?;
    }
    println!();
    println!(
        "Nova is up: router at http://127.0.0.1:{ROUTER_PORT}/graphql (GraphiQL in a browser)"
    );
    println!(
        "schema registry at {} (operator token: NOVA_REGISTRY_OPERATOR_TOKEN in {})",
        crate::registry::DEVELOPMENT.url(),
        state.dir.join("secrets.env").display()
    );
    println!(
        "logs in {}; stop with `cargo xtask down`",
        state.logs().display()
    );
    Ok(())
}

pub fn down(root: &Path) -> Result<()> {
    let state = State::open(root)?;
    stop(&state, &DEVELOPMENT)?;
    kafka::stop(&state, &DEVELOPMENT)?;
    redis::stop(&state, &DEVELOPMENT)?;
    crate::sql::remove_env_files(root)?;
    postgres::stop(&state)
}

/// Start Postgres, build the binaries the end-to-end tests spawn, run every test.
/// Extra arguments go to `cargo test` (for example a test name filter).
pub fn test(root: &Path, extra: &[String]) -> Result<()> {
    let state = State::open(root)?;
    let pg = postgres::ensure_running(&state)?;
    postgres::drop_test_databases(&pg)?;
    crate::sql::prepare_databases(root, &pg, false)?;
    // Each end-to-end stack runs its own broker from this binary.
    let tansu = kafka::tansu(root)?;
    let redis_server = redis::server()?;
    let bin_dir = build_binaries(root, false)?;
    run(cargo()
        .current_dir(root)
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(extra)
        .env("NOVA_TEST_DATABASE_URL", pg.url("postgres"))
        .env("NOVA_BIN_DIR", &bin_dir)
        .env("NOVA_TANSU_BIN", &tansu)
        .env("NOVA_REDIS_SERVER_BIN", &redis_server)
        .env("NOVA_ROOT", root))
}

/// Install Debian packages (as root): `apt-get update`, then `apt-get install`.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn secret_files_are_readable_by_their_owner_only() {
        let path = std::env::temp_dir().join(format!("nova-secret-{}", std::process::id()));
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        super::write_secret_file(&path, "new").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        std::fs::remove_file(&path).unwrap();
    }
}

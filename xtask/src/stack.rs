//! `up`, `down` and `test`: the local stack under `.nova/` (git-ignored).
//!
//! .nova/secrets.env   generated once: Postgres password, router secret
//! .nova/postgres/     the Postgres cluster
//! .nova/kafka/        the Kafka broker's SQLite log
//! (Redis keeps nothing on disk: rate-limit buckets are short-lived)
//! .nova/identity/     the development JWT signing key
//! .nova/logs/         one log per process
//! .nova/pids/         one PID file per process `up` started

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::postgres::{self, Postgres};
use crate::{kafka, redis};

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
        .open(&path)?;
    writeln!(file, "{name}={value}")?;
    Ok(value)
}

fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
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

/// A process `up` runs: name, port, readiness path, environment.
pub struct Service {
    pub name: String,
    binary: String,
    port: u16,
    ready_path: &'static str,
    env: Vec<(String, String)>,
}

impl Service {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The same service as process `name` on `port`, with `extra_env` on top.
    pub fn variant(&self, name: &str, port: u16, extra_env: &[(&str, &str)]) -> Service {
        let mut env = self.env.clone();
        env.extend(extra_env.iter().map(|(k, v)| var(k, *v)));
        Service {
            name: name.to_string(),
            binary: self.binary.clone(),
            port,
            ready_path: self.ready_path,
            env,
        }
    }
}

/// Whether the process runs. A zombie (exited, not yet reaped: the bench's
/// own children until xtask exits) counts as gone.
fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

pub fn recorded_pid(state: &State, name: &str) -> Option<u32> {
    std::fs::read_to_string(state.pid_file(name))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// One HTTP request to 127.0.0.1:port: the status and the body. HTTP/1.0, so the
/// answer is never chunked and ends when the server closes the connection.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> Result<(u16, String)> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    Ok((status, body.to_string()))
}

/// The HTTP status of `GET path` on 127.0.0.1:port, if anything answers.
/// The first sample named `name` (labels ignored) on 127.0.0.1:`port`/metrics.
pub fn metric(port: u16, name: &str) -> Result<f64> {
    let (_, text) = http(port, "GET", "/metrics", &[], "", Duration::from_secs(5))?;
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no {name} in /metrics on port {port}"))
}

pub fn http_status(port: u16, path: &str) -> Option<u16> {
    http(port, "GET", path, &[], "", Duration::from_secs(2))
        .ok()
        .map(|(status, _)| status)
}

pub fn wait_ready(state: &State, service: &Service, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if http_status(service.port, service.ready_path) == Some(200) {
            return Ok(());
        }
        if let Some(pid) = recorded_pid(state, &service.name) {
            if !is_alive(pid) {
                bail!(
                    "{} exited during start; see {}",
                    service.name,
                    state.logs().join(format!("{}.log", service.name)).display()
                );
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!(
        "{} was not ready within {}s; see {}",
        service.name,
        timeout.as_secs(),
        state.logs().join(format!("{}.log", service.name)).display()
    )
}

pub fn start(state: &State, bin_dir: &Path, root: &Path, service: &Service) -> Result<()> {
    let mut command = Command::new(bin_dir.join(&service.binary));
    command
        .current_dir(root)
        .envs(service.env.iter().map(|(k, v)| (k, v)));
    start_background(state, &service.name, command)
}

/// Start `command` in the background as process `name` (PID file, log), unless the
/// recorded process is still alive.
pub fn start_background(state: &State, name: &str, mut command: Command) -> Result<()> {
    if let Some(pid) = recorded_pid(state, name) {
        if is_alive(pid) {
            println!("{name} already running (pid {pid})");
            return Ok(());
        }
    }
    let log_path = state.logs().join(format!("{name}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group, so it outlives `cargo xtask up`.
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {:?}", command.get_program()))?;
    std::fs::write(state.pid_file(name), child.id().to_string())?;
    println!(
        "started {name} (pid {}, log {})",
        child.id(),
        log_path.display()
    );
    Ok(())
}

/// Every subgraph a stack runs, in start order (binary `nova-<name>`, database
/// `<prefix>_<name>`, port after the router's). The router starts after them.
pub const SUBGRAPHS: [&str; 8] = [
    "identity",
    "users",
    "content",
    "social",
    "chat",
    "notifications",
    "feed",
    "search",
];

pub const ROUTER_PORT: u16 = 4000;

/// Where one stack runs: the development stack of `up`, or the bench's.
pub struct Layout {
    /// Prefix of process names (PID and log files).
    pub name_prefix: &'static str,
    /// Prefix of database names: `<prefix>_<subgraph>`.
    pub database_prefix: &'static str,
    /// The router's port; subgraph ports follow it in `SUBGRAPHS` order.
    pub router_port: u16,
    /// The port of the layout's own Kafka broker.
    pub kafka_port: u16,
    /// The port of the layout's own Redis (the router's rate limits).
    pub redis_port: u16,
    /// Router settings of this layout on top of `router/router.yaml`'s defaults.
    pub router_env: &'static [(&'static str, &'static str)],
}

pub const DEVELOPMENT: Layout = Layout {
    name_prefix: "",
    database_prefix: "nova",
    router_port: ROUTER_PORT,
    kafka_port: 19092,
    redis_port: 56379,
    router_env: &[],
};

impl Layout {
    /// Redis's process name (PID and log files).
    pub fn redis_process(&self) -> String {
        format!("{}redis", self.name_prefix)
    }

    /// The broker's process name (PID and log files, and its folder in `.nova/`).
    pub fn kafka_process(&self) -> String {
        format!("{}kafka", self.name_prefix)
    }

    pub fn subgraph_port(&self, index: usize) -> u16 {
        self.router_port + 1 + index as u16
    }

    pub fn database(&self, subgraph: &str) -> String {
        format!("{}_{subgraph}", self.database_prefix)
    }

    /// Process names, router first (the registry and its sync agent run in the
    /// development layout only).
    pub fn process_names(&self) -> Vec<String> {
        std::iter::once("router")
            .chain(SUBGRAPHS)
            .chain([
                crate::registry::SYNC_PROCESS,
                crate::registry::REGISTRY_PROCESS,
            ])
            .map(|name| format!("{}{name}", self.name_prefix))
            .collect()
    }
}

/// One environment variable of a service.
fn var(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_string(), value.into())
}

pub fn services(
    state: &State,
    pg: &Postgres,
    kafka_brokers: &str,
    root: &Path,
    layout: &Layout,
) -> Result<Vec<Service>> {
    let router_secret = secret(state, "NOVA_ROUTER_SECRET")?;
    let key_path = state.dir.join("identity").join("jwt-ed25519.pem");
    let mut services = Vec::new();
    let mut router_env = vec![
        var(
            "ROUTER_CONFIG_FILE_PATH",
            root.join("router/router.yaml").display().to_string(),
        ),
        var("NOVA_ROUTER_SECRET", router_secret.clone()),
        var("NOVA_ROUTER_PORT", layout.router_port.to_string()),
        var(
            "REDIS_URL",
            format!("redis://127.0.0.1:{}", layout.redis_port),
        ),
        var(
            "NOVA_JWKS_URL",
            format!(
                "http://127.0.0.1:{}/.well-known/jwks.json",
                layout.subgraph_port(0)
            ),
        ),
    ];
    router_env.extend(layout.router_env.iter().map(|(k, v)| var(k, *v)));
    for (index, name) in SUBGRAPHS.iter().enumerate() {
        let port = layout.subgraph_port(index);
        let mut env = vec![
            var("DATABASE_URL", pg.url(&layout.database(name))),
            var("KAFKA_BROKERS", kafka_brokers),
            var("NOVA_ROUTER_SECRET", router_secret.clone()),
            var("RUST_LOG", "info".to_string()),
            var("HTTP_PORT", port.to_string()),
        ];
        if *name == "identity" {
            env.push(var("JWT_PRIVATE_KEY_PATH", key_path.display().to_string()));
            env.push(var("JWT_GENERATE_KEY_IF_MISSING", "true".to_string()));
        }
        // The owners it asks directly (nova_core::internal).
        for (_, variable, owner) in nova_core::internal::CALLS.iter().filter(|c| c.0 == *name) {
            let index = SUBGRAPHS.iter().position(|s| s == owner);
            let port = layout.subgraph_port(index.expect("owners are in SUBGRAPHS"));
            env.push(var(variable, format!("http://127.0.0.1:{port}")));
        }
        if *name == "search" {
            let path = state
                .dir
                .join(format!("{}search-index", layout.name_prefix));
            env.push(var("SEARCH_INDEX_PATH", path.display().to_string()));
        }
        if *name == "chat" || *name == "notifications" || *name == "feed" {
            // Live events between instances (nova_core::live); feed's timelines.
            env.push(var(
                "REDIS_URL",
                format!("redis://127.0.0.1:{}", layout.redis_port),
            ));
        }
        if *name == "chat" {
            env.push(var(
                "MESSAGE_ENCRYPTION_MASTER_KEY",
                key_base64(state, "MESSAGE_ENCRYPTION_MASTER_KEY")?,
            ));
        }
        // NOVA_IDENTITY_URL, NOVA_USERS_URL, ... as router/router.yaml reads them.
        router_env.push(var(
            &format!("NOVA_{}_URL", name.to_uppercase()),
            format!("http://127.0.0.1:{port}/graphql"),
        ));
        services.push(Service {
            name: format!("{}{name}", layout.name_prefix),
            binary: format!("nova-{name}"),
            port,
            ready_path: "/health/ready",
            env,
        });
    }
    services.push(Service {
        name: format!("{}router", layout.name_prefix),
        binary: "nova-router".to_string(),
        port: layout.router_port,
        ready_path: "/readiness",
        env: router_env,
    });
    Ok(services)
}

/// Stop the processes of a layout, by the PIDs recorded when they started.
pub fn stop(state: &State, layout: &Layout) -> Result<()> {
    for name in layout.process_names() {
        stop_process(state, &name)?;
    }
    Ok(())
}

/// Stop one process `start_background` started, by its recorded PID.
pub fn stop_process(state: &State, name: &str) -> Result<()> {
    let Some(pid) = recorded_pid(state, name) else {
        return Ok(());
    };
    if is_alive(pid) {
        println!("stopping {name} (pid {pid})");
        run(Command::new("kill").arg(pid.to_string()))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if is_alive(pid) {
            run(Command::new("kill").args(["-KILL", &pid.to_string()]))?;
        }
    }
    std::fs::remove_file(state.pid_file(name))?;
    Ok(())
}

pub fn up(root: &Path) -> Result<()> {
    let state = State::open(root)?;
    let pg = postgres::ensure_running(&state)?;
    for name in SUBGRAPHS {
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
    postgres::stop(&state)
}

/// Start Postgres, build the binaries the end-to-end tests spawn, run every test.
/// Extra arguments go to `cargo test` (for example a test name filter).
pub fn test(root: &Path, extra: &[String]) -> Result<()> {
    let state = State::open(root)?;
    let pg = postgres::ensure_running(&state)?;
    postgres::drop_test_databases(&pg)?;
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

/// Wait until something listens on 127.0.0.1:`port`.
pub fn wait_listening(what: &str, port: u16, timeout: Duration) -> Result<()> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while started.elapsed() < timeout {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "{what} did not listen on {address} within {}s",
        timeout.as_secs()
    )
}

/// Install Debian packages (as root): `apt-get update`, then `apt-get install`.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

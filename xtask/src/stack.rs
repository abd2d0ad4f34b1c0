//! `up`, `down` and `test`: the local stack under `.nova/` (git-ignored).
//!
//! .nova/secrets.env   generated once: Postgres password, router secret
//! .nova/postgres/     the Postgres cluster
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

/// A secret kept in `.nova/secrets.env`, generated on first use.
pub fn secret(state: &State, name: &str) -> Result<String> {
    let path = state.dir.join("secrets.env");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    for line in text.lines() {
        if let Some(value) = line.strip_prefix(&format!("{name}=")) {
            return Ok(value.to_string());
        }
    }
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let value: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    writeln!(file, "{name}={value}")?;
    Ok(value)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn build_binaries(root: &Path) -> Result<PathBuf> {
    let mut command = cargo();
    command
        .current_dir(root)
        .args(["build", "--bin", "nova-router"]);
    for (name, _) in SUBGRAPHS {
        command.args(["--bin", &format!("nova-{name}")]);
    }
    run(&mut command)?;
    Ok(target_dir(root).join("debug"))
}

/// A process `up` runs: name, port, readiness path, environment.
struct Service {
    name: String,
    binary: String,
    port: u16,
    ready_path: &'static str,
    env: Vec<(&'static str, String)>,
}

fn is_alive(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn recorded_pid(state: &State, name: &str) -> Option<u32> {
    std::fs::read_to_string(state.pid_file(name))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The HTTP status of `GET path` on 127.0.0.1:port, if anything answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().ok()?,
        Duration::from_millis(500),
    )
    .ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 16];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn wait_ready(state: &State, service: &Service, timeout: Duration) -> Result<()> {
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

fn start(state: &State, bin_dir: &Path, root: &Path, service: &Service) -> Result<()> {
    if let Some(pid) = recorded_pid(state, &service.name) {
        if is_alive(pid) {
            println!("{} already running (pid {pid})", service.name);
            return Ok(());
        }
    }
    let log_path = state.logs().join(format!("{}.log", service.name));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let child = Command::new(bin_dir.join(&service.binary))
        .current_dir(root)
        .envs(service.env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group, so it outlives `cargo xtask up`.
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {}", service.binary))?;
    std::fs::write(state.pid_file(&service.name), child.id().to_string())?;
    println!(
        "started {} (pid {}, log {})",
        service.name,
        child.id(),
        log_path.display()
    );
    Ok(())
}

/// Every subgraph `up` runs: its name (binary `nova-<name>`, database
/// `nova_<name>`) and port. The router comes after them.
pub const SUBGRAPHS: [(&str, u16); 4] = [
    ("identity", 4001),
    ("users", 4002),
    ("content", 4003),
    ("social", 4004),
];

pub const ROUTER_PORT: u16 = 4000;

fn services(state: &State, pg: &Postgres, root: &Path) -> Result<Vec<Service>> {
    let router_secret = secret(state, "NOVA_ROUTER_SECRET")?;
    let key_path = state.dir.join("identity").join("jwt-ed25519.pem");
    let mut services = Vec::new();
    for (name, port) in SUBGRAPHS {
        let mut env = vec![
            ("DATABASE_URL", pg.url(&format!("nova_{name}"))),
            ("NOVA_ROUTER_SECRET", router_secret.clone()),
            ("RUST_LOG", "info".to_string()),
            ("HTTP_PORT", port.to_string()),
        ];
        if name == "identity" {
            env.push(("JWT_PRIVATE_KEY_PATH", key_path.display().to_string()));
            env.push(("JWT_GENERATE_KEY_IF_MISSING", "true".to_string()));
        }
        services.push(Service {
            name: name.to_string(),
            binary: format!("nova-{name}"),
            port,
            ready_path: "/health/ready",
            env,
        });
    }
    services.push(Service {
        name: "router".to_string(),
        binary: "nova-router".to_string(),
        port: ROUTER_PORT,
        ready_path: "/readiness",
        env: vec![
            (
                "ROUTER_CONFIG_FILE_PATH",
                root.join("router/router.yaml").display().to_string(),
            ),
            ("NOVA_ROUTER_SECRET", router_secret),
        ],
    });
    Ok(services)
}

pub fn up(root: &Path) -> Result<()> {
    let state = State::open(root)?;
    let pg = postgres::ensure_running(&state)?;
    for (name, _) in SUBGRAPHS {
        postgres::ensure_database(&pg, &format!("nova_{name}"))?;
    }
    println!("building the subgraphs and the router");
    let bin_dir = build_binaries(root)?;
    for service in services(&state, &pg, root)? {
        start(&state, &bin_dir, root, &service)?;
        wait_ready(&state, &service, Duration::from_secs(60))?;
    }
    println!();
    println!(
        "Nova is up: router at http://127.0.0.1:{ROUTER_PORT}/graphql (GraphiQL in a browser)"
    );
    println!(
        "logs in {}; stop with `cargo xtask down`",
        state.logs().display()
    );
    Ok(())
}

pub fn down(root: &Path) -> Result<()> {
    let state = State::open(root)?;
    let names = std::iter::once("router").chain(SUBGRAPHS.iter().rev().map(|(name, _)| *name));
    for name in names {
        let Some(pid) = recorded_pid(&state, name) else {
            continue;
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
    }
    postgres::stop(&state)
}

/// Start Postgres, build the binaries the end-to-end tests spawn, run every test.
/// Extra arguments go to `cargo test` (for example a test name filter).
pub fn test(root: &Path, extra: &[String]) -> Result<()> {
    let state = State::open(root)?;
    let pg = postgres::ensure_running(&state)?;
    postgres::drop_test_databases(&pg)?;
    let bin_dir = build_binaries(root)?;
    run(cargo()
        .current_dir(root)
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(extra)
        .env("NOVA_TEST_DATABASE_URL", pg.url("postgres"))
        .env("NOVA_BIN_DIR", &bin_dir)
        .env("NOVA_ROOT", root))
}

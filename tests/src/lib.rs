//! The end-to-end harness: starts the real subgraph and router binaries on free
//! loopback ports against fresh databases, and talks to them over HTTP like a
//! front-end client. `cargo xtask test` provides Postgres (`NOVA_TEST_DATABASE_URL`),
//! the built binaries (`NOVA_BIN_DIR`) and the Kafka broker binary (`NOVA_TANSU_BIN`);
//! every stack runs its own broker, so a test may stop and restart it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nova_registry::auth::hash_token;
use serde_json::{json, Value};
use sqlx::Connection;

pub mod forge;
pub mod live;

/// The subgraphs every stack runs, as named in supergraph.yaml.
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

/// chat's MESSAGE_ENCRYPTION_MASTER_KEY in tests (32 bytes, base64).
pub const TEST_MESSAGE_KEY: &str = "bm92YS10ZXN0LW1lc3NhZ2Uta2V5LTMyLWJ5dGVzISE=";

/// The password of users made by `Stack::register` and `Stack::sign_up`.
pub const TEST_PASSWORD: &str = "a long enough password";

pub const ISSUER: &str = "nova-identity-test";
pub const AUDIENCE: &str = "nova-test";

pub fn required_env(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| {
        format!("{name} is not set: run the end-to-end tests with `cargo xtask test`")
    })
}

/// A loopback port that is free now. Chosen below Linux's ephemeral range
/// (32768+), so outgoing connections cannot take it between this check and the
/// server's bind; never the same port twice in one test process.
fn free_port() -> u16 {
    use rand::Rng;
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().expect("port list lock");
    loop {
        let port = rand::thread_rng().gen_range(20_000..32_000);
        if handed_out.contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.push(port);
            return port;
        }
    }
}

fn port_was_taken(error: &anyhow::Error) -> bool {
    let text = format!("{error:#}");
    text.contains("AddrInUse") || text.contains("Address already in use")
}

/// A running process that is killed when dropped.
struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One running subgraph of a stack.
struct Subgraph {
    name: &'static str,
    /// Base URL (`http://127.0.0.1:<port>`).
    url: String,
    database: String,
    env: Vec<(String, String)>,
}

/// Starts the stack's binaries with their logs in the stack's folder.
struct Launcher {
    bin_dir: PathBuf,
    root: PathBuf,
    state_dir: PathBuf,
}

impl Launcher {
    fn spawn(&self, name: &'static str, command: &mut Command) -> Result<Process> {
        let log = self.state_dir.join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {:?}", command.get_program()))?;
        Ok(Process { name, child, log })
    }

    fn spawn_nova(&self, name: &'static str, env: &[(String, String)]) -> Result<Process> {
        self.spawn_nova_as(name, name, env)
    }

    /// Start binary `nova-<binary>` as process `name`.
    fn spawn_nova_as(
        &self,
        name: &'static str,
        binary: &str,
        env: &[(String, String)],
    ) -> Result<Process> {
        let mut command = Command::new(self.bin_dir.join(format!("nova-{binary}")));
        command
            .current_dir(&self.root)
            .envs(env.iter().map(|(k, v)| (k, v)));
        self.spawn(name, &mut command)
    }
}

/// Generous limits for every stack (tests sign many users up from one address);
/// rate-limit tests set their own on top.
const ROUTER_TEST_LIMITS: [(&str, &str); 6] = [
    ("NOVA_RATE_LIMIT_USER_BURST", "100000"),
    ("NOVA_RATE_LIMIT_USER_PER_SECOND", "100000"),
    ("NOVA_RATE_LIMIT_ANONYMOUS_BURST", "100000"),
    ("NOVA_RATE_LIMIT_ANONYMOUS_PER_SECOND", "100000"),
    ("NOVA_RATE_LIMIT_CREDENTIALS_BURST", "100000"),
    ("NOVA_RATE_LIMIT_CREDENTIALS_PER_SECOND", "100000"),
];

/// The stack's own Redis (the router's rate limits), nothing kept on disk.
struct Redis {
    port: u16,
    server: PathBuf,
}

impl Redis {
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn start(&self, launcher: &Launcher) -> Result<Process> {
        let mut command = Command::new(&self.server);
        command
            .current_dir(&launcher.state_dir)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"]);
        let process = launcher.spawn("redis", &mut command)?;
        wait_listening(self.port)?;
        Ok(process)
    }
}

/// Wait until something listens on 127.0.0.1:`port`.
fn wait_listening(port: u16) -> Result<()> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            bail!("nothing listened on {address}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The stack's own Kafka broker (tansu, SQLite log `kafka.db` in the stack's
/// folder).
struct Broker {
    port: u16,
    tansu: PathBuf,
}

impl Broker {
    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn start(&self, launcher: &Launcher) -> Result<Process> {
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let mut command = Command::new(&self.tansu);
        command
            // tansu reads a sqlite:// path relative to its working directory.
            .current_dir(&launcher.state_dir)
            .arg("broker")
            .args(["--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            .args(["--storage-engine", "sqlite://kafka.db"])
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        let process = launcher.spawn("kafka", &mut command)?;
        wait_listening(self.port)?;
        Ok(process)
    }
}

/// Every subgraph and the router, each on its own port.
pub struct Stack {
    pub router_url: String,
    subgraphs: Vec<Subgraph>,
    pub router_secret: String,
    /// The admin URL the stack's databases were created with.
    pub admin_url: String,
    /// The identity's signing key (PKCS#8 PEM), for tests that forge tokens.
    pub signing_key_pem: String,
    pub http: reqwest::Client,
    processes: Vec<Process>,
    launcher: Launcher,
    broker: Broker,
    redis: Redis,
    router_env: Vec<(String, String)>,
    run_id: String,
    _state: TempDir,
}

/// A schema registry started by `Stack::start_registry`.
pub struct Registry {
    /// Base URL (`http://127.0.0.1:<port>`).
    pub url: String,
    pub operator_token: String,
    pub read_token: String,
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn create_database(admin_url: &str, name: &str) -> Result<String> {
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .context("connecting to NOVA_TEST_DATABASE_URL")?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await?;
    Ok(database_url(admin_url, name))
}

/// The URL of database `name` on the cluster of `admin_url`.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map(|(b, q)| (b, format!("?{q}")))
        .unwrap_or((admin_url, String::new()));
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    format!("{base}/{name}{query}")
}

impl Stack {
    /// Start a stack; if a port was taken between choosing and binding it (another
    /// program on this machine), start again on new ports.
    pub async fn start() -> Result<Self> {
        Self::start_with_router_env(&[]).await
    }

    /// Start a stack whose router gets `router_env` on top of the usual settings
    /// (`NOVA_SAFELIST=true`, a limit, ...).
    pub async fn start_with_router_env(router_env: &[(&str, &str)]) -> Result<Self> {
        let mut attempt = 1;
        loop {
            match Self::start_once(router_env).await {
                Err(error) if attempt < 3 && port_was_taken(&error) => {
                    eprintln!("a port was taken during start; retrying: {error}");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_once(extra_router_env: &[(&str, &str)]) -> Result<Self> {
        let admin_url = required_env("NOVA_TEST_DATABASE_URL")?;
        let bin_dir = PathBuf::from(required_env("NOVA_BIN_DIR")?);
        let root = PathBuf::from(required_env("NOVA_ROOT")?);
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let run_id = &run_id[..12];
        let state = std::env::temp_dir().join(format!("nova-e2e-{run_id}"));
        std::fs::create_dir_all(&state)?;
        let state = TempDir(state);

        let router_secret = format!("test-secret-{run_id}-0123456789abcdef");
        let key_path = state.0.join("jwt.pem");
        let router_port = free_port();

        let launcher = Launcher {
            bin_dir,
            root: root.clone(),
            state_dir: state.0.clone(),
        };
        let broker = Broker {
            port: free_port(),
            tansu: PathBuf::from(required_env("NOVA_TANSU_BIN")?),
        };
        let redis = Redis {
            port: free_port(),
            server: PathBuf::from(required_env("NOVA_REDIS_SERVER_BIN")?),
        };
        let mut processes = vec![broker.start(&launcher)?, redis.start(&launcher)?];
        let mut subgraphs = Vec::new();
        for name in SUBGRAPHS {
            let database = format!("nova_t_{run_id}_{name}");
            let database_url = create_database(&admin_url, &database).await?;
            let port = free_port();
            let mut env = vec![
                ("HTTP_PORT", port.to_string()),
                ("DATABASE_URL", database_url),
                ("NOVA_ROUTER_SECRET", router_secret.clone()),
                ("KAFKA_BROKERS", broker.brokers()),
                // Short, so a consumer restarted by a fault test gets its
                // partitions back quickly.
                ("KAFKA_SESSION_TIMEOUT_MS", "6000".into()),
                ("KAFKA_MAX_POLL_INTERVAL_MS", "10000".into()),
            ];
            if name == "chat" || name == "notifications" || name == "feed" {
                env.push(("REDIS_URL", redis.url()));
            }
            // The owners it asks directly (nova_core::internal; started before it).
            for (_, variable, owner) in nova_core::internal::CALLS.iter().filter(|c| c.0 == name) {
                let owner = subgraphs
                    .iter()
                    .find(|s: &&Subgraph| s.name == *owner)
                    .context("owners start before the subgraphs that ask them")?;
                env.push((*variable, owner.url.clone()));
            }
            if name == "search" {
                let path = state.0.join("search-index");
                env.push(("SEARCH_INDEX_PATH", path.display().to_string()));
            }
            if name == "chat" {
                env.push(("MESSAGE_ENCRYPTION_MASTER_KEY", TEST_MESSAGE_KEY.into()));
            }
            if name == "identity" {
                env.push(("JWT_PRIVATE_KEY_PATH", key_path.display().to_string()));
                env.push(("JWT_GENERATE_KEY_IF_MISSING", "true".into()));
                env.push(("JWT_ISSUER", ISSUER.into()));
                env.push(("JWT_AUDIENCE", AUDIENCE.into()));
            }
            let env: Vec<(String, String)> =
                env.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            processes.push(launcher.spawn_nova(name, &env)?);
            let url = format!("http://127.0.0.1:{port}");
            subgraphs.push(Subgraph {
                name,
                url,
                database,
                env,
            });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            // Hive closes idle connections after 5 s (`traffic_shaping.router.
            // keep_alive`); a pooled connection reused just as the router closes
            // it fails with IncompleteMessage, so the client lets go first.
            .pool_idle_timeout(Duration::from_secs(2))
            .build()?;
        let mut stack = Stack {
            router_url: format!("http://127.0.0.1:{router_port}/graphql"),
            subgraphs,
            router_secret: router_secret.clone(),
            admin_url: admin_url.clone(),
            signing_key_pem: String::new(),
            http,
            processes,
            launcher,
            broker,
            redis,
            router_env: Vec::new(),
            run_id: run_id.to_string(),
            _state: state,
        };
        let ready_urls: Vec<String> = stack
            .subgraphs
            .iter()
            .map(|s| format!("{}/health/ready", s.url))
            .collect();
        for url in ready_urls {
            stack.wait_ready(&url).await?;
        }
        stack.signing_key_pem = std::fs::read_to_string(&key_path)?;

        // NOVA_IDENTITY_URL, NOVA_USERS_URL, ... as router/router.yaml reads them.
        let url_variables: Vec<(String, String)> = stack
            .subgraphs
            .iter()
            .map(|s| {
                (
                    format!("NOVA_{}_URL", s.name.to_uppercase()),
                    format!("{}/graphql", s.url),
                )
            })
            .collect();
        let mut router_env: Vec<(&str, String)> = vec![
            (
                "ROUTER_CONFIG_FILE_PATH",
                root.join("router/router.yaml").display().to_string(),
            ),
            ("NOVA_ROUTER_PORT", router_port.to_string()),
            (
                "NOVA_SUPERGRAPH_PATH",
                root.join("schema/supergraph.graphql").display().to_string(),
            ),
            (
                "NOVA_JWKS_URL",
                format!("{}/.well-known/jwks.json", stack.subgraph_url("identity")),
            ),
            ("NOVA_ROUTER_SECRET", router_secret),
            ("JWT_ISSUER", ISSUER.into()),
            ("JWT_AUDIENCE", AUDIENCE.into()),
            ("NOVA_GRAPHIQL", "false".into()),
            ("REDIS_URL", stack.redis.url()),
        ];
        router_env.extend(ROUTER_TEST_LIMITS.iter().map(|(k, v)| (*k, v.to_string())));
        router_env.extend(url_variables.iter().map(|(k, v)| (k.as_str(), v.clone())));
        router_env.extend(extra_router_env.iter().map(|(k, v)| (*k, v.to_string())));
        let router_env: Vec<(String, String)> = router_env
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let router = stack.launcher.spawn_nova("router", &router_env)?;
        stack.router_env = router_env;
        stack.processes.push(router);
        stack
            .wait_ready(&format!("http://127.0.0.1:{router_port}/readiness"))
            .await?;
        Ok(stack)
    }

    async fn wait_ready(&mut self, url: &str) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(response) = self.http.get(url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            for process in &mut self.processes {
                if let Ok(Some(status)) = process.child.try_wait() {
                    let log = std::fs::read_to_string(&process.log).unwrap_or_default();
                    bail!("{} exited with {status} during start:\n{log}", process.name);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("{url} was not ready within 60s\n{}", self.logs())
    }

    /// REDIS_URL of this stack's Redis.
    pub fn redis_url(&self) -> String {
        self.redis.url()
    }

    /// KAFKA_BROKERS of this stack's broker.
    pub fn kafka_brokers(&self) -> String {
        self.broker.brokers()
    }

    fn take_process(&mut self, name: &str) -> Option<Process> {
        let index = self.processes.iter().position(|p| p.name == name)?;
        Some(self.processes.remove(index))
    }

    /// Start a second router replica with the first one's settings (same
    /// subgraphs, same Redis); returns its `/graphql` URL.
    pub async fn start_second_router(&mut self) -> Result<String> {
        self.start_router_replica("router-2", &[]).await
    }

    /// Start another router as process `process_name` with the first one's
    /// settings and `overrides` on top (`NOVA_CHAT_URL` to send it to another
    /// chat instance, ...); returns its `/graphql` URL.
    pub async fn start_router_replica(
        &mut self,
        process_name: &'static str,
        overrides: &[(&str, &str)],
    ) -> Result<String> {
        let port = free_port();
        let mut env = self.router_env.clone();
        env.push(("NOVA_ROUTER_PORT".into(), port.to_string()));
        env.extend(
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let process = self.launcher.spawn_nova_as(process_name, "router", &env)?;
        self.processes.push(process);
        self.wait_ready(&format!("http://127.0.0.1:{port}/readiness"))
            .await?;
        Ok(format!("http://127.0.0.1:{port}/graphql"))
    }

    /// The stack's own folder (logs, keys, files a test writes).
    pub fn state_dir(&self) -> &std::path::Path {
        &self.launcher.state_dir
    }

    /// Start a schema registry on its own database (process `registry`), with
    /// one operator and one read token.
    pub async fn start_registry(&mut self) -> Result<Registry> {
        let database = format!("nova_t_{}_registry", self.run_id);
        let database_url = create_database(&self.admin_url, &database).await?;
        let port = free_port();
        let registry = Registry {
            url: format!("http://127.0.0.1:{port}"),
            operator_token: format!("operator-{}", self.run_id),
            read_token: format!("reader-{}", self.run_id),
        };
        let env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), database_url),
            ("HTTP_PORT".into(), port.to_string()),
            (
                "NOVA_REGISTRY_TOKENS".into(),
                format!(
                    "ops:operator:{},routers:read:{}",
                    hash_token(&registry.operator_token),
                    hash_token(&registry.read_token)
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

    /// Write the registry's current supergraph to `out` and keep it current
    /// with `nova supergraph sync` (process `supergraph-sync`), as beside a router.
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
            .arg(out);
        let process = self.launcher.spawn("supergraph-sync", &mut sync)?;
        self.processes.push(process);
        Ok(())
    }

    /// Start another instance of subgraph `name` (same database, broker and
    /// Redis) as process `process_name`; returns its base URL.
    pub async fn start_subgraph_instance(
        &mut self,
        name: &str,
        process_name: &'static str,
    ) -> Result<String> {
        self.start_subgraph_instance_with(name, process_name, &[])
            .await
    }

    /// `start_subgraph_instance` with `extra_env` on top of the first's settings.
    pub async fn start_subgraph_instance_with(
        &mut self,
        name: &str,
        process_name: &'static str,
        extra_env: &[(&str, &str)],
    ) -> Result<String> {
        let port = free_port();
        let subgraph = self.subgraph(name);
        let mut env = subgraph.env.clone();
        env.push(("HTTP_PORT".into(), port.to_string()));
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let process = self
            .launcher
            .spawn_nova_as(process_name, subgraph.name, &env)?;
        self.processes.push(process);
        let url = format!("http://127.0.0.1:{port}");
        self.wait_ready(&format!("{url}/health/ready")).await?;
        Ok(url)
    }

    /// Kill the stack's Redis (the rate limits' store).
    pub fn stop_redis(&mut self) {
        drop(self.take_process("redis"));
    }

    /// Stop the broker (SIGTERM, as an operator's restart would); its log stays
    /// for `start_broker`.
    pub fn stop_broker(&mut self) {
        self.terminate("kafka");
    }

    /// Stop process `name` as an operator would: SIGTERM, up to 10 s to exit,
    /// then SIGKILL (when the `Process` drops).
    pub fn terminate(&mut self, name: &str) {
        if let Some(mut process) = self.take_process(name) {
            let _ = Command::new("kill")
                .arg(process.child.id().to_string())
                .status();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = process.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Start the broker again on the same port and log.
    pub fn start_broker(&mut self) -> Result<()> {
        let process = self.broker.start(&self.launcher)?;
        self.processes.push(process);
        Ok(())
    }

    /// Stop a subgraph (if it runs) and start it again with `extra_env` added;
    /// waits until it is ready.
    pub async fn restart_subgraph(&mut self, name: &str, extra_env: &[(&str, &str)]) -> Result<()> {
        // Gracefully, so its consumers leave their groups rather than linger
        // until the session timeout (tansu did not always rebalance past a
        // killed member).
        self.terminate(name);
        let subgraph = self.subgraph(name);
        let (name, url) = (subgraph.name, subgraph.url.clone());
        let mut env = subgraph.env.clone();
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let process = self.launcher.spawn_nova(name, &env)?;
        self.processes.push(process);
        self.wait_ready(&format!("{url}/health/ready")).await
    }

    /// Wait for a process of the stack to exit on its own; its exit code.
    pub async fn wait_for_exit(&mut self, name: &str, timeout: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            let process = self.processes.iter_mut().find(|p| p.name == name)?;
            if let Ok(Some(status)) = process.child.try_wait() {
                self.take_process(name);
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// The value of one sample of a subgraph's /metrics, matched by its name and
    /// labels as printed (`name{label="value",...}`), or 0 when absent.
    pub async fn metric(&self, subgraph: &str, sample: &str) -> f64 {
        self.metric_at(self.subgraph_url(subgraph), sample).await
    }

    /// `metric` of the instance at `base_url` (a second instance of a subgraph).
    pub async fn metric_at(&self, base_url: &str, sample: &str) -> f64 {
        let (_, text) = self.get(&format!("{base_url}/metrics")).await;
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .find(|line| {
                line.rsplit_once(' ')
                    .is_some_and(|(name, _)| sample_matches(name, sample))
            })
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0.0)
    }

    /// The URL of a subgraph's database.
    pub fn database_url(&self, subgraph: &str) -> String {
        database_url(&self.admin_url, self.database(subgraph))
    }

    /// Connect to a subgraph's database (to look at what it stored).
    pub async fn connect(&self, subgraph: &str) -> Result<sqlx::PgConnection> {
        Ok(sqlx::PgConnection::connect(&self.database_url(subgraph)).await?)
    }

    /// `GET url`: the status and the body text.
    pub async fn get(&self, url: &str) -> (u16, String) {
        let response = self.http.get(url).send().await.expect("the server answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Run one SQL statement as the test cluster's superuser.
    pub async fn admin_sql(&self, sql: &str) -> Result<()> {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::query(sql).execute(&mut admin).await?;
        Ok(())
    }

    /// Register `username` (email `<username>@example.com`); returns the user id.
    pub async fn register(&self, username: &str) -> String {
        let registered = self
            .graphql(
                None,
                "mutation($e: String!, $u: String!, $p: String!) { register(email: $e, username: $u, password: $p) { id } }",
                json!({ "e": format!("{username}@example.com"), "u": username, "p": TEST_PASSWORD }),
            )
            .await;
        registered.expect_ok()["register"]["id"]
            .as_str()
            .expect("an id")
            .to_string()
    }

    /// Register and log in a user named `username`; returns (user id, access token).
    pub async fn sign_up(&self, username: &str) -> (String, String) {
        let id = self.register(username).await;
        let login = self
            .graphql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                json!({ "e": format!("{username}@example.com"), "p": TEST_PASSWORD }),
            )
            .await;
        let token = login.expect_ok()["login"]["accessToken"]
            .as_str()
            .expect("a token")
            .to_string();
        (id, token)
    }

    /// `nova_sql_statements_total` of one subgraph, from its /metrics.
    pub async fn sql_statements(&self, subgraph: &str) -> u64 {
        let (_, text) = self
            .get(&format!("{}/metrics", self.subgraph_url(subgraph)))
            .await;
        text.lines()
            .find(|line| line.starts_with("nova_sql_statements_total"))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no nova_sql_statements_total in:\n{text}"))
    }

    fn subgraph(&self, name: &str) -> &Subgraph {
        self.subgraphs
            .iter()
            .find(|s| s.name == name)
            .expect("a subgraph this stack runs")
    }

    /// A subgraph's base URL (`http://127.0.0.1:<port>`).
    pub fn subgraph_url(&self, name: &str) -> &str {
        &self.subgraph(name).url
    }

    /// The name of a subgraph's database.
    pub fn database(&self, name: &str) -> &str {
        &self.subgraph(name).database
    }

    /// Every process's log, for a failing assertion's message.
    pub fn logs(&self) -> String {
        self.processes
            .iter()
            .map(|p| {
                format!(
                    "--- {} ---\n{}",
                    p.name,
                    std::fs::read_to_string(&p.log).unwrap_or_default()
                )
            })
            .collect()
    }

    /// POST a GraphQL operation to the router, with an optional bearer token.
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Response {
        let mut request = self
            .http
            .post(&self.router_url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Response::from(request.send().await.expect("the router answers")).await
    }
}

/// Poll `check` until it holds or `seconds` pass.
pub async fn eventually<F, Fut>(seconds: u64, what: &str, stack: &Stack, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what} did not happen within {seconds}s\n{}", stack.logs());
}

/// Whether a printed sample name (`name{a="1",service="x"}`) is `wanted`, which
/// names some of its labels (`name{a="1"}`) or none (`name`).
fn sample_matches(printed: &str, wanted: &str) -> bool {
    let (printed_name, printed_labels) = printed.split_once('{').unwrap_or((printed, ""));
    let (wanted_name, wanted_labels) = wanted.split_once('{').unwrap_or((wanted, ""));
    if printed_name != wanted_name {
        return false;
    }
    let printed_labels: Vec<&str> = printed_labels.trim_end_matches('}').split(',').collect();
    wanted_labels
        .trim_end_matches('}')
        .split(',')
        .filter(|l| !l.is_empty())
        .all(|l| printed_labels.contains(&l))
}

/// The `extensions.code` of each error of a GraphQL `errors` list, in order.
pub fn error_codes(errors: &Value) -> Vec<String> {
    errors
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// An HTTP status and the GraphQL response body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Value,
}

impl Response {
    pub async fn from(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Self { status, body }
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The `extensions.code` of every error, in order.
    pub fn error_codes(&self) -> Vec<String> {
        error_codes(&self.body["errors"])
    }

    /// Panics with the whole body unless there are no errors.
    pub fn expect_ok(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none_or(|e| e.is_null()),
            "unexpected errors: {:#}",
            self.body
        );
        self.data()
    }
}

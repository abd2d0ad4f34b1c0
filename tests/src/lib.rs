//! The end-to-end harness: starts the real subgraph and router binaries on free
//! loopback ports against fresh databases, and talks to them over HTTP like a
//! front-end client. `cargo xtask test` provides Postgres (`NOVA_TEST_DATABASE_URL`),
//! the built binaries (`NOVA_BIN_DIR`) and the Kafka broker binary (`NOVA_TANSU_BIN`);
//! every stack runs its own broker, so a test may stop and restart it.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

mod accounts;
pub mod forge;
pub mod live;
mod mail;
mod operate;
pub mod otlp;
pub mod own_postgres;
mod processes;
pub mod realtime;
pub mod registry_ops;
mod response;
mod topics;
mod uploads;

pub use mail::reset_token_in;
use processes::{
    create_database, free_port, port_was_taken, Broker, ClickHouse, Launcher, Process, Redis, Smtp,
    Subgraph, TempDir, TestDatabases, S3,
};
pub use response::{error_codes, eventually, Response};
pub use uploads::{phone_photo, Intent};

/// The subgraphs every stack runs, in start order, as supergraph.yaml lists them.
pub fn subgraphs() -> &'static [String] {
    static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
        // At run time (cargo test sets it): the test binary may have been built
        // in another clone sharing the target directory.
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
        let root = Path::new(&manifest_dir).join("..");
        nova_schema::supergraph_config::read(&root)
            .unwrap_or_else(|error| panic!("{error}"))
            .into_iter()
            .map(|subgraph| subgraph.name)
            .collect()
    });
    &NAMES
}

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

/// A new, empty database on the test cluster (`NOVA_TEST_DATABASE_URL`), named
/// like a stack's so `cargo xtask test` drops it on its next run: its URL.
pub async fn scratch_database(hint: &str) -> Result<String> {
    let admin_url = required_env("NOVA_TEST_DATABASE_URL")?;
    let name = format!("nova_t_{}_{hint}", uuid::Uuid::now_v7().simple());
    create_database(&admin_url, &name).await
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
    /// After `processes`: fields drop in order, so the databases go once nothing uses them.
    databases: TestDatabases,
    launcher: Launcher,
    broker: Broker,
    redis: Redis,
    smtp: Smtp,
    s3: S3,
    clickhouse: ClickHouse,
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
    /// Role `report`: what a router sends usage reports with (HIVE_ACCESS_TOKEN).
    pub report_token: String,
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
        Self::start_with_env(router_env, &[]).await
    }

    /// Start a stack whose router gets `router_env` and whose every process (the
    /// router and each subgraph) gets `every_env` on top of the usual settings.
    pub async fn start_with_env(
        router_env: &[(&str, &str)],
        every_env: &[(&str, &str)],
    ) -> Result<Self> {
        let admin_url = required_env("NOVA_TEST_DATABASE_URL")?;
        Self::start_on(&admin_url, router_env, every_env).await
    }

    /// Start a stack whose databases are created through `admin_url` (a cluster
    /// of the test's own, which it may restart) rather than the shared one.
    pub async fn start_on(
        admin_url: &str,
        router_env: &[(&str, &str)],
        every_env: &[(&str, &str)],
    ) -> Result<Self> {
        let mut attempt = 1;
        loop {
            match Self::start_once(admin_url, router_env, every_env).await {
                Err(error) if attempt < 3 && port_was_taken(&error) => {
                    eprintln!("a port was taken during start; retrying: {error}");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_once(
        admin_url: &str,
        extra_router_env: &[(&str, &str)],
        every_env: &[(&str, &str)],
    ) -> Result<Self> {
        let admin_url = admin_url.to_string();
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
        let smtp = Smtp {
            port: free_port(),
            python: PathBuf::from(required_env("NOVA_SMTP_PYTHON")?),
            maildir: state.0.join("mail"),
        };
        let s3 = S3 {
            port: free_port(),
            server: PathBuf::from(required_env("NOVA_S3_SERVER_BIN")?),
            folder: state.0.join("s3"),
            access_key: format!("test-access-{run_id}"),
            secret_key: format!("test-secret-key-{run_id}"),
        };
        let clickhouse = ClickHouse {
            port: free_port(),
            tcp_port: free_port(),
            server: PathBuf::from(required_env("NOVA_CLICKHOUSE_SERVER_BIN")?),
        };
        let mut processes = vec![
            broker.start(&launcher)?,
            redis.start(&launcher)?,
            smtp.start(&launcher)?,
            s3.start(&launcher)?,
            clickhouse.start(&launcher)?,
        ];
        let mut databases = TestDatabases::new(&admin_url);
        let mut subgraphs = Vec::new();
        // Every port first: an internal call's owner may start after its caller
        // (content asks social, which starts later), as calls come at request time.
        let ports: Vec<(&str, u16)> = crate::subgraphs()
            .iter()
            .map(|name| (name.as_str(), free_port()))
            .collect();
        for &(name, port) in &ports {
            let database = format!("nova_t_{run_id}_{name}");
            let database_url = databases.create(&database).await?;
            let mut env = vec![
                ("HTTP_PORT", port.to_string()),
                ("DATABASE_URL", database_url),
                ("NOVA_ROUTER_SECRET", router_secret.clone()),
                ("KAFKA_BROKERS", broker.brokers()),
                (
                    "KAFKA_TOPIC_PARTITIONS",
                    nova_core::events::kafka::LOCAL_BROKER_PARTITIONS.to_string(),
                ),
                // Short, so a consumer restarted by a fault test gets its
                // partitions back quickly.
                ("KAFKA_SESSION_TIMEOUT_MS", "6000".into()),
                ("KAFKA_MAX_POLL_INTERVAL_MS", "10000".into()),
            ];
            if nova_core::live::SUBGRAPHS_WITH_REDIS.contains(&name) {
                env.push(("REDIS_URL", redis.url()));
            }
            // The owners it asks directly (nova_core::internal; started before it).
            for (_, variable, owner) in nova_core::internal::CALLS.iter().filter(|c| c.0 == name) {
                let (_, owner_port) = ports
                    .iter()
                    .find(|(subgraph, _)| subgraph == owner)
                    .context("an internal call's owner is a subgraph")?;
                env.push((*variable, format!("http://127.0.0.1:{owner_port}")));
            }
            if name == "search" {
                let path = state.0.join("search-index");
                env.push(("SEARCH_INDEX_PATH", path.display().to_string()));
            }
            if name == "media" {
                env.extend(s3.env());
            }
            if name == "analytics" {
                env.push(("CLICKHOUSE_URL", clickhouse.url()));
            }
            if name == "chat" {
                env.push(("MESSAGE_ENCRYPTION_MASTER_KEY", TEST_MESSAGE_KEY.into()));
            }
            if name == "identity" {
                env.push(("JWT_PRIVATE_KEY_PATH", key_path.display().to_string()));
                env.push(("JWT_GENERATE_KEY_IF_MISSING", "true".into()));
                env.push(("JWT_ISSUER", ISSUER.into()));
                env.push(("JWT_AUDIENCE", AUDIENCE.into()));
                env.extend(smtp.env());
            }
            env.extend(every_env.iter().map(|(k, v)| (*k, v.to_string())));
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
            databases,
            launcher,
            broker,
            redis,
            smtp,
            s3,
            clickhouse,
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
        router_env.extend(every_env.iter().map(|(k, v)| (*k, v.to_string())));
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
}

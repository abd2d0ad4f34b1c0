//! The processes a test stack runs (subgraphs, router, Redis, the Kafka broker)
//! and the folders and databases it makes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sqlx::Connection;

/// A loopback port that is free now. Chosen below Linux's ephemeral range
/// (32768+), so outgoing connections cannot take it between this check and the
/// server's bind; never the same port twice in one test process.
pub(crate) fn free_port() -> u16 {
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

pub(crate) fn port_was_taken(error: &anyhow::Error) -> bool {
    let text = format!("{error:#}");
    text.contains("AddrInUse") || text.contains("Address already in use")
}

/// A running process that is killed when dropped.
pub(crate) struct Process {
    pub(crate) name: &'static str,
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One running subgraph of a stack.
pub(crate) struct Subgraph {
    pub(crate) name: &'static str,
    /// Base URL (`http://127.0.0.1:<port>`).
    pub(crate) url: String,
    pub(crate) database: String,
    pub(crate) env: Vec<(String, String)>,
}

/// Starts the stack's binaries with their logs in the stack's folder.
pub(crate) struct Launcher {
    pub(crate) bin_dir: PathBuf,
    pub(crate) root: PathBuf,
    pub(crate) state_dir: PathBuf,
}

impl Launcher {
    pub(crate) fn spawn(&self, name: &'static str, command: &mut Command) -> Result<Process> {
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

    pub(crate) fn spawn_nova(
        &self,
        name: &'static str,
        env: &[(String, String)],
    ) -> Result<Process> {
        self.spawn_nova_as(name, name, env)
    }

    /// Start binary `nova-<binary>` as process `name`.
    pub(crate) fn spawn_nova_as(
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

/// The stack's own Redis (the router's rate limits), nothing kept on disk.
pub(crate) struct Redis {
    pub(crate) port: u16,
    pub(crate) server: PathBuf,
}

impl Redis {
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub(crate) fn start(&self, launcher: &Launcher) -> Result<Process> {
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

/// The stack's own SMTP server (aiosmtpd from Debian's python3-aiosmtpd), keeping
/// each message it receives in a Maildir in the stack's folder.
pub(crate) struct Smtp {
    pub(crate) port: u16,
    pub(crate) python: PathBuf,
    pub(crate) maildir: PathBuf,
}

impl Smtp {
    pub(crate) fn start(&self, launcher: &Launcher) -> Result<Process> {
        let mut command = Command::new(&self.python);
        command
            .current_dir(&launcher.state_dir)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.maildir);
        let process = launcher.spawn("smtp", &mut command)?;
        wait_listening(self.port)?;
        Ok(process)
    }

    /// identity's settings for this server.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SMTP_HOST", "127.0.0.1".into()),
            ("SMTP_PORT", self.port.to_string()),
            ("SMTP_TLS", "none".into()),
            ("SMTP_FROM_EMAIL", "Nova <nova@localhost>".into()),
        ]
    }
}

/// The stack's own S3 store (s3s-fs, which checks signatures and expiry),
/// keeping objects in the stack's folder; media creates its bucket at start.
pub(crate) struct S3 {
    pub(crate) port: u16,
    pub(crate) server: PathBuf,
    pub(crate) folder: PathBuf,
    pub(crate) access_key: String,
    pub(crate) secret_key: String,
}

/// The bucket media uses in test stacks.
pub(crate) const S3_BUCKET: &str = "nova-media";

impl S3 {
    pub(crate) fn start(&self, launcher: &Launcher) -> Result<Process> {
        std::fs::create_dir_all(&self.folder)?;
        let mut command = Command::new(&self.server);
        command
            .current_dir(&launcher.state_dir)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", &self.access_key])
            .args(["--secret-key", &self.secret_key])
            .arg(&self.folder);
        let process = launcher.spawn("s3", &mut command)?;
        wait_listening(self.port)?;
        Ok(process)
    }

    /// media's settings for this store.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("S3_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("S3_FORCE_PATH_STYLE", "true".into()),
            ("S3_CREATE_BUCKET", "true".into()),
            ("S3_BUCKET", S3_BUCKET.into()),
            ("S3_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.clone()),
        ]
    }
}

/// Wait until something listens on 127.0.0.1:`port`.
pub(crate) fn wait_listening(port: u16) -> Result<()> {
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
pub(crate) struct Broker {
    pub(crate) port: u16,
    pub(crate) tansu: PathBuf,
}

impl Broker {
    pub(crate) fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(crate) fn start(&self, launcher: &Launcher) -> Result<Process> {
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

/// The stack's own ClickHouse (analytics' events), its data in the stack's
/// folder (kept across a stop and start), configured by `nova_devdb::clickhouse`.
pub(crate) struct ClickHouse {
    /// HTTP; the native protocol listens on `tcp_port`.
    pub(crate) port: u16,
    pub(crate) tcp_port: u16,
    pub(crate) server: PathBuf,
}

impl ClickHouse {
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn start(&self, launcher: &Launcher) -> Result<Process> {
        let folder = launcher.state_dir.join("clickhouse");
        let config = nova_devdb::clickhouse::write_config(&folder, self.port, self.tcp_port)?;
        let mut command = Command::new(&self.server);
        command
            .current_dir(&folder)
            .arg(format!("--config-file={}", config.display()));
        let process = launcher.spawn("clickhouse", &mut command)?;
        wait_listening(self.port)?;
        Ok(process)
    }
}

/// A directory removed when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) async fn create_database(admin_url: &str, name: &str) -> Result<String> {
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .context("connecting to NOVA_TEST_DATABASE_URL")?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await?;
    Ok(database_url(admin_url, name))
}

/// The databases a stack created, dropped with it. A stack makes one per
/// subgraph, so a whole test run made two thousand (about 8 MB each): left for
/// the next run's cleanup, they filled a CI machine's disk.
pub(crate) struct TestDatabases {
    admin_url: String,
    names: Vec<String>,
}

impl TestDatabases {
    pub(crate) fn new(admin_url: &str) -> Self {
        Self {
            admin_url: admin_url.to_string(),
            names: Vec::new(),
        }
    }

    /// A new, empty database `name`, dropped with this owner: its URL.
    pub(crate) async fn create(&mut self, name: &str) -> Result<String> {
        let url = create_database(&self.admin_url, name).await?;
        self.names.push(name.to_string());
        Ok(url)
    }
}

impl Drop for TestDatabases {
    fn drop(&mut self) {
        if self.names.is_empty() {
            return;
        }
        let admin_url = self.admin_url.clone();
        let names = std::mem::take(&mut self.names);
        // Dropped inside the test's runtime, which cannot block on a future:
        // a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || -> Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(drop_databases(&admin_url, &names))
        })
        .join();
        // A test that stopped its own cluster takes the databases with its
        // folder; anything else is left to `cargo xtask test`'s next cleanup.
        if let Ok(Err(error)) = dropped {
            eprintln!("the stack's databases were not dropped: {error:#}");
        }
    }
}

async fn drop_databases(admin_url: &str, names: &[String]) -> Result<()> {
    let connect = sqlx::PgConnection::connect(admin_url);
    let mut admin = tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .context("connecting to drop the stack's databases timed out")??;
    for name in names {
        // FORCE: a process killed a moment ago may not have closed its sessions yet.
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
    }
    Ok(())
}

/// The URL of database `name` on the cluster of `admin_url`.
pub(crate) fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map(|(b, q)| (b, format!("?{q}")))
        .unwrap_or((admin_url, String::new()));
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    format!("{base}/{name}{query}")
}

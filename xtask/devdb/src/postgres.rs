//! A PostgreSQL cluster of Nova's own under `.nova/postgres`, from Debian's
//! packages, listening on 127.0.0.1 only. As root the server runs as the
//! `postgres` system user (Postgres refuses to run as root).

use std::future::Future;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use sqlx::{Connection, PgConnection};

use crate::cluster::{is_root, Cluster};
use crate::{secret, write_secret_file, State};

pub const DEFAULT_PORT: u16 = 55432;

pub struct Postgres {
    pub port: u16,
    pub password: String,
}

impl Postgres {
    /// A URL for one database on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{database}?sslmode=disable",
            self.password, self.port
        )
    }
}

/// Where the cluster lives: `.nova/postgres`, unless the clone sits below a folder
/// the `postgres` user cannot enter (a clone under /root, say); then a folder of
/// this clone's own under /var/lib/nova, named after the clone's path.
fn cluster_dir(state: &State) -> Result<PathBuf> {
    let preferred = state.dir.join("postgres");
    if !is_root() {
        return Ok(preferred);
    }
    std::fs::create_dir_all(&preferred)?;
    let reachable = Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(&preferred)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if reachable {
        return Ok(preferred);
    }
    // SHA-256 of the path, not std's DefaultHasher: its output may change between
    // Rust releases, and the cluster must be found again after a toolchain update.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(state.dir.as_os_str().as_encoded_bytes());
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let fallback = PathBuf::from(format!("/var/lib/nova/{name}/postgres"));
    std::fs::create_dir_all(&fallback)?;
    Ok(fallback)
}

/// Make sure the cluster exists and runs; returns how to reach it.
pub fn ensure_running(state: &State) -> Result<Postgres> {
    let base = cluster_dir(state)?;
    // The superuser password lives with the cluster, so a cluster that outlives a
    // clone (one under /var/lib/nova) still opens for the next clone at that path.
    let password_path = base.join("superuser-password");
    let password = match std::fs::read_to_string(&password_path) {
        Ok(password) => {
            // Written readable by others before this release.
            write_secret_file(&password_path, password.trim())?;
            password.trim().to_string()
        }
        Err(_) => {
            let password = secret(state, "POSTGRES_PASSWORD")?;
            write_secret_file(&password_path, &password)?;
            password
        }
    };
    let port: u16 = std::env::var("NOVA_POSTGRES_PORT")
        .ok()
        .map(|p| p.parse().context("NOVA_POSTGRES_PORT is not a port number"))
        .transpose()?
        .unwrap_or(DEFAULT_PORT);
    let cluster = Cluster {
        base,
        port,
        password,
    };
    cluster.create_if_missing()?;
    if !cluster.is_running()? {
        println!("starting Postgres on 127.0.0.1:{port}");
        cluster.start().map_err(|error| {
            anyhow::anyhow!("{error}\n(another server on port {port}? set NOVA_POSTGRES_PORT)")
        })?;
    }
    Ok(Postgres {
        port: cluster.port,
        password: cluster.password,
    })
}

/// The PID of the cluster's server (the postmaster, parent of every backend),
/// from its `postmaster.pid`; `None` when it is not running.
pub fn server_pid(state: &State) -> Result<Option<u32>> {
    let file = cluster_dir(state)?.join("data").join("postmaster.pid");
    Ok(std::fs::read_to_string(file)
        .ok()
        .and_then(|text| text.lines().next()?.trim().parse().ok()))
}

pub fn stop(state: &State) -> Result<()> {
    let cluster = Cluster {
        base: cluster_dir(state)?,
        port: DEFAULT_PORT,
        password: String::new(),
    };
    if !cluster.data().join("postmaster.pid").exists() {
        return Ok(());
    }
    println!("stopping Postgres");
    cluster.stop()
}

/// Run `work` to completion on a runtime of its own: xtask's steps are
/// synchronous (never call this from async code).
pub fn block_on<T>(work: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work)
}

/// A connection to `database` as the superuser (through sqlx: the password never
/// appears on a command line).
pub async fn connect(postgres: &Postgres, database: &str) -> Result<PgConnection> {
    PgConnection::connect(&postgres.url(database))
        .await
        .with_context(|| format!("connecting to database {database}"))
}

/// Run SQL (one or more statements, no parameters) as the superuser in `database`.
pub fn execute(postgres: &Postgres, database: &str, sql: &str) -> Result<()> {
    block_on(async {
        let mut connection = connect(postgres, database).await?;
        sqlx::raw_sql(sql)
            .execute(&mut connection)
            .await
            .with_context(|| format!("running {sql}"))?;
        Ok(())
    })
}

/// The first column of every row of `query` as the superuser in `database`.
pub fn column<T>(postgres: &Postgres, database: &str, query: &str) -> Result<Vec<T>>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    block_on(async {
        let mut connection = connect(postgres, database).await?;
        sqlx::query_scalar(query)
            .fetch_all(&mut connection)
            .await
            .with_context(|| format!("running {query}"))
    })
}

/// The one value `query` returns (one row, one column).
pub fn value<T>(postgres: &Postgres, database: &str, query: &str) -> Result<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let mut rows = column(postgres, database, query)?;
    if rows.len() != 1 {
        bail!("{query} returned {} rows, not one", rows.len());
    }
    Ok(rows.remove(0))
}

/// Load `rows` into `table` (`columns` in the rows' field order) with COPY,
/// written as CSV by the csv crate (quoting and escaping included).
pub fn copy_csv<R: serde::Serialize>(
    postgres: &Postgres,
    database: &str,
    table: &str,
    columns: &str,
    rows: &[R],
) -> Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    for row in rows {
        writer.serialize(row)?;
    }
    let rows = writer.into_inner()?;
    block_on(async {
        let mut connection = connect(postgres, database).await?;
        let statement = format!("COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)");
        let mut copy = connection.copy_in_raw(&statement).await?;
        copy.send(rows.as_slice()).await?;
        copy.finish()
            .await
            .with_context(|| format!("loading {table} into {database}"))?;
        Ok(())
    })
}

pub fn ensure_database(postgres: &Postgres, name: &str) -> Result<()> {
    let exists: Vec<String> = column(
        postgres,
        "postgres",
        &format!("SELECT datname FROM pg_database WHERE datname = '{name}'"),
    )?;
    if exists.is_empty() {
        println!("creating database {name}");
        execute(postgres, "postgres", &format!("CREATE DATABASE \"{name}\""))?;
    }
    Ok(())
}

/// Drop databases the end-to-end tests left behind (they create `nova_t_*`);
/// how many there were.
pub fn drop_test_databases(postgres: &Postgres) -> Result<usize> {
    let names: Vec<String> = column(
        postgres,
        "postgres",
        "SELECT datname FROM pg_database WHERE datname LIKE 'nova\\_t\\_%'",
    )?;
    for name in &names {
        execute(
            postgres,
            "postgres",
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        )?;
    }
    Ok(names.len())
}

/// Drop database `name` if it exists (closing its connections) and create it empty.
pub fn recreate_database(postgres: &Postgres, name: &str) -> Result<()> {
    execute(
        postgres,
        "postgres",
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )?;
    execute(postgres, "postgres", &format!("CREATE DATABASE \"{name}\""))?;
    Ok(())
}

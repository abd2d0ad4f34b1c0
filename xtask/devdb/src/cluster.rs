//! One PostgreSQL cluster in a folder of its own, from Debian's packages:
//! created with initdb, started and stopped with pg_ctl, listening on 127.0.0.1
//! only. As root the server runs as the `postgres` system user (Postgres refuses
//! to run as root). `.nova/postgres` is one (`postgres::ensure_running`); the
//! Postgres-restart fault test makes another, which it may stop at will.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{apt_install, run, write_secret_file};

pub struct Cluster {
    /// The folder holding `data/`, `run/` (the socket) and `postgres.log`; the
    /// `postgres` user must be able to enter it.
    pub base: PathBuf,
    pub port: u16,
    /// The `postgres` superuser's password (scram-sha-256).
    pub password: String,
}

impl Cluster {
    pub fn data(&self) -> PathBuf {
        self.base.join("data")
    }

    /// A URL for one database on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{database}?sslmode=disable",
            self.password, self.port
        )
    }

    /// Run initdb unless the cluster exists.
    pub fn create_if_missing(&self) -> Result<()> {
        let data = self.data();
        if data.join("PG_VERSION").exists() {
            return Ok(());
        }
        let bin = bin_dir()?;
        println!("creating the Postgres cluster in {}", data.display());
        std::fs::create_dir_all(self.base.join("run"))?;
        let password_file = self.base.join("initdb-password");
        write_secret_file(&password_file, &self.password)?;
        if is_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&self.base))?;
        }
        let result = run(as_owner(&bin, "initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=scram-sha-256", "--encoding=UTF8"])
            .arg(format!("--pwfile={}", password_file.display())));
        std::fs::remove_file(&password_file)?;
        result
    }

    pub fn is_running(&self) -> Result<bool> {
        let status = as_owner(&bin_dir()?, "pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(self.data())
            .output()?;
        Ok(status.status.success())
    }

    /// Start the server and wait until it accepts connections.
    pub fn start(&self) -> Result<()> {
        // Beside the cluster, which the postgres user owns: it creates the log itself.
        let log = self.base.join("postgres.log");
        let started = run(as_owner(&bin_dir()?, "pg_ctl")
            .arg("start")
            .arg("-w")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(format!(
                "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=600",
                self.port,
                self.base.join("run").display()
            )));
        if let Err(error) = started {
            let log_text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = log_text.lines().rev().take(5).collect();
            bail!(
                "{error}\nPostgres said:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    /// Stop the server (fast: open transactions roll back) and wait until it is gone.
    pub fn stop(&self) -> Result<()> {
        run(as_owner(&bin_dir()?, "pg_ctl")
            .arg("stop")
            .arg("-w")
            .arg("-m")
            .arg("fast")
            .arg("-D")
            .arg(self.data()))
    }
}

pub(crate) fn is_root() -> bool {
    // Asked once per process: many steps below depend on it.
    static IS_ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IS_ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    })
}

/// The directory holding initdb, pg_ctl and postgres; installs the Debian
/// package when there is none.
fn bin_dir() -> Result<PathBuf> {
    if let Some(dir) = find_bin_dir() {
        return Ok(dir);
    }
    println!("PostgreSQL is not installed; installing Debian's postgresql package");
    if !is_root() {
        bail!("PostgreSQL is missing and installing it needs root: run `apt-get install -y postgresql`");
    }
    apt_install(&["postgresql"])?;
    find_bin_dir().context("postgresql installed but initdb was not found")
}

fn find_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// Run a Postgres tool as the user that owns the cluster.
pub(crate) fn as_owner(bin: &Path, tool: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        command
    } else {
        Command::new(bin.join(tool))
    }
}

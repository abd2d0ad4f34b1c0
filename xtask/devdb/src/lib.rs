//! State under `.nova/`, its generated secrets, and the development Postgres
//! cluster with the scratch databases the query macros check SQL against.
//!
//! A package of its own, apart from xtask, because it must build while a crate's
//! statements do not: `cargo sql prepare` is how a changed statement or migration
//! gets checked, and xtask depends on every crate that holds statements.

pub mod clickhouse;
pub mod cluster;
pub mod postgres;
pub mod sql;
pub mod tools;

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The workspace root: the nearest folder holding `supergraph.yaml` above the
/// package `cargo run` started (it sets `CARGO_MANIFEST_DIR` at run time). Not the
/// compile-time `env!`: clones that share one `CARGO_TARGET_DIR` share this binary
/// too, and it may have been compiled in another clone.
pub fn workspace_root() -> PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    start
        .ancestors()
        .find(|dir| dir.join("supergraph.yaml").is_file())
        .map(Path::to_path_buf)
        .unwrap_or(start)
}

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
    pub fn pid_file(&self, name: &str) -> PathBuf {
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

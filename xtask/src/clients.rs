//! The front-end packages in `tests/clients/` (Apollo Client, urql, graphql-ws,
//! graphql-sse and Apollo's persisted-query manifest generator), installed from the
//! npm registry with the machine's Node.js exactly as `package-lock.json` records.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::stack::{apt_install, run};

/// Where the client packages live, relative to the workspace root.
pub const CLIENTS_DIR: &str = "tests/clients";

/// Written into `node_modules/` after an install: the lock file's hash, so an
/// unchanged lock skips `npm ci` (which deletes and rebuilds `node_modules/`).
const INSTALLED_MARKER: &str = "node_modules/.nova-installed-lock";

/// `tests/clients/` with its packages installed (`npm ci` when the lock changed).
pub fn installed(root: &Path) -> Result<PathBuf> {
    let dir = root.join(CLIENTS_DIR);
    let lock = std::fs::read(dir.join("package-lock.json"))
        .with_context(|| format!("{CLIENTS_DIR}/package-lock.json"))?;
    let lock_hash = format!("{:x}", Sha256::digest(&lock));
    let marker = dir.join(INSTALLED_MARKER);
    if std::fs::read_to_string(&marker).is_ok_and(|hash| hash == lock_hash) {
        return Ok(dir);
    }
    if Command::new("npm").arg("--version").output().is_err() {
        println!("npm is not installed; installing Debian's nodejs and npm packages");
        apt_install(&["nodejs", "npm"])?;
    }
    println!("installing the client packages of {CLIENTS_DIR} (npm ci)");
    run(Command::new("npm").current_dir(&dir).args([
        "ci",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
    ]))?;
    std::fs::write(&marker, lock_hash)?;
    Ok(dir)
}

/// Run Apollo's persisted-query manifest generator over the shipped operations
/// (`persisted-queries/**/*.graphql`), writing the manifest to `output`.
pub fn generate_manifest(root: &Path, output: &Path) -> Result<()> {
    let dir = installed(root)?;
    let documents = root.join("persisted-queries/**/*.graphql");
    let config = serde_json::json!({
        "documents": [documents.display().to_string()],
        "output": output.display().to_string(),
    });
    // The generator reads its settings from a file only.
    let config_path =
        std::env::temp_dir().join(format!("nova-pq-config-{}.json", std::process::id()));
    std::fs::write(&config_path, serde_json::to_string_pretty(&config)?)?;
    let status = Command::new(dir.join("node_modules/.bin/generate-persisted-query-manifest"))
        .current_dir(&dir)
        .arg("--config")
        .arg(&config_path)
        .status();
    std::fs::remove_file(&config_path).ok();
    let status = status.context("running generate-persisted-query-manifest")?;
    if !status.success() {
        bail!("generate-persisted-query-manifest failed ({status})");
    }
    Ok(())
}

//! Tools built from crates.io once per machine into `~/.cache/nova/tools` (or
//! `$NOVA_TOOLS_DIR`), outside the clone so a new checkout finds them built:
//! the tansu broker, cargo-machete and sqlx-cli.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Result};

use crate::run;

/// A crate's binary to `cargo install` at one version.
pub struct Tool {
    pub package: &'static str,
    pub version: &'static str,
    pub features: &'static str,
    /// Build with the crate's default features as well as `features`.
    pub default_features: bool,
    pub binary: &'static str,
    /// Build with the versions of the tool's own Cargo.lock (`--locked`), or
    /// resolve afresh (with the workspace's rust-version fallback).
    pub locked: bool,
}

/// Where tools are installed: `$NOVA_TOOLS_DIR`, or `~/.cache/nova/tools`.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NOVA_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/nova/tools")
}

/// The tool's binary; built with `cargo install` the first time.
pub fn installed(root: &Path, tool: &Tool) -> Result<PathBuf> {
    let tools = tools_dir();
    let binary = tools.join("bin").join(tool.binary);
    if binary.exists() {
        return Ok(binary);
    }
    println!(
        "building {} {} into {} (once; it can take minutes)",
        tool.package,
        tool.version,
        tools.display()
    );
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        // From the workspace, so its .cargo/config.toml (rust-version fallback) applies.
        .current_dir(root)
        .args(["install", tool.package, "--version"])
        .arg(format!("={}", tool.version))
        .arg("--root")
        .arg(&tools)
        .arg("--target-dir")
        .arg(tools.join("build").join(tool.package))
        .env_remove("CARGO_TARGET_DIR");
    if tool.locked {
        command.arg("--locked");
    }
    if !tool.default_features {
        command.arg("--no-default-features");
    }
    if !tool.features.is_empty() {
        command.args(["--features", tool.features]);
    }
    run(&mut command)?;
    if !binary.exists() {
        bail!(
            "cargo install {} finished but {} is missing",
            tool.package,
            binary.display()
        );
    }
    Ok(binary)
}

const CARGO_MACHETE: Tool = Tool {
    package: "cargo-machete",
    version: "0.9.2",
    features: "",
    default_features: true,
    binary: "cargo-machete",
    locked: true,
};

/// `cargo xtask unused-deps`: fail when a crate of the workspace declares a
/// dependency its code never names (cargo-machete reads the sources).
pub fn unused_deps(root: &Path) -> Result<()> {
    let machete = installed(root, &CARGO_MACHETE)?;
    run(Command::new(machete).current_dir(root))
}

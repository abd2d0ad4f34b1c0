//! The tools the files under `deploy/` are checked with, installed when missing
//! like the other Debian packages the stack needs: promtool (Debian's
//! `prometheus` package) for the Prometheus configuration, the alert rules and
//! the rules' unit tests (`tests/tests/deploy_files.rs` runs them).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Result};

use crate::stack::apt_install;

const PROMTOOL: &str = "/usr/bin/promtool";

fn promtool_runs() -> bool {
    Command::new(PROMTOOL)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// promtool's path; Debian's `prometheus` package is installed the first time
/// (its service is not started: promtool is all Nova uses of it).
pub fn promtool() -> Result<PathBuf> {
    if !promtool_runs() {
        println!("promtool is not installed; installing Debian's prometheus package");
        apt_install(&["prometheus"])?;
        if !promtool_runs() {
            bail!("the prometheus package is installed but {PROMTOOL} does not run");
        }
    }
    Ok(PathBuf::from(PROMTOOL))
}

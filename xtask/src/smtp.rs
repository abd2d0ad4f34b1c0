//! A real local SMTP server for identity's mail: Debian's `python3-aiosmtpd`,
//! storing every message it receives in a Maildir (`.nova/mail/` in development),
//! where a developer reads it and the tests find reset tokens. Plain SMTP on
//! 127.0.0.1 (`SMTP_TLS=none`); production points `SMTP_*` at a real relay.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::stack::{apt_install, start_background, stop_process, wait_listening, Layout, State};

const PYTHON: &str = "/usr/bin/python3";

/// The Python that runs aiosmtpd; installs Debian's package when it is missing.
pub fn server() -> Result<PathBuf> {
    let has_aiosmtpd = || {
        Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if !has_aiosmtpd() {
        println!("aiosmtpd is not installed; installing Debian's python3-aiosmtpd package");
        apt_install(&["python3-aiosmtpd"])?;
        if !has_aiosmtpd() {
            bail!("python3-aiosmtpd installed but {PYTHON} cannot import aiosmtpd");
        }
    }
    Ok(PathBuf::from(PYTHON))
}

/// The arguments of an SMTP server on `port` that keeps each message in `maildir`.
pub fn arguments(port: u16, maildir: &Path) -> Vec<String> {
    vec![
        "-m".into(),
        "aiosmtpd".into(),
        "-n".into(),
        "-l".into(),
        format!("127.0.0.1:{port}"),
        "-c".into(),
        "aiosmtpd.handlers.Mailbox".into(),
        maildir.display().to_string(),
    ]
}

/// The Maildir of a layout's SMTP server.
pub fn maildir(state: &State, layout: &Layout) -> PathBuf {
    state.dir.join(format!("{}mail", layout.name_prefix))
}

fn process(layout: &Layout) -> String {
    format!("{}smtp", layout.name_prefix)
}

pub fn ensure_running(state: &State, layout: &Layout, port: u16) -> Result<()> {
    let mut command = Command::new(server()?);
    command
        .args(arguments(port, &maildir(state, layout)))
        .current_dir(&state.dir);
    start_background(state, &process(layout), command)?;
    wait_listening("SMTP", port, Duration::from_secs(20))
}

pub fn stop(state: &State, layout: &Layout) -> Result<()> {
    stop_process(state, &process(layout))
}

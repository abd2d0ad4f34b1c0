//! ClickHouse for analytics: Debian's `clickhouse-server`, one process per
//! layout on 127.0.0.1, its data under `.nova/` (kept across `down`/`up`).
//! The configuration is `nova_devdb::clickhouse`'s, shared with the test stacks.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Result};
use nova_devdb::clickhouse::{write_config, SERVER_BIN};

use crate::stack::{apt_install, start_background, stop_process, wait_listening, Layout, State};

/// The clickhouse-server binary; installs Debian's package when there is none.
pub fn server() -> Result<PathBuf> {
    let binary = PathBuf::from(SERVER_BIN);
    if binary.exists() {
        return Ok(binary);
    }
    println!("clickhouse-server is not installed; installing Debian's clickhouse-server package");
    apt_install(&["clickhouse-server"])?;
    if !binary.exists() {
        bail!(
            "clickhouse-server installed but {} is missing",
            binary.display()
        );
    }
    Ok(binary)
}

fn process(layout: &Layout) -> String {
    format!("{}clickhouse", layout.name_prefix)
}

/// `CLICKHOUSE_URL` of a layout's server.
pub fn url(layout: &Layout) -> String {
    format!("http://127.0.0.1:{}", layout.clickhouse_port)
}

pub fn ensure_running(state: &State, layout: &Layout) -> Result<()> {
    let folder = state.dir.join(process(layout));
    // The native protocol's port: the one after HTTP's (analytics speaks HTTP only).
    let config = write_config(&folder, layout.clickhouse_port, layout.clickhouse_port + 1)?;
    let mut command = Command::new(server()?);
    command
        .arg(format!("--config-file={}", config.display()))
        .current_dir(&folder);
    start_background(state, &process(layout), command)?;
    wait_listening(
        "ClickHouse",
        layout.clickhouse_port,
        Duration::from_secs(30),
    )
}

/// Stop a layout's server and delete its data (a fresh bench).
pub fn remove_data(state: &State, layout: &Layout) -> Result<()> {
    stop(state, layout)?;
    let folder = state.dir.join(process(layout));
    match std::fs::remove_dir_all(&folder) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
        _ => Ok(()),
    }
}

pub fn stop(state: &State, layout: &Layout) -> Result<()> {
    stop_process(state, &process(layout))
}

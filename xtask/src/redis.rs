//! Redis for the router's rate limits: Debian's `redis-server`, one process per
//! layout on 127.0.0.1, nothing kept on disk (buckets refill within minutes).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::stack::{apt_install, start_background, stop_process, wait_listening, Layout, State};

/// The redis-server binary; installs Debian's package when there is none.
pub fn server() -> Result<PathBuf> {
    let binary = PathBuf::from("/usr/bin/redis-server");
    if binary.exists() {
        return Ok(binary);
    }
    println!("redis-server is not installed; installing Debian's redis-server package");
    apt_install(&["redis-server"])?;
    if !binary.exists() {
        bail!("redis-server installed but {} is missing", binary.display());
    }
    Ok(binary)
}

/// The arguments of a Redis on `port` that keeps nothing on disk.
pub fn arguments(port: u16) -> Vec<String> {
    [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub fn ensure_running(state: &State, layout: &Layout) -> Result<()> {
    let mut command = Command::new(server()?);
    command
        .args(arguments(layout.redis_port))
        .current_dir(&state.dir);
    start_background(state, &layout.redis_process(), command)?;
    wait_listening("Redis", layout.redis_port, Duration::from_secs(20))
}

pub fn stop(state: &State, layout: &Layout) -> Result<()> {
    stop_process(state, &layout.redis_process())
}

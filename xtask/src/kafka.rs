//! The local Kafka-protocol broker: tansu (crates.io), built once into
//! `~/.cache/nova/tools` (`tools.rs`), storing its log in SQLite under
//! `.nova/kafka/`, listening on 127.0.0.1 only. Production sets `KAFKA_BROKERS`
//! to a real cluster; the services' client code is the same.
//!
//! Why tansu: Apache Kafka and Redpanda downloads are out of reach here, and tansu
//! speaks the Kafka protocol well enough for librdkafka's idempotent producer,
//! consumer groups and offset commits (checked by the event fault tests).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use crate::stack::{start_background, stop_process, wait_listening, Layout, State};
use crate::tools::{installed, Tool};

const TANSU: Tool = Tool {
    package: "tansu",
    version: "0.6.0",
    // `dynostore` brings the storage engines, `libsql` the SQLite one.
    features: "dynostore,libsql",
    default_features: true,
    binary: "tansu",
    // Checked without: resolving afresh picks versions that build on rustc 1.95.
    locked: false,
};

/// The tansu binary; built with `cargo install` the first time (several minutes).
pub fn tansu(root: &Path) -> Result<PathBuf> {
    installed(root, &TANSU)
}

/// The command that runs a broker on `port` with its SQLite log in `dir`.
fn broker_command(tansu: &Path, port: u16, dir: &Path) -> Command {
    let listener = format!("tcp://127.0.0.1:{port}");
    let mut command = Command::new(tansu);
    command
        // tansu reads a sqlite:// path relative to its working directory.
        .current_dir(dir)
        .arg("broker")
        .args(["--listener-url", &listener])
        .args(["--advertised-listener-url", &listener])
        .args(["--storage-engine", "sqlite://tansu.db"])
        // Its own traces stay local unless asked for.
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
    command
}

/// Start the layout's broker unless it runs; wait until it accepts connections.
/// Returns KAFKA_BROKERS for its services.
pub fn ensure_running(state: &State, root: &Path, layout: &Layout) -> Result<String> {
    let binary = tansu(root)?;
    let name = layout.kafka_process();
    let dir = state.dir.join(&name);
    std::fs::create_dir_all(&dir)?;
    start_background(
        state,
        &name,
        broker_command(&binary, layout.kafka_port, &dir),
    )?;
    wait_listening(
        "the Kafka broker",
        layout.kafka_port,
        Duration::from_secs(30),
    )?;
    Ok(format!("127.0.0.1:{}", layout.kafka_port))
}

/// Start the layout's broker on an empty log (stopping one that runs).
pub fn start_fresh(state: &State, root: &Path, layout: &Layout) -> Result<String> {
    stop(state, layout)?;
    let _ = std::fs::remove_dir_all(state.dir.join(layout.kafka_process()));
    ensure_running(state, root, layout)
}

pub fn stop(state: &State, layout: &Layout) -> Result<()> {
    stop_process(state, &layout.kafka_process())
}

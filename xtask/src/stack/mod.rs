//! `up`, `down` and `test`: the local stack under `.nova/` (git-ignored).
//!
//! .nova/secrets.env   generated once: Postgres password, router secret
//! .nova/postgres/     the Postgres cluster
//! .nova/kafka/        the Kafka broker's SQLite log
//! (Redis keeps nothing on disk: rate-limit buckets are short-lived)
//! .nova/identity/     the development JWT signing key
//! .nova/logs/         one log per process
//! .nova/pids/         one PID file per process `up` started

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use crate::postgres;
use crate::{kafka, redis, s3, smtp};

mod layout;
mod process;
mod prune;

pub use nova_devdb::{apt_install, key_base64, run, secret, State};

pub use layout::{services, subgraphs, Layout, Service, DEVELOPMENT, ROUTER_PORT};
pub use process::{
    http, http_status, metric, metrics_text, process_status, recorded_pid, start, start_background,
    start_ready, start_under, stop, stop_process, wait_listening, wait_ready,
};

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Build the router, registry and subgraph binaries; returns the folder holding
/// them. Every binary of the workspace, so dependencies are built with the
/// workspace's feature set — the one `cargo test --workspace` uses next — instead
/// of a second variant for a subset of packages (minutes on a cold machine).
pub fn build_binaries(root: &Path, release: bool) -> Result<PathBuf> {
    build_binaries_recorded(root, release, &mut prune::Built::default())
}

fn build_binaries_recorded(
    root: &Path,
    release: bool,
    built: &mut prune::Built,
) -> Result<PathBuf> {
    let mut command = cargo();
    command
        .current_dir(root)
        .args(["build", "--workspace", "--bins"]);
    if release {
        command.arg("--release");
    }
    built.run(&mut command)?;
    Ok(target_dir(root).join(if release { "release" } else { "debug" }))
}

pub fn up(root: &Path) -> Result<()> {
    let state = State::open(root)?;
    let pg = postgres::ensure_running(&state)?;
    nova_devdb::sql::prepare_databases(root, &pg, false)?;
    for name in subgraphs() {
        postgres::ensure_database(&pg, &DEVELOPMENT.database(name))?;
    }
    let kafka_brokers = kafka::ensure_running(&state, root, &DEVELOPMENT)?;
    redis::ensure_running(&state, &DEVELOPMENT)?;
    if let Some(port) = DEVELOPMENT.smtp_port {
        smtp::ensure_running(&state, &DEVELOPMENT, port)?;
    }
    s3::ensure_running(&state, root, &DEVELOPMENT)?;
    crate::clickhouse::ensure_running(&state, &DEVELOPMENT)?;
    crate::ffmpeg::ensure_installed()?;
    println!("building the subgraphs and the router");
    let bin_dir = build_binaries(root, false)?;
    // The router reads the supergraph the registry's sync agent keeps current.
    let registry = &crate::registry::DEVELOPMENT;
    crate::registry::up(registry, &state, &pg, &bin_dir, root)?;
    let supergraph = registry.supergraph_path(&state);
    let supergraph = supergraph.display().to_string();
    let rollouts = registry.rollouts_path(&state).display().to_string();
    // The router reports the operations it runs to the registry (docs/registry.md).
    let report_token = crate::registry::report_token(&state)?;
    let usage_url = format!("{}/v1/usage", registry.url());
    for service in services(&state, &pg, &kafka_brokers, root, &DEVELOPMENT)? {
        let service = if service.name == "router" {
            service.variant(
                "router",
                ROUTER_PORT,
                &[
                    ("NOVA_SUPERGRAPH_PATH", &supergraph),
                    ("NOVA_ROLLOUTS_PATH", &rollouts),
                    ("HIVE_USAGE_REPORTING_ENABLED", "true"),
                    ("HIVE_ACCESS_TOKEN", &report_token),
                    ("NOVA_USAGE_REPORTING_URL", &usage_url),
                ],
            )
        } else {
            service
        };
        start(&state, &bin_dir, root, &service)?;
        wait_ready(&state, &service, Duration::from_secs(60))?;
    }
    println!();
    println!(
        "Nova is up: router at http://127.0.0.1:{ROUTER_PORT}/graphql (GraphiQL in a browser)"
    );
    println!(
        "schema registry at {} (operator token: NOVA_REGISTRY_OPERATOR_TOKEN in {})",
        crate::registry::DEVELOPMENT.url(),
        state.dir.join("secrets.env").display()
    );
    println!(
        "mail Nova sends (password resets) in {}",
        smtp::maildir(&state, &DEVELOPMENT).join("new").display()
    );
    println!(
        "logs in {}; stop with `cargo xtask down`",
        state.logs().display()
    );
    Ok(())
}

pub fn down(root: &Path) -> Result<()> {
    let state = State::open(root)?;
    stop(&state, &DEVELOPMENT)?;
    kafka::stop(&state, &DEVELOPMENT)?;
    redis::stop(&state, &DEVELOPMENT)?;
    smtp::stop(&state, &DEVELOPMENT)?;
    s3::stop(&state, &DEVELOPMENT)?;
    crate::clickhouse::stop(&state, &DEVELOPMENT)?;
    nova_devdb::sql::remove_env_files(root)?;
    postgres::stop(&state)
}

/// Start Postgres, build the binaries the end-to-end tests spawn, run every test.
/// Extra arguments go to `cargo test` (for example a test name filter).
pub fn test(root: &Path, extra: &[String]) -> Result<()> {
    // Cargo's own options come before `--`, the test binaries' after it.
    let cargo_options = extra.split(|arg| arg == "--").next().unwrap_or_default();
    let state = State::open(root)?;
    let pg = postgres::ensure_running(&state)?;
    postgres::drop_test_databases(&pg)?;
    nova_devdb::sql::prepare_databases(root, &pg, false)?;
    // Each end-to-end stack runs its own broker from this binary.
    let tansu = kafka::tansu(root)?;
    let redis_server = redis::server()?;
    let smtp_python = smtp::server()?;
    let s3_server = s3::server(root)?;
    let clickhouse_server = crate::clickhouse::server()?;
    // media's worker runs it for videos, and the video test makes one with it.
    crate::ffmpeg::ensure_installed()?;
    // The real front-end clients the `real_clients` test runs (npm).
    crate::clients::installed(root)?;
    // What the deploy_* tests check the deployment files with.
    let promtool = crate::deploy_tools::promtool()?;
    let deploy_checkers = crate::deploy_tools::python_checkers()?;
    let compose_schema = crate::deploy_tools::compose_schema()?;
    let mut built = prune::Built::default();
    let bin_dir = build_binaries_recorded(root, false, &mut built)?;
    built.run(
        cargo()
            .current_dir(root)
            .args(["test", "--workspace", "--no-run"])
            .args(cargo_options),
    )?;
    // Housekeeping: a failure is reported, and the tests run all the same.
    match built.remove_stale_test_executables(&bin_dir.join("deps")) {
        Ok(0) => {}
        Ok(freed) => println!(
            "removed {} MiB of earlier builds' test executables",
            freed >> 20
        ),
        Err(error) => eprintln!("warning: stale test executables not removed: {error:#}"),
    }
    let tested = run(cargo()
        .current_dir(root)
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(extra)
        .env("NOVA_TEST_DATABASE_URL", pg.url("postgres"))
        .env("NOVA_BIN_DIR", &bin_dir)
        .env("NOVA_TANSU_BIN", &tansu)
        .env("NOVA_REDIS_SERVER_BIN", &redis_server)
        .env("NOVA_SMTP_PYTHON", &smtp_python)
        .env("NOVA_S3_SERVER_BIN", &s3_server)
        .env("NOVA_CLICKHOUSE_SERVER_BIN", &clickhouse_server)
        .env("NOVA_PROMTOOL_BIN", &promtool)
        .env("NOVA_DEPLOY_CHECKERS_BIN", &deploy_checkers)
        .env("NOVA_COMPOSE_SCHEMA", &compose_schema)
        .env("NOVA_ROOT", root));
    // Stacks drop their databases; a test process that aborted leaves its own,
    // and they are not kept until the next run (disk is finite on CI machines).
    match postgres::drop_test_databases(&pg) {
        Ok(0) => {}
        Ok(left) => println!("dropped {left} databases the tests left behind"),
        Err(error) => {
            eprintln!("warning: the tests' leftover databases were not dropped: {error:#}")
        }
    }
    tested
}

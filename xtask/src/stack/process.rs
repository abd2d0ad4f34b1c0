//! Starting, watching and stopping a stack's processes by their recorded
//! PIDs, and talking to them over HTTP.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{Layout, Service, State};

/// Whether the process runs. A zombie (exited, not yet reaped: the bench's
/// own children until xtask exits) counts as gone.
fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

pub fn recorded_pid(state: &State, name: &str) -> Option<u32> {
    std::fs::read_to_string(state.pid_file(name))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `/proc/<pid>/status` of a recorded process (memory figures in KiB).
pub fn process_status(state: &State, name: &str) -> Result<procfs::process::Status> {
    let pid = recorded_pid(state, name).with_context(|| format!("no pid recorded for {name}"))?;
    Ok(procfs::process::Process::new(i32::try_from(pid)?)?.status()?)
}

/// One HTTP request to 127.0.0.1:port: the status and the body (any status is
/// an answer; only a failure to get one is an error).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> Result<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = agent
        .run(request.body(body.to_string())?)
        .with_context(|| format!("{method} 127.0.0.1:{port}{path}"))?;
    let status = response.status().as_u16();
    Ok((status, response.body_mut().read_to_string()?))
}

/// The first sample named `name` (any labels) on 127.0.0.1:`port`/metrics.
pub fn metric(port: u16, name: &str) -> Result<f64> {
    nova_core::scrape::sample_value(&metrics_text(port)?, name)
        .with_context(|| format!("no {name} in /metrics on port {port}"))
}

/// The `/metrics` text of 127.0.0.1:`port`, for reading several samples at once
/// (`nova_core::scrape::sample_value`).
pub fn metrics_text(port: u16) -> Result<String> {
    Ok(http(port, "GET", "/metrics", &[], "", Duration::from_secs(5))?.1)
}

/// The HTTP status of `GET path` on 127.0.0.1:port, if anything answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    http(port, "GET", path, &[], "", Duration::from_secs(2))
        .ok()
        .map(|(status, _)| status)
}

pub fn wait_ready(state: &State, service: &Service, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if http_status(service.port, service.ready_path) == Some(200) {
            return Ok(());
        }
        if let Some(pid) = recorded_pid(state, &service.name) {
            if !is_alive(pid) {
                bail!(
                    "{} exited during start; see {}",
                    service.name,
                    state.logs().join(format!("{}.log", service.name)).display()
                );
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!(
        "{} was not ready within {}s; see {}",
        service.name,
        timeout.as_secs(),
        state.logs().join(format!("{}.log", service.name)).display()
    )
}

/// Start `service` and wait until it answers ready (a minute at most): how the
/// benches bring their stack up.
pub fn start_ready(state: &State, bin_dir: &Path, root: &Path, service: &Service) -> Result<()> {
    start(state, bin_dir, root, service)?;
    wait_ready(state, service, Duration::from_secs(60))
}

pub fn start(state: &State, bin_dir: &Path, root: &Path, service: &Service) -> Result<()> {
    start_under(state, bin_dir, root, service, &[])
}

/// `start`, with the service's binary run by `wrapper` (a program and its
/// arguments, e.g. valgrind's) when that is not empty.
pub fn start_under(
    state: &State,
    bin_dir: &Path,
    root: &Path,
    service: &Service,
    wrapper: &[String],
) -> Result<()> {
    let binary = bin_dir.join(&service.binary);
    let mut command = match wrapper.split_first() {
        Some((program, arguments)) => {
            let mut command = Command::new(program);
            command.args(arguments).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    command
        .current_dir(root)
        .envs(service.env.iter().map(|(k, v)| (k, v)));
    start_background(state, &service.name, command)
}

/// Start `command` in the background as process `name` (PID file, log), unless the
/// recorded process is still alive.
pub fn start_background(state: &State, name: &str, mut command: Command) -> Result<()> {
    if let Some(pid) = recorded_pid(state, name) {
        if is_alive(pid) {
            println!("{name} already running (pid {pid})");
            return Ok(());
        }
    }
    let log_path = state.logs().join(format!("{name}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group, so it outlives `cargo xtask up`.
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {:?}", command.get_program()))?;
    std::fs::write(state.pid_file(name), child.id().to_string())?;
    println!(
        "started {name} (pid {}, log {})",
        child.id(),
        log_path.display()
    );
    Ok(())
}

/// Stop the processes of a layout, by the PIDs recorded when they started.
pub fn stop(state: &State, layout: &Layout) -> Result<()> {
    for name in layout.process_names() {
        stop_process(state, &name)?;
    }
    Ok(())
}

/// Stop one process `start_background` started, by its recorded PID.
pub fn stop_process(state: &State, name: &str) -> Result<()> {
    let Some(pid) = recorded_pid(state, name) else {
        return Ok(());
    };
    if is_alive(pid) {
        println!("stopping {name} (pid {pid})");
        signal(pid, Signal::SIGTERM)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if is_alive(pid) {
            signal(pid, Signal::SIGKILL)?;
        }
    }
    std::fs::remove_file(state.pid_file(name))?;
    Ok(())
}

fn signal(pid: u32, signal: Signal) -> Result<()> {
    let pid = i32::try_from(pid).context("a PID fits in an i32")?;
    match kill(Pid::from_raw(pid), signal) {
        // Gone between the check and the signal: what stopping wanted.
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(error) => Err(error).with_context(|| format!("{signal} to pid {pid}")),
    }
}

/// Wait until something listens on 127.0.0.1:`port`.
pub fn wait_listening(what: &str, port: u16, timeout: Duration) -> Result<()> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while started.elapsed() < timeout {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "{what} did not listen on {address} within {}s",
        timeout.as_secs()
    )
}

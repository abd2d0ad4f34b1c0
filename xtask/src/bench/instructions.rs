//! The policies' cost counted instead of timed. On this shared 2-core machine the
//! throughput of one configuration moves by ±20% between identical runs, more
//! than the policies cost, and CPU time per request moves with it (the host's
//! load changes how long an instruction takes). Instructions per request do
//! not: the router with the policies on and the same build with them off, each
//! under valgrind's callgrind, serve the same requests one at a time, and a
//! Redis under callgrind answers the first one's rate-limit checks. Work that
//! follows the clock instead of the requests (timers, polls) is counted over an
//! idle window as long as the requests took and taken off (`count`).
//!
//! The subgraphs and PostgreSQL do the same work behind both routers, so
//! `off / (on + Redis)` over the routers' instructions alone is a lower bound on
//! the throughput ratio when the stack's CPU is the limit. Callgrind counts user
//! space only: the kernel's side of the extra Redis round trip is not in it.
//!
//! The same way it counts what a log line per request costs the router
//! (`LOG_FILTER=info`), a figure the timed runs could not settle either; the
//! kernel's side of writing the line is not in it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::wrk::Scenario;
use crate::bench_stack::{document_id, persisted_body};
use crate::stack::{
    apt_install, recorded_pid, start_background, start_under, stop_process, wait_listening,
    wait_ready, Service, State,
};

/// Requests before counting (plans, pools and caches filled), then counted.
const WARM_UP: usize = 50;
const COUNTED: usize = 300;

const REDIS_PORT: u16 = 14016;
const REDIS_PROCESS: &str = "bench-redis-counted";
const ON_PORT: u16 = 14013;
const ON_PROCESS: &str = "bench-router-counted-on";
const OFF_PORT: u16 = 14014;
const OFF_PROCESS: &str = "bench-router-counted-off";
/// The router under test writing a log line per request (`LOG_FILTER=info`,
/// the level before the per-request summary moved out of the default).
const LOGGED_PORT: u16 = 14015;
const LOGGED_PROCESS: &str = "bench-router-counted-logged";

/// Valgrind's callgrind wrapping a process, its profile written to `out_file`
/// (a dump on request appends `.<n>`).
fn callgrind(out_file: &Path) -> Vec<String> {
    vec![
        "valgrind".into(),
        "--tool=callgrind".into(),
        format!("--callgrind-out-file={}", out_file.display()),
    ]
}

/// A process under callgrind, found by its recorded PID.
struct Counter {
    pid: u32,
    out_file: PathBuf,
}

impl Counter {
    fn of(state: &State, process: &str) -> Result<Self> {
        Ok(Self {
            pid: recorded_pid(state, process)
                .with_context(|| format!("{process} has no recorded pid"))?,
            out_file: out_file(state, process),
        })
    }

    fn control(&self, option: &str) -> Result<()> {
        let status = Command::new("callgrind_control")
            .arg(option)
            .arg(self.pid.to_string())
            .stdout(std::process::Stdio::null())
            .status()
            .context("running callgrind_control")?;
        if !status.success() {
            bail!("callgrind_control {option} {} failed: {status}", self.pid);
        }
        Ok(())
    }

    /// Start counting from zero.
    fn zero(&self) -> Result<()> {
        self.control("-z")
    }

    /// Instructions since the last `zero`: a dump, read back.
    fn instructions(&self) -> Result<u64> {
        self.control("-d")?;
        let prefix = format!("{}.", self.out_file.file_name().unwrap().to_string_lossy());
        let directory = self.out_file.parent().context("profile in a directory")?;
        let mut newest: Option<(u64, PathBuf)> = None;
        for entry in std::fs::read_dir(directory)? {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let Some(Ok(n)) = name.strip_prefix(&prefix).map(str::parse::<u64>) else {
                continue;
            };
            if newest.as_ref().is_none_or(|(newest, _)| n > *newest) {
                newest = Some((n, path));
            }
        }
        let (_, path) = newest.with_context(|| format!("no dump of {}", self.pid))?;
        let text = std::fs::read_to_string(&path)?;
        text.lines()
            .find_map(|line| line.strip_prefix("summary: "))
            .and_then(|count| count.trim().parse().ok())
            .with_context(|| format!("no summary line in {}", path.display()))
    }
}

fn out_file(state: &State, process: &str) -> PathBuf {
    state.dir.join("callgrind").join(format!("{process}.out"))
}

/// Send `scenario`'s requests to the router on `port` one at a time, `count` of
/// them, cycling through its values; every answer must be data without errors.
fn send(
    port: u16,
    scenario: &Scenario,
    document_id: &str,
    token: &str,
    count: usize,
) -> Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://127.0.0.1:{port}/graphql");
    for value in scenario.values.iter().cycle().take(count) {
        let variables = serde_json::json!({ scenario.variable: value });
        let body = persisted_body(scenario.operation, document_id, variables).to_string();
        let mut response = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Authorization", &format!("Bearer {token}"))
            .send(body.as_str())?;
        let text = response.body_mut().read_to_string()?;
        let answer: serde_json::Value = serde_json::from_str(&text)?;
        if response.status() != 200 || answer.get("errors").is_some() {
            bail!("{} from port {port}: {text}", response.status());
        }
    }
    Ok(())
}

/// Instructions per counted request: `(router, Redis)`; Redis is 0 when the
/// router asks it nothing. What the processes do anyway in as much time
/// (timers, file polls, Redis's housekeeping at 10 Hz), counted while idle
/// right after, is taken off: under valgrind, and more so on a busy machine,
/// the requests take long enough for that to matter.
fn count(
    port: u16,
    router: &Counter,
    redis: Option<&Counter>,
    scenario: &Scenario,
    document_id: &str,
    token: &str,
) -> Result<(f64, f64)> {
    send(port, scenario, document_id, token, WARM_UP)?;
    let counters: Vec<&Counter> = std::iter::once(router).chain(redis).collect();
    for counter in &counters {
        counter.zero()?;
    }
    let started = Instant::now();
    send(port, scenario, document_id, token, COUNTED)?;
    let busy_for = started.elapsed();
    let busy: Vec<u64> = counters
        .iter()
        .map(|counter| counter.instructions())
        .collect::<Result<_>>()?;
    for counter in &counters {
        counter.zero()?;
    }
    // A measuring window, not a wait for something to happen.
    std::thread::sleep(busy_for);
    let per_request = |(counter, busy): (&&Counter, &u64)| -> Result<f64> {
        let idle = counter.instructions()?;
        Ok(busy.saturating_sub(idle) as f64 / COUNTED as f64)
    };
    let per_request: Vec<f64> = counters
        .iter()
        .zip(&busy)
        .map(per_request)
        .collect::<Result<_>>()?;
    Ok((per_request[0], per_request.get(1).copied().unwrap_or(0.0)))
}

/// The bench stack the counted processes join: its state, its binaries, and
/// the router under test (the counted routers are variants of it).
pub struct Stack<'a> {
    pub root: &'a Path,
    pub state: &'a State,
    pub bin_dir: &'a Path,
    pub router: &'a Service,
}

/// The router's instructions per request of one page, the policies on and off.
pub struct Counted {
    pub on: f64,
    pub off: f64,
}

/// Start Redis and the routers under callgrind, count each scenario, print the
/// figures, and stop them whatever happened.
pub fn policy_cost(stack: &Stack, scenarios: &[Scenario], token: &str) -> Result<Vec<Counted>> {
    if Command::new("callgrind_control")
        .arg("-h")
        .output()
        .is_err()
    {
        println!("installing valgrind (Debian package) to count instructions");
        apt_install(&["valgrind"])?;
    }
    let directory = stack.state.dir.join("callgrind");
    if directory.exists() {
        std::fs::remove_dir_all(&directory)?;
    }
    std::fs::create_dir_all(&directory)?;
    let result = start_and_count(stack, scenarios, token);
    for process in [ON_PROCESS, OFF_PROCESS, LOGGED_PROCESS, REDIS_PROCESS] {
        stop_process(stack.state, process)?;
    }
    result
}

fn start_and_count(stack: &Stack, scenarios: &[Scenario], token: &str) -> Result<Vec<Counted>> {
    let Stack {
        root,
        state,
        bin_dir,
        router,
    } = *stack;
    let wrapper = callgrind(&out_file(state, REDIS_PROCESS));
    let mut redis_command = Command::new(&wrapper[0]);
    redis_command
        .args(&wrapper[1..])
        .arg(crate::redis::server()?)
        .args(crate::redis::arguments(REDIS_PORT))
        .current_dir(&state.dir);
    start_background(state, REDIS_PROCESS, redis_command)?;
    wait_listening("Redis under callgrind", REDIS_PORT, Duration::from_secs(60))?;

    let redis_url = format!("redis://127.0.0.1:{REDIS_PORT}");
    let on = router.variant(
        ON_PROCESS,
        ON_PORT,
        &[
            ("NOVA_ROUTER_PORT", &ON_PORT.to_string()),
            ("REDIS_URL", &redis_url),
            // A key-set fetch lands in one counted window and not another.
            ("NOVA_JWKS_POLL_INTERVAL", "3600s"),
        ],
    );
    let off = router.variant(
        OFF_PROCESS,
        OFF_PORT,
        &[
            ("NOVA_ROUTER_PORT", &OFF_PORT.to_string()),
            ("NOVA_SAFELIST", "false"),
            ("NOVA_RATE_LIMITS", "false"),
            ("NOVA_JWKS_POLL_INTERVAL", "3600s"),
        ],
    );
    let logged = on.variant(
        LOGGED_PROCESS,
        LOGGED_PORT,
        &[
            ("NOVA_ROUTER_PORT", &LOGGED_PORT.to_string()),
            ("LOG_FILTER", "info"),
        ],
    );
    for service in [&on, &off, &logged] {
        let wrapper = callgrind(&out_file(state, &service.name));
        start_under(state, bin_dir, root, service, &wrapper)?;
        // Under valgrind the router starts about fifty times slower.
        wait_ready(state, service, Duration::from_secs(600))?;
    }
    let (redis, on_router, off_router, logged_router) = (
        Counter::of(state, REDIS_PROCESS)?,
        Counter::of(state, ON_PROCESS)?,
        Counter::of(state, OFF_PROCESS)?,
        Counter::of(state, LOGGED_PROCESS)?,
    );

    println!(
        "\npolicy cost, counted: callgrind's instructions (user space) per request, \
         {COUNTED} requests one at a time after {WARM_UP} to warm up, the same sequence \
         to each router"
    );
    let mut counted = Vec::new();
    for scenario in scenarios {
        let document_id = document_id(root, scenario.operation)?;
        let (on_instructions, redis_instructions) = count(
            ON_PORT,
            &on_router,
            Some(&redis),
            scenario,
            &document_id,
            token,
        )?;
        let (off_instructions, _) =
            count(OFF_PORT, &off_router, None, scenario, &document_id, token)?;
        let (logged_instructions, _) = count(
            LOGGED_PORT,
            &logged_router,
            None,
            scenario,
            &document_id,
            token,
        )?;
        let added = on_instructions + redis_instructions - off_instructions;
        println!(
            "{:<27} router on {:.0}, off {:.0}; Redis {:.0} per check; the policies add {:.0} \
             ({:+.1}% of the router's work); ratio off/(on + Redis) {:.3}: the throughput \
             ratio's lower bound when CPU is the limit",
            scenario.name,
            on_instructions,
            off_instructions,
            redis_instructions,
            added,
            added * 100.0 / off_instructions,
            off_instructions / (on_instructions + redis_instructions)
        );
        let logging = logged_instructions - on_instructions;
        println!(
            "{:<27} a log line per request (LOG_FILTER=info) adds {:.0} instructions to the \
             router ({:+.1}%)",
            scenario.name,
            logging,
            logging * 100.0 / on_instructions
        );
        counted.push(Counted {
            on: on_instructions,
            off: off_instructions,
        });
    }
    Ok(counted)
}

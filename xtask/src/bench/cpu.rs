//! The CPU time the bench stack spends: user + system time of every process
//! `cargo xtask` recorded for it (`.nova/pids/bench-*`: the routers, subgraphs,
//! Redis, the broker) and of the PostgreSQL server with its backends, read from
//! /proc. Per request, it is what a page costs the machine, whatever else the
//! machine runs meanwhile; throughput on a shared 2-core machine is not. Within
//! one run, each process's share of it holds still even when the host slows
//! every process down.

use std::collections::HashMap;

use anyhow::{Context, Result};
use procfs::process::all_processes;

use crate::postgres;
use crate::stack::State;

/// Name under which PostgreSQL (server and backends) is reported.
const POSTGRES: &str = "postgres";

/// The processes whose CPU time counts.
pub struct StackCpu {
    /// Recorded process name by pid.
    names: HashMap<i32, String>,
    postgres: i32,
    ticks_per_second: f64,
}

/// CPU seconds spent so far, user and system, by process name.
#[derive(Default)]
pub struct Sample {
    by_process: HashMap<String, (f64, f64)>,
}

impl Sample {
    /// What was spent between `earlier` and this sample.
    pub fn since(&self, earlier: &Sample) -> Sample {
        let by_process = self
            .by_process
            .iter()
            .map(|(name, (user, system))| {
                let (user_before, system_before) =
                    earlier.by_process.get(name).copied().unwrap_or_default();
                (name.clone(), (user - user_before, system - system_before))
            })
            .collect();
        Sample { by_process }
    }

    pub fn total(&self) -> f64 {
        self.by_process.values().map(|(u, s)| u + s).sum()
    }

    /// User + system seconds of process `name`; an error when it was not sampled
    /// (a missing process is not zero).
    pub fn of(&self, name: &str) -> Result<(f64, f64)> {
        self.by_process
            .get(name)
            .copied()
            .with_context(|| format!("no CPU time sampled for {name}"))
    }
}

impl StackCpu {
    pub fn of(state: &State) -> Result<Self> {
        let mut names = HashMap::new();
        for entry in std::fs::read_dir(state.dir.join("pids"))? {
            let file = entry?.file_name().to_string_lossy().to_string();
            let Some(process) = file.strip_suffix(".pid") else {
                continue;
            };
            if process.starts_with("bench-") {
                let pid = crate::stack::recorded_pid(state, process)
                    .with_context(|| format!("{file} holds no pid"))?;
                names.insert(i32::try_from(pid)?, process.to_string());
            }
        }
        let postgres = postgres::server_pid(state)?.context("PostgreSQL is not running")?;
        Ok(Self {
            names,
            postgres: i32::try_from(postgres)?,
            ticks_per_second: procfs::ticks_per_second() as f64,
        })
    }

    /// CPU seconds spent so far by the recorded processes, and by the
    /// PostgreSQL server and its backends together (a backend that exited
    /// takes its time with it; the services' connection pools keep theirs for
    /// the whole run).
    pub fn sample(&self) -> Result<Sample> {
        let mut sample = Sample::default();
        for process in all_processes()? {
            // A process may end between the listing and the reading.
            let Ok(stat) = process.and_then(|process| process.stat()) else {
                continue;
            };
            let name = if stat.pid == self.postgres || stat.ppid == self.postgres {
                POSTGRES
            } else if let Some(name) = self.names.get(&stat.pid) {
                name.as_str()
            } else {
                continue;
            };
            let spent = sample.by_process.entry(name.to_string()).or_default();
            spent.0 += stat.utime as f64 / self.ticks_per_second;
            spent.1 += stat.stime as f64 / self.ticks_per_second;
        }
        Ok(sample)
    }
}

/// CPU seconds this process (the load generator) has spent so far, user and
/// system: what the stack's figures leave out, on the same cores.
pub fn own_seconds() -> Result<f64> {
    let stat = procfs::process::Process::myself()?.stat()?;
    Ok((stat.utime + stat.stime) as f64 / procfs::ticks_per_second() as f64)
}

/// How often, and over how long a window, `wait_until_quiet` looks.
const QUIET_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

impl StackCpu {
    /// Wait until the stack uses less than `cores` of CPU over a 2 s window:
    /// the background work a bulk load leaves (index merges, autovacuum) is
    /// done, so a measurement after it sees the steady state. How long it
    /// took, and each process's cores at rest (over the last window); an error
    /// naming the last level after `timeout`.
    pub fn wait_until_quiet(
        &self,
        cores: f64,
        timeout: std::time::Duration,
    ) -> Result<(std::time::Duration, Vec<(String, f64)>)> {
        let started = std::time::Instant::now();
        loop {
            let before = self.sample()?;
            std::thread::sleep(QUIET_WINDOW);
            let window = self.sample()?.since(&before);
            let used = window.total() / QUIET_WINDOW.as_secs_f64();
            if used < cores {
                let at_rest = Self::shares(&window, QUIET_WINDOW.as_secs_f64());
                return Ok((started.elapsed(), at_rest));
            }
            if started.elapsed() > timeout {
                anyhow::bail!(
                    "the bench stack still used {used:.2} cores after {timeout:?} (waiting for less than {cores})"
                );
            }
        }
    }

    /// `wait_until_quiet`, then print how long it took and each process's
    /// cores at rest.
    pub fn settle(&self, cores: f64, timeout: std::time::Duration) -> Result<()> {
        let (settled, at_rest) = self.wait_until_quiet(cores, timeout)?;
        println!(
            "the stack settled below {cores} cores after {:.1} s; at rest {:.2} cores: {}",
            settled.as_secs_f64(),
            at_rest.iter().map(|(_, cores)| cores).sum::<f64>(),
            Self::listed(&at_rest, 0.005)
        );
        Ok(())
    }

    /// Each process's CPU milliseconds per request over `spent`, most first.
    pub fn per_request(spent: &Sample, requests: u64) -> Vec<(String, f64)> {
        Self::shares(spent, requests as f64 / 1000.0)
    }

    /// Each process's CPU seconds in `spent` divided by `per`, most first (per
    /// second of a window: cores).
    fn shares(spent: &Sample, per: f64) -> Vec<(String, f64)> {
        let mut shares: Vec<(String, f64)> = spent
            .by_process
            .iter()
            .map(|(name, (user, system))| (name.clone(), (user + system) / per))
            .collect();
        shares.sort_by(|a, b| b.1.total_cmp(&a.1));
        shares
    }

    /// `name figure, ...` of the processes whose figure is at least `least`, in
    /// the given order, without the bench stack's name prefix.
    pub fn listed(figures: &[(String, f64)], least: f64) -> String {
        figures
            .iter()
            .filter(|(_, figure)| *figure >= least)
            .map(|(name, figure)| {
                let name = name.trim_start_matches(crate::bench_stack::BENCH.name_prefix);
                format!("{name} {figure:.2}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

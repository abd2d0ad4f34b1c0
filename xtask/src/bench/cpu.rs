//! The CPU time the bench stack spends: user + system time of every process
//! `cargo xtask` recorded for it (`.nova/pids/bench-*`: the routers, subgraphs,
//! Redis, the broker) and of the PostgreSQL server with its backends, read from
//! /proc. Per request, it is what a page costs the machine, whatever else the
//! machine runs meanwhile; throughput on a shared 2-core machine is not.

use anyhow::{Context, Result};
use procfs::process::all_processes;

use crate::postgres;
use crate::stack::State;

/// The processes whose CPU time counts.
pub struct StackCpu {
    pids: Vec<i32>,
    postgres: i32,
    ticks_per_second: f64,
}

impl StackCpu {
    pub fn of(state: &State) -> Result<Self> {
        let mut pids = Vec::new();
        for entry in std::fs::read_dir(state.dir.join("pids"))? {
            let file = entry?.file_name().to_string_lossy().to_string();
            let Some(process) = file.strip_suffix(".pid") else {
                continue;
            };
            if process.starts_with("bench-") {
                let pid = crate::stack::recorded_pid(state, process)
                    .with_context(|| format!("{file} holds no pid"))?;
                pids.push(i32::try_from(pid)?);
            }
        }
        let postgres = postgres::server_pid(state)?.context("PostgreSQL is not running")?;
        Ok(Self {
            pids,
            postgres: i32::try_from(postgres)?,
            ticks_per_second: procfs::ticks_per_second() as f64,
        })
    }

    /// CPU seconds spent so far by the recorded processes, the PostgreSQL server
    /// and its backends (a backend that exited takes its time with it; the
    /// services' connection pools keep theirs for the whole run).
    pub fn seconds(&self) -> Result<f64> {
        let mut ticks = 0u64;
        for process in all_processes()? {
            // A process may end between the listing and the reading.
            let Ok(stat) = process.and_then(|process| process.stat()) else {
                continue;
            };
            let counted = self.pids.contains(&stat.pid)
                || stat.pid == self.postgres
                || stat.ppid == self.postgres;
            if counted {
                ticks += stat.utime + stat.stime;
            }
        }
        Ok(ticks as f64 / self.ticks_per_second)
    }
}

//! The policies' overhead as a share of the whole stack's CPU, from figures
//! that hold still on this shared machine: each process's share of the stack's
//! CPU time within one run (when the host slows down, it slows every process
//! alike), and the router's added work counted in instructions
//! (`instructions.rs`). Throughput ratios of separate runs do not hold still
//! here (±20% between identical runs).

use anyhow::Result;

use super::instructions::Counted;
use super::median;
use super::wrk::Measured;
use crate::bench_stack::BENCH;

/// Shares of the stack's CPU time in a policies-on run, and Redis's in the
/// policies-off run beside it.
pub struct PolicyShares {
    /// Redis, user + system. During these pages it serves nothing but the
    /// rate-limit checks.
    redis: f64,
    /// Redis's system time alone: the router's kernel side of the same round
    /// trips (a write and a read each way) is taken to be as large, since
    /// callgrind does not see kernel time.
    redis_system: f64,
    /// The router under test, user + system.
    router: f64,
    /// Redis in the policies-off run: what it spends without checks.
    redis_without_checks: f64,
}

impl PolicyShares {
    pub fn of(with: &Measured, without: &Measured) -> Result<Self> {
        let redis = BENCH.redis_process();
        let router = format!("{}router", BENCH.name_prefix);
        let share = |measured: &Measured, name: &str| -> Result<(f64, f64)> {
            let (user, system) = measured.cpu.of(name)?;
            let total = measured.cpu.total();
            Ok(((user + system) / total, system / total))
        };
        let (redis_share, redis_system) = share(with, &redis)?;
        Ok(Self {
            redis: redis_share,
            redis_system,
            router: share(with, &router)?.0,
            redis_without_checks: share(without, &redis)?.0,
        })
    }

    /// Each share's median over the runs.
    pub fn median(all: Vec<Self>) -> Self {
        let pick = |field: fn(&Self) -> f64| median(&mut all.iter().map(field).collect::<Vec<_>>());
        Self {
            redis: pick(|s| s.redis),
            redis_system: pick(|s| s.redis_system),
            router: pick(|s| s.router),
            redis_without_checks: pick(|s| s.redis_without_checks),
        }
    }

    /// The overhead's parts and the throughput ratio they leave when the
    /// stack's CPU is the limit: 1 − (Redis + the router's kernel side + the
    /// router's share × the fraction of its instructions the policies add).
    pub fn print(&self, page: &str, counted: &Counted) {
        let router_added = (counted.on - counted.off) / counted.on;
        let overhead = self.redis + self.redis_system + self.router * router_added;
        println!(
            "{page:<27} Redis {:.2}% of the stack's CPU (policies off: {:.2}%) + the router's \
             side of the round trips, taken as Redis's system time, {:.2}% + the router's \
             {:.1}% × the {:.1}% of its instructions the policies add = {:.2}%: throughput \
             ratio on/off when CPU is the limit ≈ {:.3}",
            self.redis * 100.0,
            self.redis_without_checks * 100.0,
            self.redis_system * 100.0,
            self.router * 100.0,
            router_added * 100.0,
            overhead * 100.0,
            1.0 - overhead
        );
    }
}

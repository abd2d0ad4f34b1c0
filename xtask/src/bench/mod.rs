//! `cargo xtask bench [--seconds N]`: seed a realistic data set, start the whole
//! stack in release mode beside the development one (ports 14000-14004, databases
//! `nova_bench_*`), load the router with the post-page and profile-page operations
//! from `wrk` (a separate process, loopback only, fixed duration), and print
//! requests per second, p50/p99 latency, errors and SQL statements per request per
//! subgraph. Then stop what it started.

pub mod cpu;
mod instructions;
mod overhead;
mod seed;
mod wrk;

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use uuid::Uuid;

use crate::bench_stack::{on_bench_stack, subgraphs_polling_slowly, Data, BENCH};
use crate::postgres::Postgres;
use crate::stack::{self, Service, State};

use overhead::PolicyShares;
use seed::seed;
use wrk::{run_scenario, Scenario};

/// The same build of the router with the Nova policies off (development mode,
/// no rate limits), beside the one under test, for comparison.
const POLICIES_OFF_PORT: u16 = 14010;
const POLICIES_OFF_PROCESS: &str = "bench-router-policies-off";
/// And one with only the rate limits on, to measure what one check costs.
const RATE_LIMITS_ONLY_PORT: u16 = 14011;
const RATE_LIMITS_ONLY_PROCESS: &str = "bench-router-rate-limits-only";
/// And the router under test writing a log line per request (`LOG_FILTER=info`,
/// the level before the per-request summary moved out of the default).
const REQUEST_LOG_PORT: u16 = 14012;
const REQUEST_LOG_PROCESS: &str = "bench-router-request-log";

pub fn bench(root: &Path, seconds: u64) -> Result<()> {
    if Command::new("wrk").arg("-v").output().is_err() {
        println!("installing wrk (Debian package) for the load generator");
        stack::apt_install(&["wrk"])?;
    }
    on_bench_stack(root, Data::Fresh, |bench_stack| {
        let router = bench_stack
            .services
            .last()
            .context("the router is the last service")?;
        let policies_off = router.variant(
            POLICIES_OFF_PROCESS,
            POLICIES_OFF_PORT,
            &[
                ("NOVA_ROUTER_PORT", "14010"),
                ("NOVA_SAFELIST", "false"),
                ("NOVA_RATE_LIMITS", "false"),
            ],
        );
        let rate_limits_only = policies_off.variant(
            RATE_LIMITS_ONLY_PROCESS,
            RATE_LIMITS_ONLY_PORT,
            &[("NOVA_ROUTER_PORT", "14011"), ("NOVA_RATE_LIMITS", "true")],
        );
        let request_log = router.variant(
            REQUEST_LOG_PROCESS,
            REQUEST_LOG_PORT,
            &[("NOVA_ROUTER_PORT", "14012"), ("LOG_FILTER", "info")],
        );
        let routers = [&policies_off, &rate_limits_only, &request_log];
        let subgraphs = subgraphs_polling_slowly(&bench_stack.services);
        let result = bench_stack
            .start(root, subgraphs.iter().chain([router]).chain(routers))
            .and_then(|()| {
                compare(
                    root,
                    bench_stack.state,
                    bench_stack.pg,
                    seconds,
                    (bench_stack.bin_dir, router),
                )
            });
        for process in [
            POLICIES_OFF_PROCESS,
            RATE_LIMITS_ONLY_PROCESS,
            REQUEST_LOG_PROCESS,
        ] {
            stack::stop_process(bench_stack.state, process)?;
        }
        result
    })
}

/// `cargo xtask bench policy-cost`: only the counted policy cost
/// (`instructions.rs`), on the same data and pages as the full bench.
pub fn policy_cost(root: &Path) -> Result<()> {
    on_bench_stack(root, Data::Fresh, |bench_stack| {
        let router = bench_stack
            .services
            .last()
            .context("the router is the last service")?;
        let subgraphs = subgraphs_polling_slowly(&bench_stack.services);
        bench_stack.start(root, subgraphs.iter().chain([router]))?;
        let seeded = seed(root, bench_stack.pg)?;
        let post_ids: Vec<String> = seeded.post_ids.iter().map(Uuid::to_string).collect();
        let counted = instructions::Stack {
            root,
            state: bench_stack.state,
            bin_dir: bench_stack.bin_dir,
            router,
        };
        instructions::policy_cost(
            &counted,
            &scenarios(&post_ids, &seeded.usernames),
            &seeded.viewer_token,
        )
        .map(drop)
    })
}

/// The post page and the profile page, each with the values of its variable.
fn scenarios<'a>(post_ids: &'a [String], usernames: &'a [String]) -> [Scenario<'a>; 2] {
    [
        Scenario {
            name: "post page",
            operation: "PostPage",
            variable: "id",
            values: post_ids,
        },
        Scenario {
            name: "profile page",
            operation: "ProfilePage",
            variable: "username",
            values: usernames,
        },
    ]
}

/// Paired on/off runs per page for the policy overhead: one pair varies by about
/// ±10% on a 2-core machine that runs the load generator and the whole stack, so
/// the median of several pairs is the figure.
const POLICY_PAIRS: usize = 3;

/// The middle value (the upper middle of an even count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The post and profile pages through the routers of the three variants.
fn compare(
    root: &Path,
    state: &State,
    pg: &Postgres,
    seconds: u64,
    (bin_dir, router): (&Path, &Service),
) -> Result<()> {
    let seeded = seed(root, pg)?;
    let post_ids: Vec<String> = seeded.post_ids.iter().map(Uuid::to_string).collect();
    println!(
        "\nload: wrk, 2 threads, 32 connections, {seconds}s per run, on loopback; operations \
         sent by persisted-query id; \"policies on\" = safelist + rate limits (Redis), \
         \"off\" = the same build in development mode without rate limits; JWT on in both"
    );
    let scenarios = scenarios(&post_ids, &seeded.usernames);
    let token = &seeded.viewer_token;
    let load = (seconds, 32);
    let mut shares = Vec::new();
    for scenario in &scenarios {
        let on = ("policies on", BENCH.router_port);
        let off = ("policies off", POLICIES_OFF_PORT);
        let (mut ratios, mut p50s, mut p99s) = (Vec::new(), Vec::new(), Vec::new());
        let mut cpu_ratios = Vec::new();
        let mut policy_shares = Vec::new();
        for pair in 0..POLICY_PAIRS {
            // Alternate which goes first, so a warming cache does not favour one.
            let (with, without) = if pair % 2 == 0 {
                let with = run_scenario(root, state, scenario, on, token, load)?;
                (with, run_scenario(root, state, scenario, off, token, load)?)
            } else {
                let without = run_scenario(root, state, scenario, off, token, load)?;
                (
                    run_scenario(root, state, scenario, on, token, load)?,
                    without,
                )
            };
            ratios.push(with.requests_per_second / without.requests_per_second);
            cpu_ratios.push(without.cpu_ms_per_request / with.cpu_ms_per_request);
            policy_shares.push(PolicyShares::of(&with, &without)?);
            p50s.push(with.p50_ms - without.p50_ms);
            p99s.push(with.p99_ms - without.p99_ms);
        }
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
        println!(
            "{:<27} throughput ratio on/off {:.3} (median of {POLICY_PAIRS} pairs: {})   \
             p50 {:+.2} ms   p99 {:+.2} ms with the policies (medians)",
            scenario.name,
            median(&mut ratios),
            each.join(", "),
            median(&mut p50s),
            median(&mut p99s)
        );
        let each: Vec<String> = cpu_ratios.iter().map(|r| format!("{r:.3}")).collect();
        println!(
            "{:<27} CPU ratio off/on {:.3} (median of {POLICY_PAIRS} pairs: {}): the throughput \
             the policies leave when the stack's CPU is the limit",
            scenario.name,
            median(&mut cpu_ratios),
            each.join(", ")
        );
        shares.push(PolicyShares::median(policy_shares));
    }

    // The per-request log line: the router under test with and without it,
    // on the post page (the most requests per second), alternating twice.
    println!("\nper-request log: wrk, 32 connections, {seconds}s per run, post page");
    let logged = ("request log at INFO", REQUEST_LOG_PORT);
    let quiet = ("policies on", BENCH.router_port);
    let mut ratios = Vec::new();
    for _ in 0..2 {
        let without = run_scenario(root, state, &scenarios[0], quiet, token, load)?;
        let with = run_scenario(root, state, &scenarios[0], logged, token, load)?;
        ratios.push(with.requests_per_second / without.requests_per_second);
    }
    println!(
        "a log line per request: throughput ratio logged/quiet {:.3} and {:.3} (two paired runs)",
        ratios[0], ratios[1]
    );

    // One connection, one request at a time: the latency a rate-limit check
    // adds (a Redis round trip running the bucket script), off/on twice.
    println!("\nrate-limit check: wrk, 1 connection, {seconds}s per run, profile page");
    let checked = ("rate limits only", RATE_LIMITS_ONLY_PORT);
    let unchecked = ("policies off", POLICIES_OFF_PORT);
    let sequential = (seconds, 1);
    let mut deltas = Vec::new();
    for _ in 0..2 {
        let without = run_scenario(root, state, &scenarios[1], unchecked, token, sequential)?;
        let with = run_scenario(root, state, &scenarios[1], checked, token, sequential)?;
        deltas.push(with.p50_ms - without.p50_ms);
    }
    println!(
        "rate-limit check adds p50 {:+.3} ms and {:+.3} ms (two paired runs)",
        deltas[0], deltas[1]
    );

    let counted = instructions::Stack {
        root,
        state,
        bin_dir,
        router,
    };
    let counted = instructions::policy_cost(&counted, &scenarios, token)?;

    println!(
        "\npolicy overhead from within-run shares (they hold still when the host slows every \
         process; medians of the {POLICY_PAIRS} policies-on runs) and the counted instructions:"
    );
    for ((scenario, shares), counted) in scenarios.iter().zip(&shares).zip(&counted) {
        shares.print(scenario.name, counted);
    }
    Ok(())
}

//! Developer entry points: `cargo xtask up | down | test | bench | …`; the command
//! line is in `cli.rs` (`cargo xtask --help`).

mod analytics_bench;
mod bench;
mod bench_stack;
mod cli;
mod clickhouse;
mod clients;
mod compose;
mod deploy_tools;
mod events;
mod feed_bench;
mod ffmpeg;
mod kafka;
mod live_bench;
mod load;
mod login_bench;
mod media_bench;
mod operations;
mod redis;
mod registry;
mod s3;
mod search;
mod search_bench;
mod smtp;
mod stack;

use std::process::ExitCode;

use clap::Parser;

use cli::{BenchScenario, Cli, Command};
use nova_devdb::{postgres, tools, workspace_root};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let result = match cli.command {
        Command::Up => stack::up(&root),
        Command::Down => stack::down(&root),
        Command::Test { cargo_test_args } => stack::test(&root, &cargo_test_args),
        Command::Pq { check } => operations::run_pq(&root, check),
        Command::Compose { check } => compose::run(&root, check),
        Command::Bench(cli::Bench { scenario, seconds }) => match scenario {
            None => bench::bench(&root, seconds),
            Some(BenchScenario::Events { events }) => events::bench(&root, events),
            Some(BenchScenario::Subscriptions(options)) => live_bench::bench(&root, options),
            Some(BenchScenario::Feed(options)) => feed_bench::bench(&root, options),
            Some(BenchScenario::Search(options)) => search_bench::bench(&root, options),
            Some(BenchScenario::Logins(options)) => login_bench::bench(&root, options),
            Some(BenchScenario::Media(options)) => media_bench::bench(&root, options),
            Some(BenchScenario::Analytics(options)) => analytics_bench::bench(&root, options),
            Some(BenchScenario::Registry { publishes }) => registry::bench(&root, publishes),
            Some(BenchScenario::PolicyCost) => bench::policy_cost(&root),
        },
        Command::Events(command) => events::run(command),
        Command::Search(cli::Search::Reindex) => search::reindex(&root),
        Command::UnusedDeps => tools::unused_deps(&root),
        Command::Smoke { url } => smoke(&url),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask smoke`: each step as it passes, the first failure as the error.
fn smoke(url: &str) -> anyhow::Result<()> {
    println!("smoke journey against {url}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = std::time::Instant::now();
    runtime.block_on(nova_smoke::run(url, |step| {
        println!(
            "  ok  {:<50} {:>8.0} ms",
            step.name,
            step.took.as_secs_f64() * 1000.0
        );
    }))?;
    println!("passed in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

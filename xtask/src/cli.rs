//! The command line of `cargo xtask`, parsed by clap (`cargo xtask --help`,
//! `cargo xtask bench feed --help`, …). Each bench's own options live beside it.

use clap::{Args, Parser, Subcommand};

use crate::{analytics_bench, feed_bench, live_bench, login_bench, media_bench, search_bench};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Nova's developer commands: bring the supergraph up, test, benchmark, operate"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Install what is missing, start Postgres, the subgraphs and the router in
    /// the background (state and logs in .nova/), wait until ready, print the
    /// router URL. Safe to run twice.
    Up,
    /// Stop everything `up` started.
    Down,
    /// Start what the tests need and run every test in the workspace; arguments
    /// after `test` go to `cargo test` (for example `--test feed`).
    Test {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_test_args: Vec<String>,
    },
    /// Write persisted-queries/manifest.json (Apollo's persisted query manifest)
    /// from persisted-queries/*/*.graphql with Apollo's generator (Node.js).
    Pq {
        /// Fail when the committed manifest is stale instead of writing it.
        #[arg(long)]
        check: bool,
    },
    /// Write schema/*.graphql and schema/supergraph.graphql from the subgraphs' code.
    Compose {
        /// Fail when the committed files are stale instead of writing them.
        #[arg(long)]
        check: bool,
    },
    /// Fail when a crate declares a dependency its code never names
    /// (cargo-machete, built once into ~/.cache/nova/tools).
    UnusedDeps,
    /// Benchmarks on a release stack beside the development one; they print numbers.
    Bench(Bench),
    /// The event topics: follow one, inspect and replay dead letters.
    #[command(subcommand)]
    Events(Events),
    /// Operate the development stack's search index.
    #[command(subcommand)]
    Search(Search),
    /// The cross-service smoke journey against a running Nova (register, log in,
    /// profile, post, feed, live chat over WebSocket, notification, photo upload),
    /// every operation by its persisted id; exits 1 at the first failed step.
    Smoke {
        /// The router's base URL.
        #[arg(long, default_value = "http://127.0.0.1:4000")]
        url: String,
    },
}

/// Without a scenario: seed a data set, load the router with wrk, print
/// throughput, latency, errors and SQL statements per request.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Bench {
    #[command(subcommand)]
    pub scenario: Option<BenchScenario>,
    /// Seconds of load per measured run.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
}

#[derive(Subcommand)]
pub enum BenchScenario {
    /// Produce and consume throughput on a fresh local broker, and the outbox's
    /// write-to-consumer delay at a fixed write rate.
    Events {
        /// Events produced and consumed in the throughput run.
        #[arg(long, default_value_t = 20_000)]
        events: usize,
    },
    /// Chat subscribers over WebSocket through the router and a sender at a fixed
    /// rate: delivered vs sent, fan-out latency p50/p99, memory.
    Subscriptions(live_bench::Options),
    /// The home feed at scale: backfill, cold rebuilds, Redis memory per
    /// timeline, HomeFeed pages at a fixed arrival rate, fan-out delays.
    Feed(feed_bench::Options),
    /// Search at scale: indexing from events, Search at a fixed arrival rate
    /// (p50/p99, errors), event-to-searchable delay.
    Search(search_bench::Options),
    /// A cheap query's latency during a login storm, with identity's password
    /// hashing unbounded and bounded.
    Logins(login_bench::Options),
    /// 12-megapixel photo uploads end to end (intent, PUT, complete, READY):
    /// uploads/s, time to READY p50/p99, the media worker's peak memory.
    Media(media_bench::Options),
    /// Analytics: ingestion events/s (Kafka → ClickHouse), PostStats and
    /// CreatorStats p99 over 10 million events, FOR_YOU pages p99 at 200/s.
    Analytics(analytics_bench::Options),
    /// Only the router policies' counted cost: instructions per request of the
    /// router with them on and off, and of Redis per check, under valgrind's
    /// callgrind (the full bench ends with the same figures).
    PolicyCost,
    /// Compatible publishes through the schema registry, each timed until the
    /// router serves it: p50/p99.
    Registry {
        /// Publishes to time.
        #[arg(long, default_value_t = 20)]
        publishes: usize,
    },
}

/// The broker is KAFKA_BROKERS, or the development broker.
#[derive(Subcommand)]
pub enum Events {
    /// Print a topic's events as they arrive.
    Tail {
        topic: String,
        /// Start from the topic's first message instead of its end.
        #[arg(long)]
        from_beginning: bool,
    },
    /// Dead letters: what consumers could not apply.
    #[command(subcommand)]
    Dlq(DeadLetters),
}

#[derive(Subcommand)]
pub enum DeadLetters {
    /// Every message a consumer dead-lettered, with its error.
    List,
    /// Send a consumer's dead letters not replayed before to its retry topic
    /// (once the cause is fixed).
    Replay { consumer: String },
}

#[derive(Subcommand)]
pub enum Search {
    /// Rebuild the index of the stack `up` started from search's tables and swap
    /// it in while queries go on.
    Reindex,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn test_passes_cargo_test_arguments_through() {
        let cli =
            Cli::try_parse_from(["xtask", "test", "--test", "feed", "--", "--nocapture"]).unwrap();
        let Command::Test { cargo_test_args } = cli.command else {
            panic!("not the test command");
        };
        assert_eq!(cargo_test_args, ["--test", "feed", "--", "--nocapture"]);
    }

    #[test]
    fn bench_without_a_scenario_is_the_router_bench() {
        let cli = Cli::try_parse_from(["xtask", "bench", "--seconds", "5"]).unwrap();
        let Command::Bench(bench) = cli.command else {
            panic!("not the bench command");
        };
        assert!(bench.scenario.is_none());
        assert_eq!(bench.seconds, 5);
    }

    #[test]
    fn a_number_option_refuses_words() {
        let error = Cli::try_parse_from(["xtask", "bench", "feed", "--rate", "many"])
            .err()
            .expect("refused");
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
    }
}

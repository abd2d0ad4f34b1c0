//! Developer entry points: `cargo xtask up | down | test | compose [--check]`.

mod bench;
mod bench_stack;
mod compose;
mod events;
mod feed_bench;
mod kafka;
mod live_bench;
mod load;
mod operations;
mod postgres;
mod redis;
mod registry;
mod search;
mod search_bench;
mod stack;

use std::path::PathBuf;
use std::process::ExitCode;

/// The workspace root (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// The whole number after `name` in `args`, or `default` when `name` is absent.
pub fn number_option<T: std::str::FromStr>(
    args: &[String],
    name: &str,
    default: T,
) -> anyhow::Result<T> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{name} takes a whole number")),
        None => Ok(default),
    }
}

const USAGE: &str = "usage: cargo xtask <command>

  up                 install what is missing, start Postgres, the subgraphs and the
                     router in the background (state and logs in .nova/), wait until
                     ready, print the router URL. Safe to run twice.
  down               stop everything `up` started
  test               start what the tests need and run every test in the workspace
  pq [--check]       write persisted-queries/manifest.json (Apollo's persisted query
                     manifest) from persisted-queries/*.graphql; --check fails when stale
  bench [--seconds N] seed a data set, start a release stack beside the development
                     one, load the router with wrk, print throughput, latency,
                     errors and SQL statements per request
  bench events [--events N]
                     produce and consume throughput on a fresh local broker, and
                     the outbox's write-to-consumer delay at a fixed write rate
  bench subscriptions [--subscribers N] [--group-size N] [--users N]
                     [--connections-per-user N] [--rate N] [--seconds N]
                     chat subscribers over WebSocket through the router and a
                     sender at a fixed rate: delivered vs sent, fan-out latency
                     p50/p99, memory of the router and subgraphs
  bench feed [--users N] [--posts N] [--viewers N] [--rate N] [--seconds N]
                     the home feed at scale: backfill, cold rebuilds and Redis
                     memory per timeline, HomeFeed pages at a fixed arrival rate
                     (p50/p99, errors, SQL per request), fan-out delay of a
                     10 000-follower account and of one above the fan-out limit
  bench search [--users N] [--posts N] [--rate N] [--seconds N] [--probes N]
                     search at scale: indexing from events (documents/s, index
                     size), Search at a fixed arrival rate with exact, prefix and
                     misspelled queries (p50/p99, errors), event-to-searchable delay
  bench registry [--publishes N]
                     compatible publishes through the schema registry, each timed
                     until the router serves it: p50/p99
  events tail <topic> [--from-beginning]
                     print a topic's events as they arrive (KAFKA_BROKERS, or the
                     development broker)
  events dlq list    every message a consumer dead-lettered, with its error
  events dlq replay <consumer>
                     send that consumer's dead letters not replayed before to its
                     retry topic (once the cause is fixed)
  search reindex     rebuild the search index of the stack `up` started from
                     search's tables and swap it in while queries go on
  compose [--check]  write schema/*.graphql and schema/supergraph.graphql from the
                     subgraphs' code; --check fails when the committed files are stale";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("up") => stack::up(&root),
        Some("down") => stack::down(&root),
        Some("test") => stack::test(&root, &args[1..]),
        Some("bench") if args.get(1).map(String::as_str) == Some("events") => {
            events::bench(&root, &args[2..])
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("feed") => {
            feed_bench::bench(&root, &args[2..])
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("registry") => {
            registry::bench(&root, &args[2..])
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("search") => {
            search_bench::bench(&root, &args[2..])
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("subscriptions") => {
            live_bench::bench(&root, &args[2..])
        }
        Some("bench") => bench::bench(&root, &args[1..]),
        Some("events") => events::run(&args[1..]),
        Some("search") => search::run(&root, &args[1..]),
        Some("pq") => operations::run_pq(&root, args.iter().any(|a| a == "--check")),
        Some("compose") => compose::run(&root, args.iter().any(|a| a == "--check")),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

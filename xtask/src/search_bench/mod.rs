//! `cargo xtask bench search`: search at scale, on the release bench stack
//! (ports 14000+, every router policy on: safelist, rate limits, JWT).
//!
//! 1. Seed (`seed.rs`) accounts and posts in the owners' databases with their
//!    events in the owners' outboxes; time until search has applied every event
//!    and written every document into its index (relay, broker, consumer and
//!    index writer together): documents per second, and the index's size.
//! 2. `Search` at a fixed arrival rate (open model) with a mix of exact
//!    usernames, prefixes as typed, misspelled words and two-word queries:
//!    p50/p99, errors, hits per query.
//! 3. Posts created through the router, each searched for until found: the
//!    event-to-searchable delay p50/p99.

mod measure;
mod seed;

use measure::{measure, Load};

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::bench::cpu::StackCpu;
use crate::bench_stack::{analyze, on_bench_stack, password_hash, sign_up, Data, BENCH};
use crate::postgres::{self, Postgres};
use crate::stack::State;

#[derive(clap::Args)]
pub struct Options {
    /// Accounts seeded.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Posts seeded.
    #[arg(long, default_value_t = 100_000)]
    posts: usize,
    /// Search requests per second (open model).
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Seconds of load.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds of load at the same rate before the measured run, not counted:
    /// the stack's connections and caches warm up (its p99 is printed too).
    #[arg(long, default_value_t = 5)]
    warm_up: u64,
    /// Posts created and searched for until found (event-to-searchable delay).
    #[arg(long, default_value_t = 50)]
    probes: usize,
    /// Keep the data set of the last run instead of seeding a new one.
    #[arg(long)]
    reuse: bool,
}

pub fn bench(root: &Path, options: Options) -> Result<()> {
    let Options {
        users,
        posts,
        rate,
        seconds,
        warm_up,
        probes,
        reuse,
    } = options;
    if users < 1 || rate < 1 || probes < 1 {
        bail!("--users, --rate and --probes must be at least 1");
    }
    let data = if reuse { Data::Keep } else { Data::Fresh };
    on_bench_stack(root, data, |bench_stack| {
        bench_stack.start(root, &bench_stack.services)?;
        let (state, pg) = (bench_stack.state, bench_stack.pg);
        if reuse {
            check_reusable(pg, posts)?;
        }
        // A viewer of its own each run: a reused data set has the last one.
        let viewer_name = format!("viewer{}", std::process::id());
        let viewer = sign_up(root, &viewer_name)?;
        if !reuse {
            let hash = password_hash(pg, &viewer.id)?;
            let processed_before = processed(pg)?;
            let seeded = seed::seed(pg, users, posts, &hash)?;
            println!(
                "seeded {users} accounts and {posts} posts with their {} events",
                seeded.events
            );
            wait_indexed(state, pg, processed_before + seeded.events, &seeded)?;
            analyze(pg)?;
        }
        // Measured in the steady state, not during the merges and autovacuum a
        // bulk load leaves behind.
        let cpu = StackCpu::of(state)?;
        cpu.settle(QUIET_CORES, Duration::from_secs(300))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let load = Load {
            users,
            rate,
            seconds,
            warm_up,
        };
        runtime.block_on(measure(root, &viewer.token, &cpu, load, probes))
    })
}

/// With `--reuse`: the last run's data set is whole (as many posts as asked
/// for, nothing left to index), or the bench stops.
fn check_reusable(pg: &Postgres, posts: usize) -> Result<()> {
    let indexed = search_count(pg, "SELECT count(*) FROM posts")?;
    let queued = search_count(pg, QUEUED)?;
    if indexed < posts || queued > 0 {
        bail!("--reuse: the bench databases hold {indexed} posts with {queued} documents queued, not a finished data set of {posts} posts; run without --reuse first");
    }
    println!("reusing the last run's data set ({indexed} posts indexed)");
    Ok(())
}

/// Documents waiting for the index writer.
const QUEUED: &str = "SELECT count(*) FROM index_queue";

/// The number a `SELECT count(*) …` on the bench's search database returns.
fn search_count(pg: &Postgres, sql: &str) -> Result<usize> {
    let count: i64 = postgres::value(pg, &BENCH.database("search"), sql)?;
    Ok(usize::try_from(count)?)
}

/// Events search's consumer has applied.
fn processed(pg: &Postgres) -> Result<usize> {
    search_count(
        pg,
        "SELECT count(*) FROM processed_events WHERE consumer = 'search.index.main'",
    )
}

/// Wait until search applied `events` events in all and its index queue is
/// empty; print the throughput and the index's size.
fn wait_indexed(state: &State, pg: &Postgres, events: usize, seeded: &seed::Seeded) -> Result<()> {
    let started = Instant::now();
    loop {
        let queued = search_count(pg, QUEUED)?;
        if queued == 0 && processed(pg)? >= events {
            break;
        }
        if started.elapsed() > Duration::from_secs(1800) {
            bail!("search had not indexed the seeded events after 30 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let seconds = started.elapsed().as_secs_f64();
    let bytes = folder_size(&state.dir.join(format!("{}search-index", BENCH.name_prefix)))?;
    println!(
        "indexed from events (relay, broker, consumer, index writer): {} documents ({} events) in {seconds:.1} s: {:.0} documents/s; index on disk {:.1} MiB",
        seeded.documents,
        seeded.events,
        seeded.documents as f64 / seconds,
        bytes as f64 / 1024.0 / 1024.0
    );
    Ok(())
}

fn folder_size(path: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        total += if metadata.is_dir() {
            folder_size(&entry.path())?
        } else {
            metadata.len()
        };
    }
    Ok(total)
}

/// The stack's CPU use below which it counts as settled: at rest it used 0.28–0.47
/// cores here, the local broker's idle fetches the largest share.
const QUIET_CORES: f64 = 0.8;

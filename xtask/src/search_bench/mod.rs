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

mod seed;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::bench::cpu::StackCpu;
use crate::bench_stack::{
    analyze, document_id, on_bench_stack, password_hash, persisted_as, post_persisted, sign_up,
    Data, BENCH,
};
use crate::load::{histogram, ms, open_model};
use crate::postgres::{self, Postgres};
use crate::stack::{self, State};

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
        let (settled, at_rest) = cpu.wait_until_quiet(QUIET_CORES, Duration::from_secs(300))?;
        println!(
            "the stack settled below {QUIET_CORES} cores after {:.1} s; at rest {:.2} cores: {}",
            settled.as_secs_f64(),
            at_rest.iter().map(|(_, cores)| cores).sum::<f64>(),
            StackCpu::listed(&at_rest, 0.005)
        );
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

/// Query `i` of the mix: an exact username, a word as typed so far, a word
/// with one typo or a transposition, two words.
fn query(i: u64, users: usize) -> String {
    let n = i as usize * 7919;
    let word = seed::word(n % 400);
    match i % 4 {
        0 => format!("user{}", n % users),
        1 => word[..4.min(word.len())].to_string(),
        2 => {
            let mut letters: Vec<char> = word.chars().collect();
            if i % 8 == 2 {
                letters.swap(1, 2);
            } else {
                letters[2] = 'x';
            }
            letters.into_iter().collect()
        }
        _ => format!("{} {}", word, &seed::word(n % 97)[..3]),
    }
}

struct Client {
    http: reqwest::Client,
    url: String,
    search_id: String,
    token: String,
}

impl Client {
    /// One `Search`: the ids of its hits, or an error.
    async fn search(&self, text: &str) -> Result<Vec<String>> {
        let variables = json!({ "query": text, "first": 20 });
        let operation = ("Search", self.search_id.as_str());
        let token = Some(self.token.as_str());
        let data = post_persisted(&self.http, &self.url, operation, variables, token).await?;
        Ok(data["search"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let node = &e["node"];
                node["post"]["id"]
                    .as_str()
                    .or(node["user"]["id"].as_str())
                    .or(node["name"].as_str())
                    .map(str::to_string)
            })
            .collect())
    }
}

/// The subgraphs a `Search` reaches through the router (the router's request log
/// lists them as `involved_subgraphs`).
const SEARCH_PATH: [&str; 5] = ["search", "content", "users", "identity", "social"];

/// Per subgraph on `SEARCH_PATH`: GraphQL queries served and seconds spent in
/// them, from its `/metrics`. `before_any_query`: a subgraph that has served no
/// query yet has no series for them, which then reads as none served.
fn query_time_by_subgraph(before_any_query: bool) -> Result<Vec<(f64, f64)>> {
    SEARCH_PATH
        .iter()
        .map(|name| {
            let text = stack::metrics_text(BENCH.port_of(name)?)?;
            let series = |suffix: &str| {
                nova_core::scrape::sample_value(
                    &text,
                    &format!(
                        "nova_graphql_request_duration_seconds_{suffix}{{operation=\"query\"}}"
                    ),
                )
            };
            match (series("count"), series("sum")) {
                (Some(count), Some(sum)) => Ok((count, sum)),
                (None, None) if before_any_query => Ok((0.0, 0.0)),
                _ => bail!("no query duration histogram in {name}'s /metrics"),
            }
        })
        .collect()
}

/// Where a search's time goes: each subgraph's calls per search and mean time
/// per call during the load.
fn print_query_time(before: &[(f64, f64)], after: &[(f64, f64)], searches: u64) {
    for ((name, (count0, sum0)), (count1, sum1)) in SEARCH_PATH.iter().zip(before).zip(after) {
        let calls = count1 - count0;
        if calls == 0.0 {
            println!("  {name:<8} no calls");
            continue;
        }
        println!(
            "  {name:<8} {:.2} calls per search, {:.2} ms per call",
            calls / searches as f64,
            (sum1 - sum0) / calls * 1000.0
        );
    }
}

/// The stack's CPU use below which it counts as settled (idle, the local
/// broker alone answers its consumers' fetches with about 0.4 of a core).
const QUIET_CORES: f64 = 0.8;

/// The search load: `rate` requests per second for `seconds`, over `users`.
/// `Search` at `rate` for `seconds`, request `i` sending query `first + i` of
/// the mix: latencies, errors and hits found.
async fn search_at_rate(
    client: Arc<Client>,
    users: usize,
    rate: u64,
    seconds: u64,
    first: u64,
) -> Result<(hdrhistogram::Histogram<u64>, usize, usize)> {
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    let (latency, errors) = open_model(rate, seconds, move |i| {
        let (client, hits) = (client.clone(), counted.clone());
        async move {
            match client.search(&query(first + i, users)).await {
                Ok(found) => {
                    hits.fetch_add(found.len(), std::sync::atomic::Ordering::Relaxed);
                    true
                }
                Err(_) => false,
            }
        }
    })
    .await?;
    Ok((
        latency,
        errors,
        hits.load(std::sync::atomic::Ordering::Relaxed),
    ))
}

struct Load {
    users: usize,
    rate: u64,
    seconds: u64,
    warm_up: u64,
}

async fn measure(
    root: &Path,
    token: &str,
    cpu: &StackCpu,
    Load {
        users,
        rate,
        seconds,
        warm_up,
    }: Load,
    probes: usize,
) -> Result<()> {
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        url: format!("http://127.0.0.1:{}/graphql", BENCH.router_port),
        search_id: document_id(root, "Search")?,
        token: token.to_string(),
    });
    println!("\nload: {rate} Search requests/s, open model (latency from each request's due time); exact usernames, prefixes, typos, two words; first 20");
    // The warm-up's queries come after the measured ones in the mix.
    let measured = rate * seconds;
    let (latency, errors, _) =
        search_at_rate(client.clone(), users, rate, warm_up, measured).await?;
    println!(
        "warm-up    p50 {:>7.2} ms   p99 {:>7.2} ms   errors {errors}/{}   ({warm_up} s, not counted)",
        ms(&latency, 0.5),
        ms(&latency, 0.99),
        rate * warm_up
    );
    let before = query_time_by_subgraph(true)?;
    let cpu_before = cpu.sample()?;
    let (latency, errors, hits) = search_at_rate(client.clone(), users, rate, seconds, 0).await?;
    let total = measured;
    println!(
        "search     p50 {:>7.2} ms   p99 {:>7.2} ms   errors {errors}/{total}   hits per query {:.1}   ({seconds} s)",
        ms(&latency, 0.5),
        ms(&latency, 0.99),
        hits as f64 / total as f64
    );
    let spent = cpu.sample()?.since(&cpu_before);
    print_query_time(&before, &query_time_by_subgraph(false)?, total);
    let per_search = StackCpu::per_request(&spent, total);
    println!(
        "  CPU per search {:.2} ms ({:.2} cores): {}",
        spent.total() * 1000.0 / total as f64,
        spent.total() / seconds as f64,
        StackCpu::listed(&per_search, 0.05)
    );

    // Event to searchable: create a post with a word of its own, search until found.
    let mut delay = histogram();
    for i in 0..probes {
        let marker = format!("benchprobe{i}marker");
        let created = persisted_as(
            root,
            "CreatePost",
            json!({ "body": format!("searchable soon {marker}") }),
            Some(token),
        )?;
        let post = created["createPost"]["id"]
            .as_str()
            .context("no post id")?
            .to_string();
        let started = Instant::now();
        while !client.search(&marker).await?.contains(&post) {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("a new post was not searchable after 30 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        delay.record(started.elapsed().as_micros() as u64)?;
    }
    println!(
        "\npost created through the router until found by search ({probes} posts): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(&delay, 0.5),
        ms(&delay, 0.99),
        ms(&delay, 1.0)
    );
    Ok(())
}

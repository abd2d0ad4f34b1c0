//! `cargo xtask bench analytics`, on the release bench stack (ports 14000+,
//! every router policy on; the subgraphs' broker fetches wait 500 ms,
//! `subgraphs_polling_slowly`):
//!
//! 1. Seed through the router: authors with posts, viewers following them.
//! 2. Ingestion: with analytics stopped, `--ingest` likes produced to
//!    `nova.social`; then analytics starts and drains the backlog (Kafka →
//!    batch → ClickHouse), timed from its start: events/s.
//! 3. `--events` rows (10 million) loaded into ClickHouse's `events` with one
//!    `INSERT … SELECT` (a tenth of them on the seeded authors' posts).
//! 4. Once the stack is at rest again (the likes' backlog reached the other
//!    consumers too): `HomeFeedForYou` first pages at `--rate` (200/s), the
//!    same page LATEST (`HomeFeed`) at that rate, then `PostStats` and
//!    `CreatorStats` at `--stats-rate` (10/s), through the router, each after
//!    `--warm-up` seconds not counted: p50/p99, errors, CPU per request by
//!    process. Last, FOR_YOU with every first page ranked anew at
//!    `--fresh-rate`.

mod seed;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::bench::cpu::{own_seconds, StackCpu};
use crate::bench_stack::{
    document_id, on_bench_stack, post_persisted_checked, subgraphs_polling_slowly, Data, BENCH,
};
use crate::load::{ms, open_model};
use crate::stack;

#[derive(clap::Args)]
pub struct Options {
    /// Events loaded into ClickHouse for the read measurements.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Events sent through Kafka to time ingestion.
    #[arg(long, default_value_t = 200_000)]
    ingest: u64,
    /// HomeFeedForYou requests per second (open model).
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// PostStats and CreatorStats requests per second (open model): a
    /// dashboard's rate, not a feed's.
    #[arg(long, default_value_t = 10)]
    stats_rate: u64,
    /// HomeFeedForYou requests per second with every first page ranked anew
    /// (the feed restarted with FEED_FOR_YOU_REUSE_SECONDS=0).
    #[arg(long, default_value_t = 50)]
    fresh_rate: u64,
    /// Seconds of load per measured run.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds of load before each measured run, not counted (connections,
    /// caches and the first rankings).
    #[arg(long, default_value_t = 5)]
    warm_up: u64,
    /// Accounts that read FOR_YOU during the load.
    #[arg(long, default_value_t = 200)]
    viewers: usize,
}

pub fn bench(root: &Path, options: Options) -> Result<()> {
    if options.events < 1 || options.ingest < 1 || options.rate < 1 || options.viewers < 1 {
        bail!("--events, --ingest, --rate and --viewers must be at least 1");
    }
    on_bench_stack(root, Data::Fresh, |bench_stack| {
        let subgraphs = subgraphs_polling_slowly(&bench_stack.services);
        let router = bench_stack.services.last().context("the router")?;
        bench_stack.start(root, subgraphs.iter().chain([router]))?;
        let seeded = seed::seed(root, options.viewers)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        // Ingestion: a backlog waiting on the broker, drained from a start.
        let analytics = subgraphs
            .iter()
            .find(|s| s.name == format!("{}analytics", BENCH.name_prefix))
            .context("the analytics service")?;
        stack::stop_process(bench_stack.state, &analytics.name)?;
        runtime.block_on(seed::produce_likes(&seeded, options.ingest))?;
        let started = Instant::now();
        stack::start(bench_stack.state, bench_stack.bin_dir, root, analytics)?;
        seed::time_backlog(started, options.ingest)?;
        runtime.block_on(seed::load_events(&seeded, options.events))?;
        let cpu = StackCpu::of(bench_stack.state)?;
        settle(&cpu)?;
        runtime.block_on(measure(root, &cpu, &seeded, &options))?;
        println!("HomeFeedForYou, every first page ranked anew (FEED_FOR_YOU_REUSE_SECONDS=0):");
        let feed = subgraphs
            .iter()
            .find(|s| s.name == format!("{}feed", BENCH.name_prefix))
            .context("the feed service")?;
        let fresh = feed.variant(
            &feed.name,
            feed.port(),
            &[("FEED_FOR_YOU_REUSE_SECONDS", "0")],
        );
        stack::stop_process(bench_stack.state, &feed.name)?;
        stack::start_ready(bench_stack.state, bench_stack.bin_dir, root, &fresh)?;
        // The restarted feed has a new pid.
        let cpu = StackCpu::of(bench_stack.state)?;
        settle(&cpu)?;
        let fresh_load = Load {
            rate: options.fresh_rate,
            seconds: options.seconds,
            warm_up: options.warm_up,
        };
        runtime.block_on(feed_page(root, &cpu, &seeded, "HomeFeedForYou", fresh_load))
    })
}

/// The stack's CPU use below which it counts as settled: at rest it used 0.27
/// cores here (the broker's idle fetches 0.09), and 0.78 while notifications
/// was still applying the ingestion step's likes.
const SETTLED_CORES: f64 = 0.45;

/// Wait until the stack has digested what the set-up left (the likes'
/// backlog reaches notifications and the feed too, ClickHouse merges the
/// load), so the measured runs see the steady state; print the CPU at rest.
fn settle(cpu: &StackCpu) -> Result<()> {
    cpu.settle(SETTLED_CORES, Duration::from_secs(900))
}

/// A fixed arrival rate for a number of seconds, after `warm_up` seconds of
/// the same load that are not counted.
#[derive(Clone, Copy)]
struct Load {
    rate: u64,
    seconds: u64,
    warm_up: u64,
}

/// One shipped operation at a fixed rate, each request by `tokens[i % n]` with
/// `variables(i)`; prints p50/p99, errors and the CPU each request cost each
/// process of the stack.
async fn run_at_rate(
    root: &Path,
    cpu: &StackCpu,
    operation: &'static str,
    Load {
        rate,
        seconds,
        warm_up,
    }: Load,
    tokens: Arc<Vec<String>>,
    variables: impl Fn(u64) -> serde_json::Value + Send + Sync + 'static,
) -> Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = format!("http://127.0.0.1:{}/graphql", BENCH.router_port);
    let id: Arc<str> = document_id(root, operation)?.into();
    let variables = Arc::new(variables);
    let request = move |i: u64| {
        let (http, url, id, tokens, variables) = (
            http.clone(),
            url.clone(),
            id.clone(),
            tokens.clone(),
            variables.clone(),
        );
        async move {
            let token = &tokens[i as usize % tokens.len()];
            let answer = post_persisted_checked(&http, &url, (operation, &id), variables(i), token);
            match answer.await {
                Ok(_) => true,
                Err(error) => {
                    if i.is_multiple_of(1000) {
                        eprintln!("{operation}: {error:#}");
                    }
                    false
                }
            }
        }
    };
    if warm_up > 0 {
        let (latency, errors) = open_model(rate, warm_up, request.clone()).await?;
        println!(
            "{:<16} {rate:>4}/s for {warm_up} s: p50 {:>7.2} ms   p99 {:>7.2} ms   errors {errors}/{}   (warm-up, not counted)",
            "",
            ms(&latency, 0.5),
            ms(&latency, 0.99),
            rate * warm_up
        );
    }
    let cpu_before = cpu.sample()?;
    let generator_before = own_seconds()?;
    let (latency, errors) = open_model(rate, seconds, request).await?;
    let generator = own_seconds()? - generator_before;
    println!(
        "{operation:<16} {rate:>4}/s for {seconds} s: p50 {:>7.2} ms   p99 {:>7.2} ms   errors {errors}/{}",
        ms(&latency, 0.5),
        ms(&latency, 0.99),
        rate * seconds
    );
    let spent = cpu.sample()?.since(&cpu_before);
    let total = rate * seconds;
    println!(
        "  CPU per request {:.2} ms ({:.2} cores): {}; the load generator used {:.2} cores besides",
        spent.total() * 1000.0 / total as f64,
        spent.total() / seconds as f64,
        StackCpu::listed(&StackCpu::per_request(&spent, total), 0.05),
        generator / seconds as f64
    );
    Ok(())
}

/// First pages of a home feed operation (`HomeFeed`: LATEST,
/// `HomeFeedForYou`), the viewers in turn.
async fn feed_page(
    root: &Path,
    cpu: &StackCpu,
    seeded: &seed::Seeded,
    operation: &'static str,
    load: Load,
) -> Result<()> {
    let viewer_tokens: Arc<Vec<String>> =
        Arc::new(seeded.viewers.iter().map(|v| v.token.clone()).collect());
    run_at_rate(
        root,
        cpu,
        operation,
        load,
        viewer_tokens,
        |_| json!({ "first": 20 }),
    )
    .await
}

async fn measure(
    root: &Path,
    cpu: &StackCpu,
    seeded: &seed::Seeded,
    options: &Options,
) -> Result<()> {
    let today = chrono::Utc::now().date_naive();
    let month_ago = today - chrono::Duration::days(30);
    println!(
        "\nthrough the router, open model (latency from each request's due time), over {} events:",
        options.events
    );
    let started = Instant::now();
    let load = Load {
        rate: options.rate,
        seconds: options.seconds,
        warm_up: options.warm_up,
    };
    println!("HomeFeedForYou: a viewer's ranking is reused for 30 s (FEED_FOR_YOU_REUSE_SECONDS)");
    feed_page(root, cpu, seeded, "HomeFeedForYou", load).await?;
    println!("HomeFeed (LATEST, the same page unranked) for comparison:");
    feed_page(root, cpu, seeded, "HomeFeed", load).await?;
    let stats_load = Load {
        rate: options.stats_rate,
        seconds: options.seconds,
        warm_up: options.warm_up,
    };
    // Each author asks for their own posts' stats.
    let author_tokens: Arc<Vec<String>> =
        Arc::new(seeded.authors.iter().map(|a| a.token.clone()).collect());
    let posts = Arc::new(seeded.posts.clone());
    let (from, to) = (month_ago.to_string(), today.to_string());
    {
        let (posts, from, to) = (posts.clone(), from.clone(), to.clone());
        let authors = seeded.authors.len() as u64;
        run_at_rate(
            root,
            cpu,
            "PostStats",
            stats_load,
            author_tokens.clone(),
            move |i| {
                // Request i is sent by author i % authors: one of their posts.
                let author = (i % authors) as usize;
                let theirs = &posts[author];
                let post = &theirs[(i / authors) as usize % theirs.len()];
                json!({ "id": post, "from": from, "to": to })
            },
        )
        .await?;
    }
    run_at_rate(
        root,
        cpu,
        "CreatorStats",
        stats_load,
        author_tokens,
        move |_| json!({ "from": from, "to": to }),
    )
    .await?;
    println!(
        "(measured runs took {:.0} s; FOR_YOU target: p99 < 80 ms)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

//! `cargo xtask bench analytics`, on the release bench stack (ports 14000+,
//! every router policy on):
//!
//! 1. Seed through the router: authors with posts, viewers following them.
//! 2. Ingestion: with analytics stopped, `--ingest` likes produced to
//!    `nova.social`; then analytics starts and drains the backlog (Kafka →
//!    batch → ClickHouse), timed from its start: events/s.
//! 3. `--events` rows (10 million) loaded into ClickHouse's `events` with one
//!    `INSERT … SELECT` (a tenth of them on the seeded authors' posts).
//! 4. `HomeFeedForYou` first pages at `--rate` (200/s), then `PostStats` and
//!    `CreatorStats` at `--stats-rate` (10/s), through the router: p50/p99,
//!    errors.

mod seed;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::bench_stack::{document_id, on_bench_stack, post_persisted, Data, BENCH};
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
    /// Accounts that read FOR_YOU during the load.
    #[arg(long, default_value_t = 200)]
    viewers: usize,
}

pub fn bench(root: &Path, options: Options) -> Result<()> {
    if options.events < 1 || options.ingest < 1 || options.rate < 1 || options.viewers < 1 {
        bail!("--events, --ingest, --rate and --viewers must be at least 1");
    }
    on_bench_stack(root, Data::Fresh, |bench_stack| {
        bench_stack.start(root, &bench_stack.services)?;
        let seeded = seed::seed(root, options.viewers)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        // Ingestion: a backlog waiting on the broker, drained from a start.
        let analytics = bench_stack
            .services
            .iter()
            .find(|s| s.name == format!("{}analytics", BENCH.name_prefix))
            .context("the analytics service")?;
        stack::stop_process(bench_stack.state, &analytics.name)?;
        runtime.block_on(seed::produce_likes(&seeded, options.ingest))?;
        let started = Instant::now();
        stack::start(bench_stack.state, bench_stack.bin_dir, root, analytics)?;
        seed::time_backlog(started, options.ingest)?;
        runtime.block_on(async {
            seed::load_events(&seeded, options.events).await?;
            measure(root, &seeded, &options).await
        })?;
        // Every first page ranked anew: the feed without reuse.
        let feed = bench_stack
            .services
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
        runtime.block_on(for_you(root, &seeded, options.fresh_rate, options.seconds))
    })
}

/// One shipped operation at a fixed rate, each request by `tokens[i % n]` with
/// `variables(i)`; prints p50/p99 and errors.
async fn run_at_rate(
    root: &Path,
    operation: &'static str,
    rate: u64,
    seconds: u64,
    tokens: Arc<Vec<String>>,
    variables: impl Fn(u64) -> serde_json::Value + Send + Sync + 'static,
) -> Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = format!("http://127.0.0.1:{}/graphql", BENCH.router_port);
    let id: Arc<str> = document_id(root, operation)?.into();
    let variables = Arc::new(variables);
    let (latency, errors) = open_model(rate, seconds, move |i| {
        let (http, url, id, tokens, variables) = (
            http.clone(),
            url.clone(),
            id.clone(),
            tokens.clone(),
            variables.clone(),
        );
        async move {
            let token = &tokens[i as usize % tokens.len()];
            let answer = post_persisted(&http, &url, (operation, &id), variables(i), Some(token));
            match answer.await {
                Ok(_) => true,
                Err(error) => {
                    if i % 1000 == 0 {
                        eprintln!("{operation}: {error:#}");
                    }
                    false
                }
            }
        }
    })
    .await?;
    println!(
        "{operation:<16} {rate:>4}/s for {seconds} s: p50 {:>7.2} ms   p99 {:>7.2} ms   errors {errors}/{}",
        ms(&latency, 0.5),
        ms(&latency, 0.99),
        rate * seconds
    );
    Ok(())
}

/// FOR_YOU first pages of the viewers in turn at `rate`.
async fn for_you(root: &Path, seeded: &seed::Seeded, rate: u64, seconds: u64) -> Result<()> {
    let viewer_tokens: Arc<Vec<String>> =
        Arc::new(seeded.viewers.iter().map(|v| v.token.clone()).collect());
    run_at_rate(
        root,
        "HomeFeedForYou",
        rate,
        seconds,
        viewer_tokens,
        |_| json!({ "first": 20 }),
    )
    .await
}

async fn measure(root: &Path, seeded: &seed::Seeded, options: &Options) -> Result<()> {
    let today = chrono::Utc::now().date_naive();
    let month_ago = today - chrono::Duration::days(30);
    println!(
        "\nthrough the router, open model (latency from each request's due time), over {} events:",
        options.events
    );
    let started = Instant::now();
    println!("HomeFeedForYou: a viewer's ranking is reused for 30 s (FEED_FOR_YOU_REUSE_SECONDS)");
    for_you(root, seeded, options.rate, options.seconds).await?;
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
            "PostStats",
            options.stats_rate,
            options.seconds,
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
        "CreatorStats",
        options.stats_rate,
        options.seconds,
        author_tokens,
        move |_| json!({ "from": from, "to": to }),
    )
    .await?;
    println!(
        "(measured runs took {:.0} s; FOR_YOU target: p99 < 80 ms)\nHomeFeedForYou, every first page ranked anew (FEED_FOR_YOU_REUSE_SECONDS=0):",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

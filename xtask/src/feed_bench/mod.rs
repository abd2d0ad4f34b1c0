//! `cargo xtask bench feed`: the home feed at scale, on the release bench stack
//! (ports 14000+, every router policy on: safelist, rate limits, JWT).
//!
//! 1. Seed (`seed.rs`), then restart the feed with its backfill marks cleared:
//!    it copies the graph and the posts from the owners' exports (timed).
//! 2. Every viewer opens the feed once: a cold read that rebuilds the timeline
//!    (timed), then Redis memory per timeline.
//! 3. `HomeFeed` first pages, then next pages, at a fixed arrival rate (open
//!    model: request i is due at i/rate and its latency counts from then, so a
//!    slow router cannot slow the load down): p50/p99, errors, SQL statements per
//!    request per subgraph.
//! 4. Posts by the 10 000-follower account: time until each follower's timeline
//!    holds it; posts by an account above the limit: time until it is on a
//!    follower's first page.

mod seed;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::bench_stack::{
    document_id, on_bench_stack, persisted, persisted_as, post_persisted, Data, BENCH, PASSWORD,
};
use crate::load::{histogram, ms, open_model};
use crate::postgres::{self, Postgres};
use crate::stack::{self, subgraphs, State};

#[derive(clap::Args)]
pub struct Options {
    /// Accounts seeded (at least the big account's followers + 1 000).
    #[arg(long, default_value_t = 12_000)]
    users: usize,
    /// Posts seeded.
    #[arg(long, default_value_t = 100_000)]
    posts: usize,
    /// Accounts that read their feed during the load.
    #[arg(long, default_value_t = 200)]
    viewers: usize,
    /// HomeFeed requests per second (open model).
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Seconds of load per measured run.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
}

pub fn bench(root: &Path, cli: Options) -> Result<()> {
    let options = seed::Options {
        users: cli.users,
        posts: cli.posts,
        viewers: cli.viewers,
    };
    let (rate, seconds) = (cli.rate, cli.seconds);
    if options.users < seed::FAN_FOLLOWERS + 1000 || options.viewers < 1 || rate < 1 {
        bail!(
            "--users must be at least {}, --viewers and --rate at least 1",
            seed::FAN_FOLLOWERS + 1000
        );
    }
    on_bench_stack(root, Data::Fresh, |bench_stack| {
        let limit = seed::FAN_OUT_LIMIT.to_string();
        let services: Vec<stack::Service> = bench_stack
            .services
            .iter()
            .map(|s| match s.name.strip_prefix(BENCH.name_prefix) {
                Some("feed") => s.variant(&s.name, s.port(), &[("FEED_FAN_OUT_LIMIT", &limit)]),
                _ => s.variant(&s.name, s.port(), &[]),
            })
            .collect();
        bench_stack.start(root, &services)?;
        let (state, pg) = (bench_stack.state, bench_stack.pg);
        let seeded = seed::seed(root, pg, &options)?;
        let feed = services
            .iter()
            .find(|s| s.name == format!("{}feed", BENCH.name_prefix))
            .context("the feed service")?;
        backfill(state, pg, bench_stack.bin_dir, root, feed)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(measure(root, &seeded, rate, seconds))
    })
}

/// Clear the feed's backfill marks and restart it: it copies the owners' data.
fn backfill(
    state: &State,
    pg: &Postgres,
    bin_dir: &Path,
    root: &Path,
    feed: &stack::Service,
) -> Result<()> {
    let database = BENCH.database("feed");
    stack::stop_process(state, &feed.name)?;
    postgres::execute(pg, &database, "DELETE FROM backfills")?;
    let started = Instant::now();
    stack::start(state, bin_dir, root, feed)?;
    stack::wait_ready(state, feed, Duration::from_secs(60))?;
    while postgres::value::<i64>(pg, &database, "SELECT count(*) FROM backfills")? != 2 {
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the feed's backfill did not finish within 600 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let counts: String = postgres::value(
        pg,
        &database,
        "SELECT (SELECT count(*) FROM follows) || ' follows, ' || (SELECT count(*) FROM posts) || ' posts'",
    )?;
    println!(
        "feed backfill from the owners' exports: {} in {:.1} s",
        counts,
        started.elapsed().as_secs_f64()
    );
    // Everyone has opened the app recently, so fan-out reaches them all.
    postgres::execute(
        pg,
        &database,
        "INSERT INTO readers (user_id, last_read_at) SELECT DISTINCT follower_id, now() FROM follows ON CONFLICT DO NOTHING",
    )?;
    Ok(())
}

struct Client {
    http: reqwest::Client,
    url: String,
    home_feed_id: String,
}

impl Client {
    /// One `HomeFeed` request: its latency and the page (or an error).
    async fn home_feed(&self, token: &str, after: Option<&str>) -> Result<Value> {
        let variables = json!({ "first": 20, "after": after });
        let operation = ("HomeFeed", self.home_feed_id.as_str());
        let mut data =
            post_persisted(&self.http, &self.url, operation, variables, Some(token)).await?;
        Ok(data["homeFeed"].take())
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["node"]["id"].as_str().map(str::to_string))
        .collect()
}

async fn measure(root: &Path, seeded: &seed::Seeded, rate: u64, seconds: u64) -> Result<()> {
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        url: format!("http://127.0.0.1:{}/graphql", BENCH.router_port),
        home_feed_id: document_id(root, "HomeFeed")?,
    });
    let redis_client = redis::Client::open(format!("redis://127.0.0.1:{}", BENCH.redis_port))?;
    let mut redis = redis_client.get_multiplexed_async_connection().await?;

    // Cold reads: each viewer's first read rebuilds their timeline.
    let mut cold = histogram();
    let mut cursors = Vec::new();
    for viewer in &seeded.viewers {
        let started = Instant::now();
        let page = client.home_feed(&viewer.token, None).await?;
        cold.record(started.elapsed().as_micros() as u64)?;
        cursors.push(page["pageInfo"]["endCursor"].as_str().map(str::to_string));
    }
    let mut bytes = 0i64;
    let mut entries = 0i64;
    for viewer in &seeded.viewers {
        let key = format!("nova:feed:timeline:{}", viewer.id);
        let usage: Option<i64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(&key)
            .query_async(&mut redis)
            .await?;
        bytes += usage.context("a viewer's timeline is missing after its read")?;
        entries += redis::cmd("ZCARD")
            .arg(&key)
            .query_async::<i64>(&mut redis)
            .await?
            - 1;
    }
    let n = seeded.viewers.len() as f64;
    println!(
        "cold read (timeline rebuilt) through the router: p50 {:.2} ms, p99 {:.2} ms; Redis per timeline: {:.0} posts, {:.1} KiB",
        ms(&cold, 0.5), ms(&cold, 0.99), entries as f64 / n, bytes as f64 / n / 1024.0
    );

    let tokens: Arc<Vec<String>> =
        Arc::new(seeded.viewers.iter().map(|v| v.token.clone()).collect());
    let cursors = Arc::new(cursors);
    println!("\nload: {rate} requests/s for {seconds} s, open model (latency from each request's due time), HomeFeed first 20");
    for next_page in [false, true] {
        let before = statements()?;
        let total = rate * seconds;
        let shared = (client.clone(), tokens.clone(), cursors.clone());
        let (latency, errors) = open_model(rate, seconds, move |i| {
            let (client, tokens, cursors) = (shared.0.clone(), shared.1.clone(), shared.2.clone());
            async move {
                let viewer = i as usize % tokens.len();
                let after = if next_page {
                    cursors[viewer].as_deref()
                } else {
                    None
                };
                client.home_feed(&tokens[viewer], after).await.is_ok()
            }
        })
        .await?;
        let after = statements()?;
        let per_request: Vec<String> = subgraphs()
            .iter()
            .zip(before.iter().zip(&after))
            .map(|(name, (b, a))| format!("{name} {:.2}", (a - b) / total as f64))
            .collect();
        println!(
            "{:<10} p50 {:>7.2} ms   p99 {:>7.2} ms   errors {errors}/{total}   SQL/request: {}",
            if next_page { "next page" } else { "first page" },
            ms(&latency, 0.5),
            ms(&latency, 0.99),
            per_request.join(", ")
        );
    }

    fan_out(root, seeded, &client, &mut redis).await
}

/// `nova_sql_statements_total` of every subgraph of the bench stack.
fn statements() -> Result<Vec<f64>> {
    (0..subgraphs().len())
        .map(|i| stack::metric(BENCH.subgraph_port(i), "nova_sql_statements_total"))
        .collect()
}

fn log_in(root: &Path, email: &str) -> Result<String> {
    let login = persisted(
        root,
        "Login",
        json!({ "email": email, "password": PASSWORD }),
    )?;
    Ok(login["login"]["accessToken"]
        .as_str()
        .context("no token")?
        .to_string())
}

fn create_post(root: &Path, token: &str, body: &str) -> Result<String> {
    let created = persisted_as(root, "CreatePost", json!({ "body": body }), Some(token))?;
    Ok(created["createPost"]["id"]
        .as_str()
        .context("no post id")?
        .to_string())
}

async fn fan_out(
    root: &Path,
    seeded: &seed::Seeded,
    client: &Client,
    redis: &mut redis::aio::MultiplexedConnection,
) -> Result<()> {
    const POSTS: usize = 5;
    // The followers' timelines exist (built, empty), as after a first read.
    let keys: Vec<String> = seeded
        .fan_followers
        .iter()
        .map(|f| format!("nova:feed:timeline:{f}"))
        .collect();
    let mut pipe = redis::pipe();
    for key in &keys {
        pipe.cmd("ZADD").arg(key).arg("NX").arg(0).arg("!").ignore();
    }
    pipe.query_async::<()>(redis).await?;

    let fan = log_in(root, &seeded.fan_email)?;
    let mut reached = histogram();
    let mut slowest = histogram();
    for i in 0..POSTS {
        let started = Instant::now();
        let post = create_post(root, &fan, &format!("fan-out probe {i}"))?;
        let mut waiting: Vec<&String> = keys.iter().collect();
        while !waiting.is_empty() {
            if started.elapsed() > Duration::from_secs(30) {
                bail!(
                    "{} of {} timelines lack the post after 30 s",
                    waiting.len(),
                    keys.len()
                );
            }
            let mut pipe = redis::pipe();
            for key in &waiting {
                pipe.cmd("ZSCORE").arg(*key).arg(&post);
            }
            let scores: Vec<Option<f64>> = pipe.query_async(redis).await?;
            let now = started.elapsed().as_micros() as u64;
            let mut still = Vec::new();
            for (key, score) in waiting.into_iter().zip(scores) {
                match score {
                    Some(_) => reached.record(now)?,
                    None => still.push(key),
                }
            }
            waiting = still;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        slowest.record(started.elapsed().as_micros() as u64)?;
    }
    println!(
        "\npost by an account with {} followers, until in each follower's timeline ({POSTS} posts, {} deliveries): p50 {:.1} ms, p99 {:.1} ms; until in all of them: p50 {:.1} ms, max {:.1} ms",
        seed::FAN_FOLLOWERS, reached.len(), ms(&reached, 0.5), ms(&reached, 0.99), ms(&slowest, 0.5), ms(&slowest, 1.0)
    );

    let celebrity = log_in(root, &seeded.celebrity_email)?;
    let viewer = &seeded.viewers[0];
    let mut shown = histogram();
    for i in 0..POSTS {
        let started = Instant::now();
        let post = create_post(root, &celebrity, &format!("merged probe {i}"))?;
        while !ids(&client.home_feed(&viewer.token, None).await?).contains(&post) {
            if started.elapsed() > Duration::from_secs(30) {
                bail!(
                    "a post above the fan-out limit was not on a follower's first page after 30 s"
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        shown.record(started.elapsed().as_micros() as u64)?;
    }
    println!(
        "post by an account above the fan-out limit ({} followers), until on a follower's first page: p50 {:.1} ms, max {:.1} ms",
        seed::CELEBRITY_FOLLOWERS, ms(&shown, 0.5), ms(&shown, 1.0)
    );
    Ok(())
}

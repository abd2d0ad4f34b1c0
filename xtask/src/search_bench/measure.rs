//! The measured part of `cargo xtask bench search`: `Search` at a fixed arrival
//! rate after a warm-up (latency, errors, hits, each subgraph's share, CPU per
//! search), then the event-to-searchable delay of posts created through the
//! router.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::bench::cpu::StackCpu;
use crate::bench_stack::{document_id, persisted_as, post_persisted, BENCH};
use crate::load::{histogram, ms, open_model};
use crate::stack;

use super::seed;

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

/// The search load: `rate` requests per second for `seconds` after `warm_up`
/// seconds, over `users`.
pub(super) struct Load {
    pub(super) users: usize,
    pub(super) rate: u64,
    pub(super) seconds: u64,
    pub(super) warm_up: u64,
}

pub(super) async fn measure(
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

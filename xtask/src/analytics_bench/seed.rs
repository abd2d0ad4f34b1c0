//! The analytics bench's data: accounts and posts through the router, likes
//! through Kafka (ingestion), and the bulk of the events straight into
//! ClickHouse.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nova_core::events::envelope::PostLiked;
use nova_core::events::{Envelope, Event, KafkaConfig};
use rdkafka::producer::FutureRecord;
use serde_json::json;
use uuid::Uuid;

use crate::bench_stack::{persisted_as, sign_up, Account, BENCH};
use crate::stack;

const AUTHORS: usize = 4;
const POSTS_PER_AUTHOR: usize = 50;
const APPLIED: &str =
    "nova_events_consumed_total{consumer=\"analytics.events\",outcome=\"applied\"}";

pub struct Seeded {
    pub authors: Vec<Account>,
    /// Each author's post ids.
    pub posts: Vec<Vec<String>>,
    pub viewers: Vec<Account>,
}

fn analytics_port() -> Result<u16> {
    BENCH.port_of("analytics")
}

/// Authors with posts and viewers following every author, through the router;
/// returns once the feed holds them all (FOR_YOU's candidates).
pub fn seed(root: &Path, viewers: usize) -> Result<Seeded> {
    let started = Instant::now();
    let mut authors = Vec::new();
    let mut posts = Vec::new();
    for a in 0..AUTHORS {
        let author = sign_up(root, &format!("author{a}"))?;
        let mut theirs = Vec::new();
        for p in 0..POSTS_PER_AUTHOR {
            let created = persisted_as(
                root,
                "CreatePost",
                json!({ "body": format!("post {p} of author {a}") }),
                Some(&author.token),
            )?;
            theirs.push(
                created["createPost"]["id"]
                    .as_str()
                    .context("a post id")?
                    .to_string(),
            );
        }
        authors.push(author);
        posts.push(theirs);
    }
    let mut readers = Vec::new();
    for v in 0..viewers {
        let viewer = sign_up(root, &format!("reader{v}"))?;
        for author in &authors {
            persisted_as(
                root,
                "FollowUser",
                json!({ "userId": author.id }),
                Some(&viewer.token),
            )?;
        }
        readers.push(viewer);
    }
    // The feed learns follows and posts from events.
    let feed = BENCH.port_of("feed")?;
    let wanted = (viewers * AUTHORS) as f64;
    let deadline = Instant::now() + Duration::from_secs(300);
    while stack::metric(
        feed,
        "nova_events_consumed_total{consumer=\"feed.timelines\",outcome=\"applied\"}",
    )? < wanted + (AUTHORS * POSTS_PER_AUTHOR) as f64
    {
        if Instant::now() > deadline {
            bail!("the feed did not take in the seeded follows and posts within 300 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "seeded {AUTHORS} authors with {POSTS_PER_AUTHOR} posts each and {viewers} viewers following them all, in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(Seeded {
        authors,
        posts,
        viewers: readers,
    })
}

/// Produce `count` likes of the seeded posts to `nova.social` (analytics is
/// stopped meanwhile: they wait on the broker as a backlog).
pub async fn produce_likes(seeded: &Seeded, count: u64) -> Result<()> {
    let kafka = KafkaConfig::new(format!("127.0.0.1:{}", BENCH.kafka_port));
    let producer = kafka.producer(Duration::from_secs(60))?;
    let payloads: Vec<(String, String)> = (0..count as usize)
        .map(|i| {
            let author = i % seeded.authors.len();
            let theirs = &seeded.posts[author];
            let post: Uuid = theirs[i / seeded.authors.len() % theirs.len()].parse()?;
            let event = Event::PostLiked(PostLiked {
                user_id: Uuid::now_v7(),
                post_id: post,
                post_author_id: Some(seeded.authors[author].id.parse()?),
            });
            let envelope = Envelope::new(&event);
            Ok((envelope.key.clone(), serde_json::to_string(&envelope)?))
        })
        .collect::<Result<_>>()?;
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(payloads.len());
    for (key, json) in &payloads {
        loop {
            match producer.send_result(FutureRecord::to("nova.social").key(key).payload(json)) {
                Ok(delivery) => {
                    deliveries.push(delivery);
                    break;
                }
                // The local queue is full: let deliveries drain.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }
    for delivery in deliveries {
        if !matches!(delivery.await, Ok(Ok(_))) {
            bail!("a like was not delivered to the broker");
        }
    }
    println!(
        "produced {count} likes to nova.social in {:.1} s while analytics was stopped",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Wait until the analytics started at `started` has applied `count` events:
/// the backlog from Kafka into ClickHouse.
pub fn time_backlog(started: Instant, count: u64) -> Result<()> {
    let port = analytics_port()?;
    loop {
        // Refused while the process starts: not there yet.
        let applied = stack::metric(port, APPLIED);
        if applied
            .as_ref()
            .is_ok_and(|applied| *applied >= count as f64)
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("analytics did not ingest {count} events within 600 s (last read: {applied:?})");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = started.elapsed();
    println!(
        "ingestion: a backlog of {count} events from Kafka into ClickHouse in {:.1} s (from analytics' start) = {:.0} events/s",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64()
    );
    Ok(())
}

/// Load `count` rows straight into `events` with one `INSERT … SELECT`: a tenth
/// on the seeded authors' posts, the rest on 10 000 other authors' 1 000 000
/// posts, kinds mixed like an app's (mostly views), over the last 30 days.
pub async fn load_events(seeded: &Seeded, count: u64) -> Result<()> {
    let authors: Vec<String> = seeded
        .authors
        .iter()
        .map(|a| format!("'{}'", a.id))
        .collect();
    let posts: Vec<String> = seeded
        .posts
        .iter()
        .flatten()
        .map(|p| format!("'{p}'"))
        .collect();
    let now = chrono::Utc::now().timestamp();
    let sql = format!(
        "INSERT INTO nova_analytics.events \
         SELECT concat('bench-', toString(number)) AS event_id, \
           ['post_viewed','post_viewed','post_viewed','post_viewed','post_viewed','post_viewed', \
            'post_liked','post_liked','comment_created','followed'][intHash32(number) % 10 + 1] AS kind, \
           toDateTime({now} - intHash32(number) % (30 * 86400)) AS occurred_at, \
           concat('actor-', toString(intHash32(number + 1) % 100000)) AS actor_id, \
           if(number % 10 = 0, [{authors}][intDiv(number, 10) % {n_authors} + 1], \
              concat('author-', toString(number % 10000))) AS author_id, \
           if(number % 10 = 0, [{posts}][intDiv(number, 10) % {n_posts} + 1], \
              concat('post-', toString(number % 1000000))) AS post_id, \
           now() AS ingested_at \
         FROM numbers({count})",
        authors = authors.join(","),
        n_authors = authors.len(),
        posts = posts.join(","),
        n_posts = posts.len(),
    );
    let started = Instant::now();
    let answer = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/", BENCH.clickhouse_port))
        .body(sql)
        .send()
        .await?;
    let status = answer.status();
    if !status.is_success() {
        bail!(
            "ClickHouse refused the load: {status} {}",
            answer.text().await?
        );
    }
    // Their likes and comments by one account on another's post, as the
    // consumer writes them (`EventRow::is_interaction`).
    let interactions =
        "INSERT INTO nova_analytics.interactions SELECT * FROM nova_analytics.events \
         WHERE kind IN ('post_liked', 'comment_created') AND actor_id != author_id";
    let answer = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/", BENCH.clickhouse_port))
        .body(interactions)
        .send()
        .await?;
    if !answer.status().is_success() {
        bail!(
            "ClickHouse refused the interactions: {}",
            answer.text().await?
        );
    }
    println!(
        "loaded {count} events into ClickHouse in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Wait for two refreshes of the features to finish after the load: the
    // first takes in every new viewer; the measurements see steady state.
    let port = analytics_port()?;
    let done = "nova_analytics_feature_refreshes_total{outcome=\"done\"}";
    let before = stack::metric(port, done)?;
    let waited = Instant::now();
    while stack::metric(port, done)? < before + 2.0 {
        if waited.elapsed() > Duration::from_secs(600) {
            bail!("the features were not refreshed within 600 s of the load");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "features refreshed after the load in {:.1} s; a steady refresh takes {:.2} s",
        waited.elapsed().as_secs_f64(),
        stack::metric(port, "nova_analytics_feature_refresh_seconds")?
    );
    Ok(())
}

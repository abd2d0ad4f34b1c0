//! The feed's ranking features, refreshed from ClickHouse into Redis every
//! `ANALYTICS_FEATURES_INTERVAL_MS` (keys and values: `nova_core::features`).
//! Each refresh recomputes what events ingested since the last one touched:
//! the engagement of those posts (read by author and post, the table's sort
//! order) and the affinity of those viewers (`interactions`, sorted by
//! viewer); at the start and hourly, everything (posts of the last 7 days,
//! every viewer), which also drops posts that left the window and counts an
//! erased account's likes no more. Counts are recomputed, never incremented,
//! so a redelivered event or an unlike is reflected by the next refresh; an
//! erased account's own features leave at once (`erase`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use nova_core::features::{
    affinity_key, PostEngagement, AFFINITY_WINDOW_DAYS, ENGAGEMENT_KEY, ENGAGEMENT_WINDOW_DAYS,
};
use nova_core::metrics::Metrics;
use prometheus::{Gauge, IntCounterVec, Opts};
use redis::aio::ConnectionManager;
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::clickhouse::ClickHouse;
use crate::events::kind;
use crate::store::{self, comments_expression, events_of, likes_expression};

mod erasure;

/// The viewers that have an affinity hash now (so a viewer whose affinity fell
/// to none loses it).
const AFFINITY_VIEWERS_KEY: &str = "nova:features:affinity-viewers";
/// Fields one HSET carries at most.
const FIELDS_PER_COMMAND: usize = 1000;

#[derive(Deserialize)]
struct EngagementRow {
    post_id: String,
    /// Not `author_id`: ClickHouse would read the alias in the `WHERE` too.
    post_author: String,
    views: i64,
    likes: i64,
    comments: i64,
}

#[derive(Deserialize)]
struct TouchedPost {
    author_id: String,
    post_id: String,
}

#[derive(Deserialize)]
struct Viewer {
    actor_id: String,
}

#[derive(Deserialize)]
struct AffinityRow {
    viewer: String,
    author: String,
    affinity: i64,
}

/// How often every feature is recomputed, not only those new events touched
/// (posts and interactions age out of their windows; an erased account's
/// likes leave the engagement counts).
const FULL_PASS_EVERY: Duration = Duration::from_secs(3600);
/// Viewers one affinity query reads.
const VIEWERS_PER_QUERY: usize = 500;
/// Posts one engagement query reads (ids are spelled out in the query, whose
/// size ClickHouse limits to 256 KiB by default).
const POSTS_PER_QUERY: usize = 1000;

#[derive(Clone)]
pub struct Features {
    clickhouse: ClickHouse,
    redis: ConnectionManager,
    /// The erased accounts (`store::erased_among`): never in a feature, even
    /// while ClickHouse is still deleting their rows.
    pool: PgPool,
    /// `nova_analytics_feature_refreshes_total{outcome="done|failed"}` (the
    /// registry adds `nova_`).
    refreshes: IntCounterVec,
    /// `nova_analytics_feature_refresh_seconds`: how long the last one took.
    refresh_seconds: Gauge,
    /// Held by a refresh and by `erase`: an erasure waits for a refresh under
    /// way, which may have read the account's posts before it was recorded.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl Features {
    pub fn new(
        clickhouse: ClickHouse,
        redis: ConnectionManager,
        pool: PgPool,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let refreshes = IntCounterVec::new(
            Opts::new(
                "analytics_feature_refreshes_total",
                "ranking feature refreshes, by outcome",
            ),
            &["outcome"],
        )?;
        for outcome in ["done", "failed"] {
            refreshes.with_label_values(&[outcome]);
        }
        let refresh_seconds = Gauge::new(
            "analytics_feature_refresh_seconds",
            "how long the last ranking feature refresh took",
        )?;
        metrics.register(Box::new(refreshes.clone()));
        metrics.register(Box::new(refresh_seconds.clone()));
        Ok(Self {
            clickhouse,
            redis,
            pool,
            refreshes,
            refresh_seconds,
            turn: Arc::default(),
        })
    }

    /// Refresh every `interval`, forever: engagement whole, affinity for the
    /// viewers with interactions ingested since the last refresh (all of them
    /// at the first and every `FULL_PASS_EVERY`). A failed refresh is logged,
    /// the previous features stay, and the next one reads from the same point.
    pub async fn run(self, interval: Duration) {
        let mut since: Option<i64> = None;
        let mut last_full = tokio::time::Instant::now();
        loop {
            let started = Utc::now().timestamp();
            let timer = std::time::Instant::now();
            let pass = since.filter(|_| last_full.elapsed() < FULL_PASS_EVERY);
            let outcome = self.refresh(pass).await;
            self.refresh_seconds.set(timer.elapsed().as_secs_f64());
            let label = if outcome.is_ok() { "done" } else { "failed" };
            self.refreshes.with_label_values(&[label]).inc();
            match outcome {
                Ok(()) => {
                    // A second's overlap: rows of the second it started in.
                    since = Some(started - 1);
                    if pass.is_none() {
                        last_full = tokio::time::Instant::now();
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "ranking features not refreshed")
                }
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// The engagement of the posts and the affinity of the viewers with events
    /// ingested at or after `since` (seconds), or of all of them (`None`).
    pub async fn refresh(&self, since: Option<i64>) -> anyhow::Result<()> {
        let _turn = self.turn.lock().await;
        match since {
            Some(since) => self.refresh_touched_engagement(since).await?,
            None => self.refresh_all_engagement().await?,
        }
        self.refresh_affinity(since).await
    }

    /// `SELECT post_id, views, likes, comments` of the posts `filter` keeps
    /// among those created in the engagement window, but an erased account's
    /// (while ClickHouse is still deleting its rows).
    async fn engagement(&self, filter: &str) -> anyhow::Result<Vec<(String, String)>> {
        let table = self.clickhouse.table("events");
        let window = (Utc::now() - chrono::Duration::days(ENGAGEMENT_WINDOW_DAYS)).timestamp();
        let rows: Vec<EngagementRow> = self
            .clickhouse
            .select(&format!(
                "SELECT post_id, any(author_id) AS post_author, {views} AS views, \
                   {likes} AS likes, {comments} AS comments \
                 FROM {table} WHERE {filter} AND post_id IN (SELECT post_id FROM {table} \
                   WHERE {filter} AND kind = '{created}' AND occurred_at >= toDateTime({window})) \
                 GROUP BY post_id",
                views = events_of(kind::POST_VIEWED),
                likes = likes_expression(),
                comments = comments_expression(),
                created = kind::POST_CREATED,
            ))
            .await?;
        let authors: HashSet<Uuid> = rows
            .iter()
            .filter_map(|row| Uuid::parse_str(&row.post_author).ok())
            .collect();
        let authors: Vec<Uuid> = authors.into_iter().collect();
        let erased: HashSet<String> = store::erased_among(&self.pool, &authors)
            .await?
            .iter()
            .map(Uuid::to_string)
            .collect();
        Ok(rows
            .into_iter()
            .filter(|row| !erased.contains(&row.post_author))
            .map(|row| {
                let engagement = PostEngagement {
                    views: row.views,
                    likes: row.likes,
                    comments: row.comments,
                };
                (row.post_id, engagement.encode())
            })
            .collect())
    }

    /// The posts with events ingested since `since`, recomputed and written
    /// over their fields; nothing when nothing came.
    async fn refresh_touched_engagement(&self, since: i64) -> anyhow::Result<()> {
        // One column of the whole table, not the posts' rows.
        let touched: Vec<TouchedPost> = self
            .clickhouse
            .select(&format!(
                "SELECT DISTINCT author_id, post_id FROM {} \
                 WHERE ingested_at >= toDateTime({since}) AND post_id != ''",
                self.clickhouse.table("events")
            ))
            .await?;
        let mut redis = self.redis.clone();
        for chunk in touched.chunks(POSTS_PER_QUERY) {
            let authors: HashSet<String> = chunk.iter().map(|p| literal(&p.author_id)).collect();
            let posts: Vec<String> = chunk.iter().map(|p| literal(&p.post_id)).collect();
            // The author first: the table is sorted by author, then post.
            let filter = format!(
                "author_id IN ({}) AND post_id IN ({})",
                authors.into_iter().collect::<Vec<_>>().join(", "),
                posts.join(", ")
            );
            let fields = self.engagement(&filter).await?;
            if !fields.is_empty() {
                let mut pipe = redis::pipe();
                for part in fields.chunks(FIELDS_PER_COMMAND) {
                    pipe.hset_multiple(ENGAGEMENT_KEY, part).ignore();
                }
                pipe.query_async::<()>(&mut redis).await?;
            }
        }
        Ok(())
    }

    /// Every post of the window, the hash rebuilt whole.
    async fn refresh_all_engagement(&self) -> anyhow::Result<()> {
        let fields = self.engagement("1").await?;
        // Built aside and swapped in whole: a reader never sees half a refresh.
        let building = format!("{ENGAGEMENT_KEY}:building");
        let mut pipe = redis::pipe();
        pipe.del(&building).ignore();
        for chunk in fields.chunks(FIELDS_PER_COMMAND) {
            pipe.hset_multiple(&building, chunk).ignore();
        }
        if fields.is_empty() {
            pipe.del(ENGAGEMENT_KEY).ignore();
        } else {
            pipe.rename(&building, ENGAGEMENT_KEY).ignore();
        }
        pipe.query_async::<()>(&mut self.redis.clone()).await?;
        Ok(())
    }

    async fn refresh_affinity(&self, since: Option<i64>) -> anyhow::Result<()> {
        let table = self.clickhouse.table("interactions");
        let window = (Utc::now() - chrono::Duration::days(AFFINITY_WINDOW_DAYS)).timestamp();
        let touched = match since {
            Some(since) => format!("ingested_at >= toDateTime({since})"),
            None => format!("occurred_at >= toDateTime({window})"),
        };
        let viewers: Vec<Viewer> = self
            .clickhouse
            .select(&format!(
                "SELECT DISTINCT actor_id FROM {table} WHERE {touched}"
            ))
            .await?;
        let viewers: Vec<String> = viewers.into_iter().map(|v| v.actor_id).collect();
        let mut redis = self.redis.clone();
        if since.is_none() {
            // Viewers whose interactions all left the window lose their hash.
            let before: HashSet<String> = redis::cmd("SMEMBERS")
                .arg(AFFINITY_VIEWERS_KEY)
                .query_async(&mut redis)
                .await?;
            let now: HashSet<&String> = viewers.iter().collect();
            let gone: Vec<&String> = before.iter().filter(|v| !now.contains(v)).collect();
            // An empty pipeline is an error to Redis.
            if !gone.is_empty() {
                let mut pipe = redis::pipe();
                for viewer in gone {
                    pipe.del(viewer_key(viewer)).ignore();
                    pipe.srem(AFFINITY_VIEWERS_KEY, viewer).ignore();
                }
                pipe.query_async::<()>(&mut redis).await?;
            }
        }
        for chunk in viewers.chunks(VIEWERS_PER_QUERY) {
            let list: Vec<String> = chunk.iter().map(|v| literal(v)).collect();
            let rows: Vec<AffinityRow> = self
                .clickhouse
                .select(&format!(
                    "SELECT actor_id AS viewer, author_id AS author, {likes} + {comments} AS affinity \
                     FROM {table} WHERE actor_id IN ({list}) AND occurred_at >= toDateTime({window}) \
                     GROUP BY actor_id, author_id HAVING affinity > 0",
                    likes = likes_expression(),
                    comments = comments_expression(),
                    list = list.join(", "),
                ))
                .await?;
            let named: Vec<Uuid> = chunk
                .iter()
                .chain(rows.iter().map(|row| &row.author))
                .filter_map(|id| Uuid::parse_str(id).ok())
                .collect();
            let erased = store::erased_among(&self.pool, &named).await?;
            let is_erased = |id: &str| Uuid::parse_str(id).is_ok_and(|id| erased.contains(&id));
            let mut by_viewer: HashMap<&str, Vec<(String, i64)>> = HashMap::new();
            for row in rows
                .iter()
                .filter(|row| !is_erased(&row.viewer) && !is_erased(&row.author))
            {
                by_viewer
                    .entry(row.viewer.as_str())
                    .or_default()
                    .push((row.author.clone(), row.affinity));
            }
            let mut pipe = redis::pipe();
            pipe.atomic();
            for viewer in chunk {
                let key = viewer_key(viewer);
                pipe.del(&key).ignore();
                match by_viewer.get(viewer.as_str()) {
                    Some(authors) => {
                        for part in authors.chunks(FIELDS_PER_COMMAND) {
                            pipe.hset_multiple(&key, part).ignore();
                        }
                        pipe.sadd(AFFINITY_VIEWERS_KEY, viewer).ignore();
                    }
                    None => {
                        pipe.srem(AFFINITY_VIEWERS_KEY, viewer).ignore();
                    }
                }
            }
            pipe.query_async::<()>(&mut redis).await?;
        }
        Ok(())
    }
}

/// A string as a ClickHouse literal.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn viewer_key(viewer: &str) -> String {
    match Uuid::parse_str(viewer) {
        Ok(viewer) => affinity_key(viewer),
        // Not written by Nova; keyed as it came.
        Err(_) => format!("nova:features:affinity:{viewer}"),
    }
}

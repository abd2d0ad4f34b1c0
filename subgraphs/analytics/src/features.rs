//! The feed's ranking features, refreshed from ClickHouse into Redis every
//! `ANALYTICS_FEATURES_INTERVAL_MS` (keys and values: `nova_core::features`).
//! Each refresh recomputes them whole from `events`, so a redelivered event,
//! an unlike or an erased account is reflected by the next refresh.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use nova_core::features::{
    affinity_key, PostEngagement, AFFINITY_WINDOW_DAYS, ENGAGEMENT_KEY, ENGAGEMENT_WINDOW_DAYS,
};
use redis::aio::ConnectionManager;
use serde::Deserialize;
use uuid::Uuid;

use crate::clickhouse::ClickHouse;
use crate::events::kind;
use crate::store::{comments_expression, events_of, likes_expression};

/// The viewers that have an affinity hash now (so a viewer whose affinity fell
/// to none loses it).
const AFFINITY_VIEWERS_KEY: &str = "nova:features:affinity-viewers";
/// Fields one HSET carries at most.
const FIELDS_PER_COMMAND: usize = 1000;

#[derive(Deserialize)]
struct EngagementRow {
    post_id: String,
    views: i64,
    likes: i64,
    comments: i64,
}

#[derive(Deserialize)]
struct AffinityRow {
    viewer: String,
    author: String,
    affinity: i64,
}

#[derive(Clone)]
pub struct Features {
    pub clickhouse: ClickHouse,
    pub redis: ConnectionManager,
}

impl Features {
    /// Refresh every `interval`, forever; a failed refresh is logged and the
    /// previous features stay.
    pub async fn run(self, interval: Duration) {
        loop {
            if let Err(error) = self.refresh().await {
                tracing::warn!(error = %format!("{error:#}"), "ranking features not refreshed");
            }
            tokio::time::sleep(interval).await;
        }
    }

    pub async fn refresh(&self) -> anyhow::Result<()> {
        self.refresh_engagement().await?;
        self.refresh_affinity().await
    }

    async fn refresh_engagement(&self) -> anyhow::Result<()> {
        let table = self.clickhouse.table("events");
        let since = (Utc::now() - chrono::Duration::days(ENGAGEMENT_WINDOW_DAYS)).timestamp();
        let rows: Vec<EngagementRow> = self
            .clickhouse
            .select(&format!(
                "SELECT post_id, {views} AS views, {likes} AS likes, {comments} AS comments \
                 FROM {table} WHERE post_id IN (SELECT post_id FROM {table} \
                   WHERE kind = '{created}' AND occurred_at >= toDateTime({since})) \
                 GROUP BY post_id",
                views = events_of(kind::POST_VIEWED),
                likes = likes_expression(),
                comments = comments_expression(),
                created = kind::POST_CREATED,
            ))
            .await?;
        let fields: Vec<(String, String)> = rows
            .into_iter()
            .map(|row| {
                let engagement = PostEngagement {
                    views: row.views,
                    likes: row.likes,
                    comments: row.comments,
                };
                (row.post_id, engagement.encode())
            })
            .collect();
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

    async fn refresh_affinity(&self) -> anyhow::Result<()> {
        let since = (Utc::now() - chrono::Duration::days(AFFINITY_WINDOW_DAYS)).timestamp();
        let rows: Vec<AffinityRow> = self
            .clickhouse
            .select(&format!(
                "SELECT actor_id AS viewer, author_id AS author, {likes} + {comments} AS affinity \
                 FROM {} WHERE actor_id != '' AND author_id != '' AND actor_id != author_id \
                   AND post_id != '' AND occurred_at >= toDateTime({since}) \
                 GROUP BY actor_id, author_id HAVING affinity > 0",
                self.clickhouse.table("events"),
                likes = likes_expression(),
                comments = comments_expression(),
            ))
            .await?;
        let mut by_viewer: HashMap<String, Vec<(String, i64)>> = HashMap::new();
        for row in rows {
            by_viewer
                .entry(row.viewer)
                .or_default()
                .push((row.author, row.affinity));
        }
        let mut redis = self.redis.clone();
        let before: HashSet<String> = redis::cmd("SMEMBERS")
            .arg(AFFINITY_VIEWERS_KEY)
            .query_async(&mut redis)
            .await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for viewer in before.iter().filter(|v| !by_viewer.contains_key(*v)) {
            pipe.del(viewer_key(viewer)).ignore();
        }
        pipe.del(AFFINITY_VIEWERS_KEY).ignore();
        for (viewer, authors) in &by_viewer {
            let key = viewer_key(viewer);
            pipe.del(&key).ignore();
            for chunk in authors.chunks(FIELDS_PER_COMMAND) {
                pipe.hset_multiple(&key, chunk).ignore();
            }
            pipe.sadd(AFFINITY_VIEWERS_KEY, viewer).ignore();
        }
        pipe.query_async::<()>(&mut redis).await?;
        Ok(())
    }

    /// A deleted account's features go at once (its rows go from ClickHouse
    /// asynchronously; the next refresh no longer finds them).
    pub async fn erase(&self, user: Uuid) -> anyhow::Result<()> {
        let mut pipe = redis::pipe();
        pipe.del(affinity_key(user))
            .ignore()
            .srem(AFFINITY_VIEWERS_KEY, user.to_string())
            .ignore();
        pipe.query_async::<()>(&mut self.redis.clone()).await?;
        Ok(())
    }
}

fn viewer_key(viewer: &str) -> String {
    match Uuid::parse_str(viewer) {
        Ok(viewer) => affinity_key(viewer),
        // Not written by Nova; keyed as it came.
        Err(_) => format!("nova:features:affinity:{viewer}"),
    }
}

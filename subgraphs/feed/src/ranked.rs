//! FOR_YOU snapshots in Redis: the order is fixed when the first page is
//! served, kept as a list `nova:feed:ranked:<viewer>:<ranking>` of
//! `<post>:<author>` for `SNAPSHOT_TTL_SECONDS`; later pages read it by
//! position (the cursor carries the ranking and the position), so paging never
//! repeats or skips a post while features change. The set
//! `nova:feed:rankings:<viewer>` names a viewer's snapshots, so a deleted
//! account's go with it (`drop_viewer`). Also reads the features the formula
//! needs (`nova_core::features`).

use std::collections::HashMap;

use nova_core::features::{affinity_key, PostEngagement, ENGAGEMENT_KEY};
use redis::aio::ConnectionManager;
use uuid::Uuid;

use crate::ranking::Features;

/// How long a FOR_YOU ranking can be paged.
pub const SNAPSHOT_TTL_SECONDS: i64 = 3600;

fn key(viewer: Uuid, ranking: Uuid) -> String {
    format!("nova:feed:ranked:{viewer}:{ranking}")
}

fn rankings_key(viewer: Uuid) -> String {
    format!("nova:feed:rankings:{viewer}")
}

fn recent_key(viewer: Uuid) -> String {
    format!("nova:feed:ranked-recent:{viewer}")
}

#[derive(Clone)]
pub struct RankedFeeds {
    redis: ConnectionManager,
}

impl RankedFeeds {
    pub fn new(redis: ConnectionManager) -> Self {
        Self { redis }
    }

    /// The features of `posts` (post, author) for `viewer`.
    pub async fn features(
        &self,
        viewer: Uuid,
        posts: &[(Uuid, Uuid)],
    ) -> redis::RedisResult<Features> {
        if posts.is_empty() {
            return Ok(Features::default());
        }
        let ids: Vec<String> = posts.iter().map(|(post, _)| post.to_string()).collect();
        let (engagement, affinity): (Vec<Option<String>>, HashMap<String, i64>) = redis::pipe()
            .cmd("HMGET")
            .arg(ENGAGEMENT_KEY)
            .arg(&ids)
            .cmd("HGETALL")
            .arg(affinity_key(viewer))
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(Features {
            engagement: posts
                .iter()
                .zip(engagement)
                .filter_map(|((post, _), value)| Some((*post, PostEngagement::decode(&value?)?)))
                .collect(),
            affinity: affinity
                .into_iter()
                .filter_map(|(author, n)| Some((Uuid::parse_str(&author).ok()?, n)))
                .collect(),
        })
    }

    /// Keep `posts`, in order, as `viewer`'s ranking `ranking`, and as their
    /// most recent for `reuse_seconds` (0: not reused).
    pub async fn save(
        &self,
        viewer: Uuid,
        ranking: Uuid,
        posts: &[(Uuid, Uuid)],
        reuse_seconds: u64,
    ) -> redis::RedisResult<()> {
        if posts.is_empty() {
            return Ok(());
        }
        let members: Vec<String> = posts
            .iter()
            .map(|(post, author)| format!("{post}:{author}"))
            .collect();
        let key = key(viewer, ranking);
        let rankings = rankings_key(viewer);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .rpush(&key, members)
            .ignore()
            .expire(&key, SNAPSHOT_TTL_SECONDS)
            .ignore()
            .sadd(&rankings, ranking.to_string())
            .ignore()
            .expire(&rankings, SNAPSHOT_TTL_SECONDS)
            .ignore();
        if reuse_seconds > 0 {
            pipe.set_ex(recent_key(viewer), ranking.to_string(), reuse_seconds)
                .ignore();
        }
        pipe.query_async(&mut self.redis.clone()).await
    }

    /// Delete every snapshot of `viewer` (a deleted account).
    pub async fn drop_viewer(&self, viewer: Uuid) -> redis::RedisResult<()> {
        let mut redis = self.redis.clone();
        let rankings: Vec<String> = redis::cmd("SMEMBERS")
            .arg(rankings_key(viewer))
            .query_async(&mut redis)
            .await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for ranking in rankings.iter().filter_map(|id| Uuid::parse_str(id).ok()) {
            pipe.del(key(viewer, ranking)).ignore();
        }
        pipe.del(rankings_key(viewer))
            .ignore()
            .del(recent_key(viewer))
            .ignore();
        pipe.query_async(&mut redis).await
    }

    /// The viewer's ranking made less than the reuse time ago, if any.
    pub async fn recent(&self, viewer: Uuid) -> redis::RedisResult<Option<Uuid>> {
        let id: Option<String> = redis::cmd("GET")
            .arg(recent_key(viewer))
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(id.and_then(|id| Uuid::parse_str(&id).ok()))
    }

    /// Up to `count` entries of the ranking from `start`, and how many it holds
    /// in all; `None` when it is gone (expired, or not this viewer's).
    pub async fn slice(
        &self,
        viewer: Uuid,
        ranking: Uuid,
        start: usize,
        count: usize,
    ) -> redis::RedisResult<Option<(Vec<(Uuid, Uuid)>, usize)>> {
        let key = key(viewer, ranking);
        let (length, members): (usize, Vec<String>) = redis::pipe()
            .llen(&key)
            .lrange(&key, start as isize, (start + count) as isize - 1)
            .query_async(&mut self.redis.clone())
            .await?;
        if length == 0 {
            return Ok(None);
        }
        let entries = members
            .iter()
            .filter_map(|member| {
                let (post, author) = member.split_once(':')?;
                Some((Uuid::parse_str(post).ok()?, Uuid::parse_str(author).ok()?))
            })
            .collect();
        Ok(Some((entries, length)))
    }
}

//! A deleted account's ranking features, erased at once (`Features::erase`).

use nova_core::features::{affinity_key, ENGAGEMENT_KEY};
use serde::Deserialize;
use uuid::Uuid;

use super::{viewer_key, Features, Viewer, AFFINITY_VIEWERS_KEY, FIELDS_PER_COMMAND};

#[derive(Deserialize)]
struct Post {
    post_id: String,
}

impl Features {
    /// A deleted account's features go at once: its posts' engagement, its
    /// own affinity, and its place in the affinity of everyone who liked or
    /// commented on its posts. Called after the erasure is recorded (so no
    /// later refresh writes them back, `engagement`; one under way finishes
    /// first) and before its rows are deleted from ClickHouse (which finds
    /// them).
    pub async fn erase(&self, user: Uuid) -> anyhow::Result<()> {
        let _turn = self.turn.lock().await;
        let posts: Vec<Post> = self
            .clickhouse
            .select(&format!(
                "SELECT DISTINCT post_id FROM {} WHERE author_id = '{user}' AND post_id != ''",
                self.clickhouse.table("events")
            ))
            .await?;
        let fans: Vec<Viewer> = self
            .clickhouse
            .select(&format!(
                "SELECT DISTINCT actor_id FROM {} WHERE author_id = '{user}'",
                self.clickhouse.table("interactions")
            ))
            .await?;
        let mut pipe = redis::pipe();
        for chunk in posts.chunks(FIELDS_PER_COMMAND) {
            let fields: Vec<&str> = chunk.iter().map(|post| post.post_id.as_str()).collect();
            pipe.hdel(ENGAGEMENT_KEY, fields).ignore();
        }
        for fan in &fans {
            pipe.hdel(viewer_key(&fan.actor_id), user.to_string())
                .ignore();
        }
        pipe.del(affinity_key(user))
            .ignore()
            .srem(AFFINITY_VIEWERS_KEY, user.to_string())
            .ignore();
        pipe.query_async::<()>(&mut self.redis.clone()).await?;
        Ok(())
    }
}

//! Home timelines in Redis: a cache of candidate post ids per user, rebuilt from
//! Postgres whenever it is missing (a fresh or flushed Redis, an expired key).
//!
//! One sorted set per user, `nova:feed:timeline:<user>`. Every member has score
//! 0, so Redis orders members lexically; post ids are UUIDv7 strings, whose
//! lexical order is their time order — a page is `ZRANGE … BYLEX REV` from the
//! cursor's id, exact keyset paging that new posts never shift. The member
//! `SENTINEL` ("!", lexically below every id) marks a built timeline, so an empty
//! feed is told apart from a missing one and fan-out never creates a partial
//! timeline: it writes only into timelines that exist (`ADD_IF_PRESENT`).
//! Timelines are capped at `cap` posts and expire after the inactivity window;
//! each read renews them.

use redis::aio::ConnectionManager;
use redis::Script;
use uuid::Uuid;

const SENTINEL: &str = "!";

/// KEYS: timelines. ARGV[1]: cap; ARGV[2]: ttl seconds; ARGV[3..]: post ids.
/// Adds the posts to each timeline that exists and trims it to the cap (rank 0
/// is the sentinel). Returns the 1-based indexes of the timelines written.
const ADD_IF_PRESENT: &str = r#"
local cap = tonumber(ARGV[1])
local members = {}
for i = 3, #ARGV do
  members[#members + 1] = 0
  members[#members + 1] = ARGV[i]
end
local written = {}
for k = 1, #KEYS do
  if redis.call('EXISTS', KEYS[k]) == 1 then
    if #members > 0 then
      redis.call('ZADD', KEYS[k], unpack(members))
      redis.call('ZREMRANGEBYRANK', KEYS[k], 1, -(cap + 1))
    end
    written[#written + 1] = k
  end
end
return written
"#;

/// Timelines one script call touches at most.
const KEYS_PER_CALL: usize = 500;

#[derive(Clone)]
pub struct Timelines {
    redis: ConnectionManager,
    cap: usize,
    ttl_seconds: i64,
    add_if_present: Script,
}

fn key(user: Uuid) -> String {
    format!("nova:feed:timeline:{user}")
}

fn parse_ids(members: Vec<String>) -> Vec<Uuid> {
    members
        .iter()
        .filter_map(|m| Uuid::parse_str(m).ok())
        .collect()
}

impl Timelines {
    pub async fn connect(redis_url: &str, cap: usize, ttl_seconds: i64) -> anyhow::Result<Self> {
        let redis = nova_core::live::redis_connection(redis_url).await?;
        Ok(Self {
            redis,
            cap,
            ttl_seconds,
            add_if_present: Script::new(ADD_IF_PRESENT),
        })
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Up to `count` post ids of `user`'s timeline older than `before`, newest
    /// first, and renews its expiry; `None` when the timeline is not built.
    pub async fn page(
        &self,
        user: Uuid,
        before: Option<Uuid>,
        count: usize,
    ) -> redis::RedisResult<Option<Vec<Uuid>>> {
        let key = key(user);
        let max = before.map_or_else(|| "+".to_string(), |id| format!("({id}"));
        let (sentinel, members, _): (Option<f64>, Vec<String>, i64) = redis::pipe()
            .cmd("ZSCORE")
            .arg(&key)
            .arg(SENTINEL)
            .cmd("ZRANGE")
            .arg(&key)
            .arg(max)
            .arg(format!("({SENTINEL}"))
            .arg("BYLEX")
            .arg("REV")
            .arg("LIMIT")
            .arg(0)
            .arg(count)
            .cmd("EXPIRE")
            .arg(&key)
            .arg(self.ttl_seconds)
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(sentinel.map(|_| parse_ids(members)))
    }

    /// Empty `user`'s timeline and mark it built, before reading what it should
    /// hold: a fan-out from then on lands in it, one before it is already in
    /// the database the rebuild reads next.
    pub async fn start_rebuild(&self, user: Uuid) -> redis::RedisResult<()> {
        let key = key(user);
        redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(&key)
            .ignore()
            .cmd("ZADD")
            .arg(&key)
            .arg(0)
            .arg(SENTINEL)
            .ignore()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(self.ttl_seconds)
            .ignore()
            .query_async(&mut self.redis.clone())
            .await
    }

    /// Add `posts` to each of `users`' timelines that exists; returns the users
    /// whose timeline was written.
    pub async fn add_if_present(
        &self,
        users: &[Uuid],
        posts: &[Uuid],
    ) -> redis::RedisResult<Vec<Uuid>> {
        let mut written = Vec::new();
        for chunk in users.chunks(KEYS_PER_CALL) {
            let mut invocation = self.add_if_present.prepare_invoke();
            for user in chunk {
                invocation.key(key(*user));
            }
            invocation.arg(self.cap).arg(self.ttl_seconds);
            for post in posts {
                invocation.arg(post.to_string());
            }
            let indexes: Vec<usize> = invocation.invoke_async(&mut self.redis.clone()).await?;
            written.extend(indexes.into_iter().filter_map(|i| chunk.get(i - 1)));
        }
        Ok(written)
    }

    /// Remove `posts` from each of `users`' timelines (absent ones are no-ops).
    pub async fn remove(&self, users: &[Uuid], posts: &[Uuid]) -> redis::RedisResult<()> {
        if posts.is_empty() {
            return Ok(());
        }
        let members: Vec<String> = posts.iter().map(Uuid::to_string).collect();
        for chunk in users.chunks(KEYS_PER_CALL) {
            let mut pipe = redis::pipe();
            for user in chunk {
                pipe.cmd("ZREM").arg(key(*user)).arg(&members).ignore();
            }
            pipe.query_async::<()>(&mut self.redis.clone()).await?;
        }
        Ok(())
    }

    /// Drop `user`'s timeline (a deleted account's).
    pub async fn drop_timeline(&self, user: Uuid) -> redis::RedisResult<()> {
        redis::cmd("DEL")
            .arg(key(user))
            .query_async::<()>(&mut self.redis.clone())
            .await
    }

    /// Every post id in `user`'s timeline.
    pub async fn members(&self, user: Uuid) -> redis::RedisResult<Vec<Uuid>> {
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(key(user))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(parse_ids(members))
    }
}

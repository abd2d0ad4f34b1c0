//! Rate limits shared by every router replica, kept in Redis.
//!
//! Each request takes tokens from one bucket: the signed-in user's (JWT `sub`), or
//! the client IP's when anonymous; operations that sign in or sign up (root field
//! in `CREDENTIAL_FIELDS`: sign-in, sign-up and password changes and resets) take
//! from a stricter per-IP bucket of their own, against credential stuffing. A
//! bucket is a Redis hash updated by one Lua script, so replicas never race, and
//! the script reads Redis's clock, so replicas need not agree on time.
//!
//! When Redis cannot be reached the configured policy decides: `open` (default)
//! serves the request, `closed` refuses it with 503. Either way
//! `nova_router_rate_limit_redis_errors_total` counts it (Prometheus text at the
//! router's `/metrics/nova`) and `/health/nova` says whether Redis answered last.
//! After a failure, checks skip Redis for `redis_retry_after_ms`
//! (`circuit_breaker.rs`), counted in `nova_router_rate_limit_redis_skipped_total`.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::circuit_breaker::CircuitBreaker;
use serde::{Deserialize, Deserializer};

/// One token bucket: at most `capacity` tokens, refilled at `per_second`.
#[derive(Clone, Debug, Deserialize)]
pub struct Bucket {
    #[serde(deserialize_with = "positive")]
    pub capacity: f64,
    #[serde(deserialize_with = "positive")]
    pub per_second: f64,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RedisDownPolicy {
    Open,
    Closed,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RateLimitConfig {
    pub enabled: Lenient<bool>,
    pub redis_url: String,
    /// What to do while Redis is unreachable.
    pub when_redis_is_down: RedisDownPolicy,
    /// After Redis fails to answer, checks skip it this long (the policy answers)
    /// before one tries again.
    pub redis_retry_after_ms: Lenient<u64>,
    /// Per signed-in user.
    pub user: Bucket,
    /// Per client IP, for anonymous requests.
    pub anonymous: Bucket,
    /// Per client IP, for the operations of `CREDENTIAL_FIELDS`.
    pub credentials: Bucket,
}

/// A value the router config may give as a string (`from_env` yields strings).
#[derive(Clone, Copy, Debug)]
pub struct Lenient<T>(pub T);

impl<'de, T> Deserialize<'de> for Lenient<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) => s,
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            other => return Err(serde::de::Error::custom(format!("unexpected {other}"))),
        };
        text.trim()
            .parse()
            .map(Lenient)
            .map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}")))
    }
}

fn positive<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    match Lenient::<f64>::deserialize(deserializer)? {
        Lenient(n) if n > 0.0 && n.is_finite() => Ok(n),
        _ => Err(serde::de::Error::custom("expected a positive number")),
    }
}

/// Takes `cost` tokens from the bucket at KEYS[1] if it has them.
/// ARGV: capacity, tokens per second, cost. Returns {allowed (0/1), tokens left
/// (floor), milliseconds until `cost` tokens are there (0 when allowed)} — or
/// {-1, 0, 0} without taking any when KEYS[2] (the caller's
/// `nova:suspended:<user>` key, which identity writes) exists, {-2, 0, 0} when
/// it says the account was deleted: one round trip answers both.
const TOKEN_BUCKET: &str = r"
if KEYS[2] then
  local refused = redis.call('GET', KEYS[2])
  if refused == 'deleted' then
    return {-2, 0, 0}
  elseif refused then
    return {-1, 0, 0}
  end
end
local capacity = tonumber(ARGV[1])
local per_second = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second / 1000)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = math.ceil((cost - tokens) * 1000 / per_second)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / per_second) + 1000)
return {allowed, math.floor(tokens), wait}
";

/// Who a request is counted against.
#[derive(Debug, PartialEq, Eq)]
pub enum Subject<'a> {
    User(&'a str),
    Anonymous(&'a str),
    Credentials(&'a str),
}

#[derive(Debug, PartialEq)]
pub enum Decision {
    Allowed {
        limit: f64,
        remaining: i64,
        /// Until the bucket is full again.
        refilled_in: Duration,
    },
    Limited {
        limit: f64,
        retry_after: Duration,
    },
    /// A moderator suspended the signed-in caller's account.
    Suspended,
    /// The signed-in caller deleted their account; the token outlived it.
    Deleted,
    /// Redis did not answer; the policy says what happens.
    RedisDown(RedisDownPolicy),
}

/// The key identity writes for a suspended account (`nova_identity::suspended_set`).
const SUSPENDED_KEY_PREFIX: &str = "nova:suspended:";

pub struct RateLimiter {
    config: RateLimitConfig,
    redis: tokio::sync::OnceCell<ConnectionManager>,
    client: redis::Client,
    script: redis::Script,
    redis_healthy: AtomicBool,
    breaker: CircuitBreaker,
    pub redis_errors: prometheus::IntCounter,
    /// Checks that did not ask Redis because the breaker was open.
    redis_skipped: prometheus::IntCounter,
    pub limited: prometheus::IntCounterVec,
    /// 1 while Redis answered the last check, 0 after a failure.
    redis_up: prometheus::IntGauge,
}

impl RateLimiter {
    /// A rate limiter whose metrics are registered in `metrics`.
    pub fn new(config: RateLimitConfig, metrics: &prometheus::Registry) -> Result<Self, String> {
        let client = redis::Client::open(config.redis_url.as_str())
            .map_err(|e| format!("rate_limits.redis_url: {e}"))?;
        let redis_errors = prometheus::IntCounter::new(
            "nova_router_rate_limit_redis_errors_total",
            "rate-limit checks Redis did not answer",
        )
        .expect("valid metric");
        let redis_skipped = prometheus::IntCounter::new(
            "nova_router_rate_limit_redis_skipped_total",
            "rate-limit checks that skipped Redis after a failure (circuit open)",
        )
        .expect("valid metric");
        let limited = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "nova_router_rate_limited_total",
                "requests refused by a rate limit",
            ),
            &["bucket"],
        )
        .expect("valid metric");
        let redis_up = prometheus::IntGauge::new(
            "nova_router_rate_limit_redis_up",
            "1 while the rate limits' Redis answers",
        )
        .expect("valid metric");
        redis_up.set(1);
        for collector in [
            Box::new(redis_errors.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(redis_skipped.clone()),
            Box::new(limited.clone()),
            Box::new(redis_up.clone()),
        ] {
            metrics.register(collector).expect("metric registered once");
        }
        let breaker = CircuitBreaker::new(Duration::from_millis(config.redis_retry_after_ms.0));
        Ok(Self {
            config,
            redis: tokio::sync::OnceCell::new(),
            client,
            script: redis::Script::new(TOKEN_BUCKET),
            redis_healthy: AtomicBool::new(true),
            breaker,
            redis_errors,
            redis_skipped,
            limited,
            redis_up,
        })
    }

    pub fn enabled(&self) -> bool {
        self.config.enabled.0
    }

    /// The limiter's state for `/health/nova`.
    pub fn health(&self) -> serde_json::Value {
        let limited: u64 = ["user", "anonymous", "credentials"]
            .iter()
            .map(|bucket| self.limited.with_label_values(&[*bucket]).get())
            .sum();
        serde_json::json!({
            "enabled": self.enabled(),
            "redis": if self.redis_healthy() { "up" } else { "down" },
            "when_redis_is_down": format!("{:?}", self.policy()).to_lowercase(),
            "redis_errors": self.redis_errors.get(),
            // Open: checks skip Redis until `redis_retry_in_ms` has passed.
            "redis_circuit": if self.breaker.is_open() { "open" } else { "closed" },
            "redis_retry_in_ms": self.breaker.retry_in().as_millis() as u64,
            "redis_skipped": self.redis_skipped.get(),
            "limited": limited,
        })
    }

    /// Whether Redis answered the last check.
    pub fn redis_healthy(&self) -> bool {
        self.redis_healthy.load(Ordering::Relaxed)
    }

    pub fn policy(&self) -> RedisDownPolicy {
        self.config.when_redis_is_down
    }

    async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        let manager = self
            .redis
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_millis(500)))
                    .set_response_timeout(Some(Duration::from_millis(500)))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await?;
        Ok(manager.clone())
    }

    /// Take `cost` tokens for `subject`, unless `user` (the verified `sub` of a
    /// signed-in caller, whichever bucket the operation counts against) is
    /// suspended.
    pub async fn check(&self, subject: &Subject<'_>, user: Option<&str>, cost: f64) -> Decision {
        let (bucket, name, key) = match subject {
            Subject::User(sub) => (&self.config.user, "user", format!("nova:rl:user:{sub}")),
            Subject::Anonymous(ip) => (
                &self.config.anonymous,
                "anonymous",
                format!("nova:rl:ip:{ip}"),
            ),
            Subject::Credentials(ip) => (
                &self.config.credentials,
                "credentials",
                format!("nova:rl:credentials:{ip}"),
            ),
        };
        if !self.breaker.may_ask() {
            self.redis_skipped.inc();
            return Decision::RedisDown(self.policy());
        }
        let answer: redis::RedisResult<(i64, i64, i64)> = async {
            let mut connection = self.connection().await?;
            let mut invocation = self.script.key(&key);
            if let Some(user) = user {
                invocation.key(format!("{SUSPENDED_KEY_PREFIX}{user}"));
            }
            invocation
                .arg(bucket.capacity)
                .arg(bucket.per_second)
                .arg(cost)
                .invoke_async(&mut connection)
                .await
        }
        .await;
        match answer {
            Ok((allowed, remaining, wait_ms)) => {
                self.breaker.succeeded();
                self.redis_healthy.store(true, Ordering::Relaxed);
                self.redis_up.set(1);
                if allowed == -2 {
                    Decision::Deleted
                } else if allowed == -1 {
                    Decision::Suspended
                } else if allowed == 1 {
                    let missing = (bucket.capacity - remaining as f64).max(0.0);
                    Decision::Allowed {
                        limit: bucket.capacity,
                        remaining,
                        refilled_in: Duration::from_secs_f64(missing / bucket.per_second),
                    }
                } else {
                    self.limited.with_label_values(&[name]).inc();
                    Decision::Limited {
                        limit: bucket.capacity,
                        retry_after: Duration::from_millis(wait_ms.max(1) as u64),
                    }
                }
            }
            Err(error) => {
                self.breaker.failed();
                if self.redis_healthy.swap(false, Ordering::Relaxed) {
                    tracing::warn!(%error, policy = ?self.policy(), "rate-limit Redis unreachable");
                }
                self.redis_errors.inc();
                self.redis_up.set(0);
                Decision::RedisDown(self.policy())
            }
        }
    }
}

/// Root fields that count against the credentials bucket: each checks or sets a
/// password or a reset token (a way to guess one), or sends mail.
pub const CREDENTIAL_FIELDS: &[&str] = &[
    "login",
    "register",
    "signUp",
    "changePassword",
    "requestPasswordReset",
    "resetPassword",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_booleans_may_come_as_strings() {
        let config: RateLimitConfig = serde_json::from_value(serde_json::json!({
            "enabled": "true",
            "redis_url": "redis://127.0.0.1:1",
            "when_redis_is_down": "closed",
            "redis_retry_after_ms": "2000",
            "user": { "capacity": "100", "per_second": 5 },
            "anonymous": { "capacity": 20, "per_second": "0.5" },
            "credentials": { "capacity": 5, "per_second": 0.1 }
        }))
        .unwrap();
        assert!(config.enabled.0);
        assert_eq!(config.user.capacity, 100.0);
        assert_eq!(config.anonymous.per_second, 0.5);
        assert_eq!(config.when_redis_is_down, RedisDownPolicy::Closed);
    }

    #[test]
    fn a_bucket_must_refill() {
        let bad = serde_json::from_value::<Bucket>(serde_json::json!({
            "capacity": 10, "per_second": 0
        }));
        assert!(bad.is_err());
    }
}

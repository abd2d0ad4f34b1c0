//! The set of suspended accounts the router reads: one Redis key per account,
//! `nova:suspended:<account id>`, expiring when the suspension ends. The router
//! checks it in the same script as the rate limit (`router/src/rate_limit.rs`),
//! so a suspended account's next operation is refused on every transport,
//! whatever its access token says, and announces the suspension on
//! `nova_core::suspensions::CHANNEL` so open streams end. Identity writes it
//! before a suspension commits, and all of it again from its own table when
//! Redis has lost it (`keep_in_sync`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::suspensions;

/// The key prefix the router reads; the same string is in `router/src/rate_limit.rs`.
pub const KEY_PREFIX: &str = "nova:suspended:";

/// How often identity looks whether Redis lost the suspensions.
const RESYNC: Duration = Duration::from_secs(10);
/// Set once every suspension in force is in Redis; a Redis that lost its data
/// lacks it.
const SYNCED_KEY: &str = "nova:suspended-synced";

async fn write_key(
    redis: &mut redis::aio::MultiplexedConnection,
    account: Uuid,
    until: DateTime<Utc>,
) -> redis::RedisResult<()> {
    let options = redis::SetOptions::default()
        .with_expiration(redis::SetExpiry::EXAT(until.timestamp().max(1) as u64));
    redis
        .set_options(format!("{KEY_PREFIX}{account}"), until.timestamp(), options)
        .await
}

#[derive(Clone)]
pub struct SuspendedSet {
    client: redis::Client,
}

impl SuspendedSet {
    pub fn new(redis_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: redis::Client::open(redis_url)?,
        })
    }

    /// Refuse the account at the router until `until`, and end its open
    /// streams.
    pub async fn add(&self, account: Uuid, until: DateTime<Utc>) -> anyhow::Result<()> {
        let mut redis = self.client.get_multiplexed_async_connection().await?;
        write_key(&mut redis, account, until).await?;
        // Streams already open end where they are served (nova_core::suspensions).
        let _: i64 = redis
            .publish(nova_core::suspensions::CHANNEL, account.to_string())
            .await?;
        Ok(())
    }

    /// Let the account through again.
    pub async fn remove(&self, account: Uuid) -> anyhow::Result<()> {
        let mut redis = self.client.get_multiplexed_async_connection().await?;
        let _: i64 = redis.del(format!("{KEY_PREFIX}{account}")).await?;
        Ok(())
    }

    /// Write every suspension in force whenever Redis has lost them (checked
    /// every `RESYNC`: a Redis that restarted empty lacks `SYNCED_KEY`), so it
    /// refuses suspended accounts again within that time. Only then: a full
    /// write racing a lift could put the lifted account's key back.
    pub async fn keep_in_sync(&self, pool: &PgPool) {
        loop {
            let written = async {
                let mut redis = self.client.get_multiplexed_async_connection().await?;
                if redis.exists(SYNCED_KEY).await? {
                    return anyhow::Ok(());
                }
                let accounts = suspensions::in_force(pool).await?;
                for (account, until) in &accounts {
                    write_key(&mut redis, *account, *until).await?;
                }
                let () = redis.set(SYNCED_KEY, 1).await?;
                tracing::info!(accounts = accounts.len(), "suspensions written to Redis");
                anyhow::Ok(())
            }
            .await;
            if let Err(error) = written {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "suspensions not written to Redis; retrying"
                );
            }
            tokio::time::sleep(RESYNC).await;
        }
    }
}

//! The set of suspended accounts the router reads: one Redis key per account,
//! `nova:suspended:<account id>`, expiring when the suspension ends. The router
//! checks it in the same script as the rate limit (`router/src/rate_limit.rs`),
//! so a suspended account's next operation is refused on every transport,
//! whatever its access token says, and announces the suspension on
//! `nova_core::suspensions::CHANNEL` so open streams end. Identity writes it
//! before a suspension commits, and all of it again from its own table when
//! Redis has lost it (`keep_in_sync`). A deleted account's key holds
//! `deleted` until its last access token has expired.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use sqlx::PgPool;
use uuid::Uuid;

use nova_core::suspensions::{announcement, Ending, CHANNEL};

use crate::store::{deletion, suspensions};

/// The key prefix the router reads; the same string is in `router/src/rate_limit.rs`.
pub const KEY_PREFIX: &str = "nova:suspended:";

/// How often identity looks whether Redis lost the suspensions.
const RESYNC: Duration = Duration::from_secs(10);
/// Set once every suspension in force is in Redis; a Redis that lost its data
/// lacks it.
const SYNCED_KEY: &str = "nova:suspended-synced";

/// The key's value for a deleted account (the router answers
/// `UNAUTHENTICATED`, reason `ACCOUNT_DELETED`); a suspension's is its end.
pub const DELETED: &str = "deleted";

/// The account's key until `until`: `deleted`, or a suspension's end.
async fn write_key(
    redis: &mut redis::aio::MultiplexedConnection,
    account: Uuid,
    until: DateTime<Utc>,
    ending: Ending,
) -> redis::RedisResult<()> {
    let value = match ending {
        Ending::Suspended => until.timestamp().to_string(),
        Ending::Deleted => DELETED.to_string(),
    };
    let options = redis::SetOptions::default()
        .with_expiration(redis::SetExpiry::EXAT(until.timestamp().max(1) as u64));
    redis
        .set_options(format!("{KEY_PREFIX}{account}"), value, options)
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
        self.refuse(account, until, Ending::Suspended).await
    }

    /// Refuse a deleted account's access tokens at the router until `until`
    /// (when the last one it was issued has expired), and end its open streams.
    pub async fn add_deleted(&self, account: Uuid, until: DateTime<Utc>) -> anyhow::Result<()> {
        self.refuse(account, until, Ending::Deleted).await
    }

    async fn refuse(
        &self,
        account: Uuid,
        until: DateTime<Utc>,
        ending: Ending,
    ) -> anyhow::Result<()> {
        let mut redis = self.client.get_multiplexed_async_connection().await?;
        write_key(&mut redis, account, until, ending).await?;
        // Streams already open end where they are served (nova_core::suspensions).
        let _: i64 = redis
            .publish(CHANNEL, announcement(account, ending))
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
    /// Deleted accounts are written for `token_lifetime` after their deletion.
    pub async fn keep_in_sync(&self, pool: &PgPool, token_lifetime: chrono::Duration) {
        loop {
            let written = async {
                let mut redis = self.client.get_multiplexed_async_connection().await?;
                if redis.exists(SYNCED_KEY).await? {
                    return anyhow::Ok(());
                }
                let accounts = suspensions::in_force(pool).await?;
                for (account, until) in &accounts {
                    write_key(&mut redis, *account, *until, Ending::Suspended).await?;
                }
                let deleted = deletion::deleted_since(pool, Utc::now() - token_lifetime).await?;
                for (account, deleted_at) in &deleted {
                    let until = *deleted_at + token_lifetime;
                    write_key(&mut redis, *account, until, Ending::Deleted).await?;
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

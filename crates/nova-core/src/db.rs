//! The subgraph's own Postgres database: a pool, migrations at start, a readiness
//! probe, and a count of the SQL statements sent (so batching can be tested and
//! watched: every store function goes through `Db::statement`).

use std::borrow::Cow;
use std::time::Duration;

use prometheus::IntCounter;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Connection;

/// A pooled connection idle longer than this is checked with a round trip
/// before it is lent (see `connect_and_migrate`).
const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    background: PgPool,
    statements: IntCounter,
}

/// Connections a process may hold, per pool. Background work (the outbox relay,
/// event consumers, index writers, backfill exports) has a pool of its own, so a
/// backlog being worked off cannot take the connections requests need, nor a
/// burst of requests stall the relay.
#[derive(Clone, Copy, Debug)]
pub struct PoolSizes {
    pub requests: u32,
    pub background: u32,
}

impl Db {
    /// Connect (retrying for up to `wait`, since Postgres may still be starting) and
    /// run the subgraph's migrations together with the event backbone's tables.
    pub async fn connect_and_migrate(
        url: &str,
        sizes: PoolSizes,
        migrator: &Migrator,
        statements: IntCounter,
        wait: Duration,
    ) -> anyhow::Result<Self> {
        // sqlx checks a connection with a round trip before lending it and
        // again when it comes back: with the statement's own, three round trips
        // a statement. The check on return stays (it closes a broken
        // connection); the one before lending is kept only for a connection
        // idle longer than `CHECK_IF_IDLE_FOR`, which is where a Postgres
        // restart would have left a dead one.
        let options = |size: u32| {
            PgPoolOptions::new()
                .max_connections(size)
                .acquire_timeout(Duration::from_secs(5))
                .test_before_acquire(false)
                .before_acquire(|connection, meta| {
                    Box::pin(async move {
                        if meta.idle_for > CHECK_IF_IDLE_FOR {
                            connection.ping().await?;
                        }
                        Ok(true)
                    })
                })
        };
        let deadline = tokio::time::Instant::now() + wait;
        let pool = loop {
            let attempt = options(sizes.requests).connect(url).await;
            match attempt {
                Ok(pool) => break pool,
                Err(error) if tokio::time::Instant::now() < deadline => {
                    tracing::warn!(%error, "database not reachable yet; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(error) => {
                    return Err(anyhow::anyhow!("cannot connect to DATABASE_URL: {error}"))
                }
            }
        };
        let migrations = migrator
            .iter()
            .chain(crate::events::MIGRATOR.iter())
            .cloned()
            .collect::<Vec<_>>();
        let combined = Migrator {
            migrations: Cow::Owned(migrations),
            ..Migrator::DEFAULT
        };
        combined
            .run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("database migrations failed: {e}"))?;
        // Connects when first used; the database answered just now.
        let background = options(sizes.background).connect_lazy(url)?;
        Ok(Self {
            pool,
            background,
            statements,
        })
    }

    /// The pool for one SQL statement; counts it. Store functions call this once per
    /// statement they send.
    pub fn statement(&self) -> &PgPool {
        self.statements.inc();
        &self.pool
    }

    /// The pool for background work (the outbox relay, event consumers). Not
    /// counted: `nova_sql_statements_total` measures the work requests cause.
    pub fn background_pool(&self) -> &PgPool {
        &self.background
    }

    /// Begin a transaction; each statement inside it should still be counted with
    /// `count_statement`.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Count a statement sent on a transaction.
    pub fn count_statement(&self) {
        self.statements.inc();
    }

    /// How many statements this process has sent so far.
    pub fn statements_sent(&self) -> u64 {
        self.statements.get()
    }

    /// Readiness: can we run a trivial query within a second? Not counted.
    pub async fn ping(&self) -> Result<(), String> {
        let query = sqlx::query_scalar!("SELECT 1 AS alive").fetch_one(&self.pool);
        match tokio::time::timeout(Duration::from_secs(1), query).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("postgres: {e}")),
            Err(_) => Err("postgres: no answer within 1s".to_string()),
        }
    }
}

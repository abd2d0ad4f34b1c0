//! The transactional outbox: a mutation writes its rows and its events in one
//! transaction ([`enqueue`]); the [`Relay`] publishes pending events to Kafka and
//! marks them sent. A write succeeds while Kafka is down; its events go out once
//! the broker is back.
//!
//! Several relays (one per replica of a subgraph) may run on one database: each
//! pass claims a batch (`claimed_until`, set in a short transaction that takes the
//! rows with `FOR UPDATE SKIP LOCKED`), publishes it with no lock held and no
//! transaction open, then records the outcome. No row is published by two relays
//! at once while its claim lasts (the delivery timeout and a margin), and a row is
//! published only when no earlier unsent row has the same key, so one aggregate's
//! events reach Kafka in the order they were written. A failed row waits (with
//! backoff) and holds back the later rows of its key. Delivery is at least once — a
//! relay that dies between the broker's acknowledgement and recording it leaves
//! a claim that runs out, and the row is published again — and consumers drop the
//! repeat by event id.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tracing::Instrument;
use uuid::Uuid;

use super::envelope::{Envelope, Event};
use super::kafka::KafkaConfig;
use super::metrics::EventMetrics;
use crate::db::Db;
use crate::telemetry;

/// Write `event` to the outbox inside the caller's transaction. Returns its id.
///
/// The row's `seq` must follow commit order within a key, or the relay could
/// publish a later event while an earlier one's transaction is still open (it
/// cannot see that row yet). So the insert first takes a transaction-scoped
/// advisory lock on the key: a second writer of the same key draws its `seq` only
/// after the first has committed. Writers of one key take turns from their
/// enqueue to their commit — enqueue last, just before committing. A transaction
/// that enqueues several keys must do so in one order everywhere (each
/// transaction in Nova enqueues one event).
pub async fn enqueue(
    db: &Db,
    tx: &mut Transaction<'static, Postgres>,
    event: &Event,
) -> Result<Uuid, sqlx::Error> {
    db.count_statement();
    enqueue_on(tx, event).await
}

/// [`enqueue`] on a consumer's transaction (`EventHandler::apply`), for an
/// event that follows from another: content deleting a deleted account's
/// posts. Several keys in one transaction are enqueued in ascending key order.
pub async fn enqueue_on(tx: &mut PgConnection, event: &Event) -> Result<Uuid, sqlx::Error> {
    let envelope = Envelope::new(event);
    let publish = telemetry::producer_span(&event.topic());
    let traceparent = telemetry::traceparent_of(&publish);
    // The lock is taken in a subquery, before `seq`'s default is drawn.
    sqlx::query!(
        "INSERT INTO outbox (event_id, topic, event_key, envelope, traceparent) \
         SELECT $1, $2, $3, $4, $5 \
         FROM (SELECT pg_advisory_xact_lock(hashtext('nova.outbox'), hashtext($3))) AS key_turn",
        envelope.id,
        event.topic(),
        envelope.key,
        sqlx::types::Json(&envelope) as _,
        traceparent,
    )
    .execute(tx)
    .instrument(publish)
    .await?;
    Ok(envelope.id)
}

/// Rows one relay pass takes at most.
const BATCH: i64 = 500;
/// The relay polls this often even without a notification (a missed NOTIFY, a
/// row waiting for its retry time).
const POLL: Duration = Duration::from_millis(500);
/// A claim outlasts the delivery timeout by this much, so a claim runs out only
/// when its relay is gone (or stuck), never while its delivery may still succeed.
const CLAIM_MARGIN: Duration = Duration::from_secs(30);

pub struct Relay {
    pool: PgPool,
    kafka: KafkaConfig,
    delivery_timeout: Duration,
    /// Replaced after a pass with failed deliveries: a fresh producer starts
    /// clean (new producer id) instead of carrying the failed batch's sequence
    /// state. (tansu 0.6.0 also fails on the epoch bump librdkafka would do.)
    producer: Mutex<Arc<FutureProducer>>,
    metrics: EventMetrics,
}

struct Pending {
    seq: i64,
    topic: String,
    key: String,
    envelope: String,
    attempts: i32,
    traceparent: Option<String>,
}

impl Relay {
    /// `pool` is the subgraph's pool; the relay's statements are not counted in
    /// `nova_sql_statements_total`, which measures request work. A publish not
    /// acknowledged within `delivery_timeout` is retried later.
    pub fn new(
        pool: PgPool,
        kafka: KafkaConfig,
        delivery_timeout: Duration,
        metrics: EventMetrics,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        let producer = Mutex::new(Arc::new(kafka.producer(delivery_timeout)?));
        Ok(Self {
            pool,
            kafka,
            delivery_timeout,
            producer,
            metrics,
        })
    }

    fn producer(&self) -> Arc<FutureProducer> {
        self.producer.lock().expect("producer lock").clone()
    }

    fn replace_producer(&self) {
        match self.kafka.producer(self.delivery_timeout) {
            Ok(fresh) => *self.producer.lock().expect("producer lock") = Arc::new(fresh),
            Err(error) => tracing::warn!(%error, "cannot create a new Kafka producer"),
        }
    }

    /// Publish until the process ends.
    pub async fn run(self) {
        let mut listener = self.listen().await;
        let mut last_cleanup = tokio::time::Instant::now();
        loop {
            // Measured before the pass, which may wait for a broker that is away.
            if let Err(error) = self.update_backlog().await {
                tracing::warn!(%error, "cannot measure the outbox backlog");
            }
            match self.publish_pending().await {
                // A full batch: there may be more right away.
                Ok(published) if published as i64 >= BATCH => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "outbox relay pass failed"),
            }
            if last_cleanup.elapsed() > Duration::from_secs(60) {
                last_cleanup = tokio::time::Instant::now();
                // Sent rows are kept a day for an operator, then deleted.
                let cleanup =
                    sqlx::query!("DELETE FROM outbox WHERE sent_at < now() - interval '1 day'")
                        .execute(&self.pool)
                        .await;
                if let Err(error) = cleanup {
                    tracing::warn!(%error, "cannot delete old outbox rows");
                }
            }
            match listener.as_mut() {
                Some(l) => {
                    if let Ok(Err(error)) = tokio::time::timeout(POLL, l.recv()).await {
                        tracing::warn!(%error, "outbox listener lost; polling");
                        listener = None;
                    }
                }
                None => {
                    tokio::time::sleep(POLL).await;
                    listener = self.listen().await;
                }
            }
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await.ok()?;
        listener.listen("nova_outbox").await.ok()?;
        Some(listener)
    }

    async fn update_backlog(&self) -> Result<(), sqlx::Error> {
        let backlog =
            sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM outbox WHERE sent_at IS NULL"#)
                .fetch_one(&self.pool)
                .await?;
        self.metrics.outbox_backlog.set(backlog);
        Ok(())
    }

    /// One pass: claim a batch, publish it, record the outcome. Returns how many
    /// rows were published.
    pub async fn publish_pending(&self) -> Result<usize, sqlx::Error> {
        // The batch is the oldest due rows nobody else holds or has claimed; of
        // those, a row goes out only if no earlier unsent row of its key is outside
        // the batch (claimed by another relay, or waiting for its retry).
        let claim_ms = (self.delivery_timeout + CLAIM_MARGIN).as_millis() as f64;
        let mut pending = sqlx::query_as!(
            Pending,
            r#"WITH batch AS (
                 SELECT seq FROM outbox
                 WHERE sent_at IS NULL AND next_attempt_at <= clock_timestamp()
                   AND (claimed_until IS NULL OR claimed_until < clock_timestamp())
                 ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED
             ), ready AS (
                 SELECT o.seq FROM outbox o JOIN batch b ON b.seq = o.seq
                 WHERE NOT EXISTS (
                     SELECT 1 FROM outbox earlier
                     WHERE earlier.event_key = o.event_key AND earlier.sent_at IS NULL
                       AND earlier.seq < o.seq AND earlier.seq NOT IN (SELECT seq FROM batch)
                 )
             )
             UPDATE outbox o
             SET claimed_until = clock_timestamp() + make_interval(secs => $2::float8 / 1000)
             FROM ready WHERE o.seq = ready.seq
             RETURNING o.seq, o.topic, o.event_key AS key, o.envelope::text AS "envelope!",
                       o.attempts, o.traceparent"#,
            BATCH,
            claim_ms,
        )
        .fetch_all(&self.pool)
        .await?;
        if pending.is_empty() {
            return Ok(0);
        }
        // RETURNING has no order.
        pending.sort_by_key(|row| row.seq);

        // Hand every message to the producer in order, then wait for the acks: the
        // idempotent producer keeps a partition's order across its own retries.
        let producer = self.producer();
        let mut deliveries = Vec::with_capacity(pending.len());
        for row in &pending {
            let mut record = FutureRecord::to(&row.topic)
                .key(&row.key)
                .payload(&row.envelope);
            if let Some(traceparent) = &row.traceparent {
                record = record.headers(OwnedHeaders::new().insert(Header {
                    key: telemetry::TRACEPARENT_HEADER,
                    value: Some(traceparent),
                }));
            }
            deliveries.push(producer.send_result(record).map_err(|(e, _)| e));
        }
        let mut sent = Vec::new();
        let mut failed_keys = HashSet::new();
        let mut failures = Vec::new();
        for (row, delivery) in pending.iter().zip(deliveries) {
            let outcome = match delivery {
                Ok(future) => match future.await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err((error, _))) => Err(error.to_string()),
                    Err(_) => Err("producer dropped the message".to_string()),
                },
                Err(error) => Err(error.to_string()),
            };
            // A key whose earlier row failed keeps its later rows back too, even if
            // they were acknowledged: they are published again after it (consumers
            // drop the repeats), so the key's order holds.
            match outcome {
                Ok(()) if !failed_keys.contains(&row.key) => sent.push(row.seq),
                Ok(()) => failures.push((row, "an earlier event of its key failed".into())),
                Err(error) => {
                    failed_keys.insert(row.key.clone());
                    failures.push((row, error));
                }
            }
        }

        let mut tx = self.pool.begin().await?;
        if !sent.is_empty() {
            let delays = sqlx::query_scalar!(
                r#"UPDATE outbox SET sent_at = clock_timestamp(), last_error = NULL,
                 claimed_until = NULL
                 WHERE seq = ANY($1)
                 RETURNING extract(epoch FROM sent_at - created_at)::float8 AS "delay!""#,
                &sent,
            )
            .fetch_all(&mut *tx)
            .await?;
            for delay in delays {
                self.metrics.outbox_delay.observe(delay);
            }
        }
        for (row, error) in &failures {
            let backoff_ms = backoff(row.attempts).as_millis() as i64;
            sqlx::query!(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2, claimed_until = NULL, \
                 next_attempt_at = clock_timestamp() + make_interval(secs => $3::float8 / 1000) \
                 WHERE seq = $1",
                row.seq,
                error,
                backoff_ms as f64,
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.metrics.outbox_published.inc_by(sent.len() as u64);
        if !failures.is_empty() {
            self.replace_producer();
            self.metrics
                .outbox_publish_failures
                .inc_by(failures.len() as u64);
            tracing::warn!(
                failed = failures.len(),
                first_error = %failures[0].1,
                "events not published; retrying with backoff"
            );
        }
        Ok(sent.len())
    }
}

/// 200 ms, doubling per failed attempt, at most 5 s.
fn backoff(attempts: i32) -> Duration {
    let factor = 1u64 << attempts.clamp(0, 5);
    Duration::from_millis((200 * factor).min(5_000))
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_stops_at_five_seconds() {
        assert_eq!(backoff(0), Duration::from_millis(200));
        assert_eq!(backoff(1), Duration::from_millis(400));
        assert_eq!(backoff(4), Duration::from_millis(3_200));
        assert_eq!(backoff(5), Duration::from_millis(5_000));
        assert_eq!(backoff(40), Duration::from_millis(5_000));
    }
}

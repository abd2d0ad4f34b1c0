//! The batch consumer: reads up to `batch_max_events` messages (or what came
//! within `batch_linger` of the first), writes them to ClickHouse in one insert,
//! and only then stores their offsets (librdkafka commits stored offsets once a
//! second). A crash before that means a redelivery, which inserts the same
//! event ids again: reads count them once (see `clickhouse`). ClickHouse down →
//! the batch is retried with backoff, forever, and readiness reports it; nothing
//! is skipped, and the consumer catches up when it returns.
//!
//! The per-event consumer of `nova_core::events` cannot batch (one transaction
//! per event), so this one reads Kafka itself, with the same group settings,
//! lag metric, outcome counter and dead-letter topic.

use std::collections::HashSet;
use std::time::Duration;

use nova_core::events::consumer::{is_known_type, FAULT_EXIT_BEFORE_OFFSET_COMMIT};
use nova_core::events::dead_letter::{DeadLetter, DEAD_LETTER_TOPIC};
use nova_core::events::metrics::LagContext;
use nova_core::events::{Envelope, EventMetrics, KafkaConfig};
use nova_core::readiness::Dependency;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::FutureProducer;
use sqlx::PgPool;
use uuid::Uuid;

use crate::clickhouse::{quoted, ClickHouse, TABLES};
use crate::events::{ingest_of, topics, EventRow, Ingest};
use crate::features::Features;
use crate::settings::AnalyticsSettings;
use crate::store;

/// The consumer's name: its Kafka group is `nova.analytics.events`.
pub const CONSUMER: &str = "analytics.events";

const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Payload bytes one batch reads at most, besides `batch_max_events`: a
/// views event carries up to 100 pages (2 000 rows), so a catch-up batch of
/// 5 000 of them would hold millions of rows in memory. 16 MB is about
/// 180 000 view rows.
const MAX_BATCH_BYTES: usize = 16 << 20;
const DEAD_LETTER_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Ingestion {
    pub clickhouse: ClickHouse,
    pub pool: PgPool,
    pub kafka: KafkaConfig,
    pub metrics: EventMetrics,
    pub settings: AnalyticsSettings,
    /// Marked down while a write fails (the watcher marks it up again).
    pub clickhouse_ready: Dependency,
    /// A deleted account's ranking features go with its rows.
    pub features: Features,
}

/// What one batch holds once read.
#[derive(Default)]
struct Batch {
    rows: Vec<EventRow>,
    erasures: Vec<Uuid>,
    /// Events that became rows or erasures.
    applied: u64,
    ignored: u64,
    /// Event types in the batch (for the fault hook).
    types: HashSet<String>,
}

impl Ingestion {
    /// Every outcome's series, at 0 from the start, so a reader of /metrics can
    /// tell "none yet" from "no such consumer". Call before `run`.
    pub fn register_metrics(&self) {
        for outcome in ["applied", "ignored", "dead_lettered"] {
            self.metrics
                .consumed
                .with_label_values(&[CONSUMER, outcome]);
        }
    }

    /// Consume until the process ends.
    pub async fn run(self) -> anyhow::Result<()> {
        let mut all_topics = topics();
        all_topics.push(DEAD_LETTER_TOPIC.to_string());
        nova_core::events::ensure_topics_forever(&self.kafka, &all_topics).await;
        let context = LagContext {
            consumer: CONSUMER,
            metrics: self.metrics.clone(),
        };
        let consumer: StreamConsumer<LagContext> = self
            .kafka
            .consumer_config(&format!("nova.{CONSUMER}"))
            .create_with_context(context)?;
        let dead_letters = self.kafka.producer(DEAD_LETTER_TIMEOUT)?;
        let names = topics();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        consumer.subscribe(&refs)?;
        tracing::info!(consumer = CONSUMER, topics = ?names, "consuming in batches");
        let exit_before_commit = nova_core::config::optional(FAULT_EXIT_BEFORE_OFFSET_COMMIT);
        loop {
            let messages = self.next_messages(&consumer).await;
            let mut batch = Batch::default();
            for message in &messages {
                if let Err(reason) = read_into(&mut batch, message) {
                    dead_letter_until_done(&dead_letters, message, &reason).await;
                    self.count("dead_lettered", 1);
                }
            }
            self.write_until_done(&batch).await;
            if exit_before_commit
                .as_ref()
                .is_some_and(|wanted| batch.types.contains(wanted))
            {
                tracing::error!("fault injection: exiting before the offset commit");
                std::process::exit(86);
            }
            for message in &messages {
                if let Err(error) = consumer.store_offset_from_message(message) {
                    // Lost partition: its new owner reads the batch again.
                    tracing::warn!(%error, "offset not stored");
                }
            }
            self.count("applied", batch.applied);
            self.count("ignored", batch.ignored);
        }
    }

    fn count(&self, outcome: &str, events: u64) {
        self.metrics
            .consumed
            .with_label_values(&[CONSUMER, outcome])
            .inc_by(events);
    }

    /// The next batch: the first message whenever it comes, then whatever
    /// arrives within the linger, up to the maximum events or bytes.
    async fn next_messages<'c>(
        &self,
        consumer: &'c StreamConsumer<LagContext>,
    ) -> Vec<BorrowedMessage<'c>> {
        let mut messages = Vec::new();
        let mut bytes = 0;
        let mut deadline = None;
        while messages.len() < self.settings.batch_max_events && bytes < MAX_BATCH_BYTES {
            let next = match deadline {
                None => Ok(consumer.recv().await),
                Some(at) => tokio::time::timeout_at(at, consumer.recv()).await,
            };
            match next {
                Ok(Ok(message)) => {
                    bytes += message.payload_len();
                    messages.push(message);
                    deadline
                        .get_or_insert(tokio::time::Instant::now() + self.settings.batch_linger);
                }
                // Reports; librdkafka reconnects by itself.
                Ok(Err(error)) => tracing::warn!(%error, "cannot read from Kafka"),
                Err(_elapsed) => break,
            }
        }
        messages
    }

    /// Erasures first (recorded in Postgres, so rows naming an erased account
    /// are dropped from this batch and every later one), then the insert, then
    /// the erasures' deletes; retried until all of it succeeded.
    async fn write_until_done(&self, batch: &Batch) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.write(batch).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), events = batch.rows.len(), "batch not written; retrying");
                    self.clickhouse_ready.down(format!("{error:#}"));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn write(&self, batch: &Batch) -> anyhow::Result<()> {
        store::record_erasures(&self.pool, &batch.erasures).await?;
        let named: Vec<Uuid> = batch
            .rows
            .iter()
            .flat_map(EventRow::accounts)
            .filter_map(|id| Uuid::parse_str(id).ok())
            .collect();
        let erased: HashSet<String> = store::erased_among(&self.pool, &named)
            .await?
            .iter()
            .map(Uuid::to_string)
            .collect();
        let now = chrono::Utc::now().timestamp();
        let kept: Vec<EventRow> = batch
            .rows
            .iter()
            .filter(|row| !row.accounts().iter().any(|id| erased.contains(*id)))
            .map(|row| EventRow {
                ingested_at: now,
                ..row.clone()
            })
            .collect();
        self.clickhouse.insert("events", &kept).await?;
        let interactions: Vec<&EventRow> = kept.iter().filter(|r| r.is_interaction()).collect();
        self.clickhouse
            .insert("interactions", &interactions)
            .await?;
        for user in &batch.erasures {
            self.features.erase(*user).await?;
            let user = quoted(*user);
            for (table, _) in TABLES {
                self.clickhouse
                    .execute(&format!(
                        "ALTER TABLE {} DELETE WHERE actor_id = {user} OR author_id = {user}",
                        self.clickhouse.table(table)
                    ))
                    .await?;
            }
        }
        Ok(())
    }
}

/// Add `message` to `batch`; the reason when it cannot be read.
fn read_into(batch: &mut Batch, message: &BorrowedMessage<'_>) -> Result<(), String> {
    let payload = message.payload().ok_or("message without a payload")?;
    let envelope: Envelope =
        serde_json::from_slice(payload).map_err(|e| format!("not an event envelope: {e}"))?;
    batch.types.insert(envelope.event_type.clone());
    let event = match envelope.event() {
        Ok(event) => event,
        // A type this build does not know (a newer producer's) is not counted.
        Err(_) if !is_known_type(&envelope.event_type) => {
            batch.ignored += 1;
            return Ok(());
        }
        Err(error) => {
            return Err(format!(
                "{} payload unreadable: {error}",
                envelope.event_type
            ))
        }
    };
    match ingest_of(&envelope, &event) {
        Ingest::Row(row) => batch.rows.push(row),
        Ingest::Rows(rows) => batch.rows.extend(rows),
        Ingest::Erase(user) => batch.erasures.push(user),
        Ingest::Ignore => {
            batch.ignored += 1;
            return Ok(());
        }
    }
    batch.applied += 1;
    Ok(())
}

async fn dead_letter_until_done(
    producer: &FutureProducer,
    message: &BorrowedMessage<'_>,
    reason: &str,
) {
    let letter = DeadLetter::of(CONSUMER, message, reason);
    let mut backoff = Duration::from_millis(100);
    while let Err(error) = letter.publish(producer, DEAD_LETTER_TIMEOUT).await {
        tracing::warn!(%error, "dead letter not published; retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

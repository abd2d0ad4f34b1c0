//! Idempotent consumers. For each message: read the envelope, and in one
//! transaction record `(consumer, event id)` in `processed_events` and apply the
//! effect; only then commit the Kafka offset. An event seen again (a redelivery
//! after a crash between the database commit and the offset commit, or a relay
//! that published twice) finds its id recorded and changes nothing.
//!
//! A message that is not a readable event is logged, counted and parked in
//! `parked_messages`, and the consumer moves on. A database error retries the
//! same message with backoff and never skips it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::statistics::Statistics;
use sqlx::{PgConnection, PgPool};

use super::envelope::{Envelope, Event};
use super::kafka::KafkaConfig;
use super::metrics::EventMetrics;

/// What a consumer does with the events it subscribes to.
pub trait EventHandler: Send + Sync + 'static {
    /// The consumer's name: its Kafka group (`nova.<name>`) and its key in
    /// `processed_events`. Changing it replays every topic from the start.
    fn name(&self) -> &'static str;
    /// The topics it reads.
    fn topics(&self) -> Vec<String>;
    /// Apply one event inside the consumer's transaction. Events of types it does
    /// not care about return `Ok(false)` (nothing recorded).
    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a Event,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send + 'a;
    /// Runs once the applied event's transaction has committed (and before its
    /// offset is committed): the place for effects outside Postgres, such as
    /// telling live subscribers. Not run for duplicates or ignored events.
    fn after_commit<'a>(&'a self, _event: &'a Event) -> impl Future<Output = ()> + Send + 'a {
        async {}
    }
}

/// Test hook: with `NOVA_FAULT_EXIT_BEFORE_OFFSET_COMMIT=<event type>` the process
/// exits right after applying such an event and before committing its offset, as
/// a crash there would. The fault tests use it; nothing else sets it.
pub const FAULT_EXIT_BEFORE_OFFSET_COMMIT: &str = "NOVA_FAULT_EXIT_BEFORE_OFFSET_COMMIT";

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Outcome {
    Applied,
    Duplicate,
    Ignored,
    Parked,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
            Outcome::Parked => "parked",
        }
    }
}

/// Publishes librdkafka's per-partition consumer lag as a metric.
pub struct LagContext {
    consumer: &'static str,
    metrics: EventMetrics,
}

impl ClientContext for LagContext {
    fn stats(&self, statistics: Statistics) {
        for (topic, stats) in &statistics.topics {
            for (partition, p) in &stats.partitions {
                // Partition -1 is librdkafka's internal "unassigned" queue; a lag of
                // -1 means not known yet.
                if *partition < 0 || p.consumer_lag < 0 {
                    continue;
                }
                self.metrics
                    .consumer_lag
                    .with_label_values(&[self.consumer, topic, &partition.to_string()])
                    .set(p.consumer_lag);
            }
        }
    }
}

impl ConsumerContext for LagContext {}

pub struct EventConsumer<H> {
    handler: Arc<H>,
    pool: PgPool,
    kafka: KafkaConfig,
    metrics: EventMetrics,
    exit_before_commit: Option<String>,
}

impl<H: EventHandler> EventConsumer<H> {
    pub fn new(handler: H, pool: PgPool, kafka: KafkaConfig, metrics: EventMetrics) -> Self {
        Self {
            handler: Arc::new(handler),
            pool,
            kafka,
            metrics,
            exit_before_commit: crate::config::optional(FAULT_EXIT_BEFORE_OFFSET_COMMIT),
        }
    }

    /// Consume until the process ends. Topics must exist (see
    /// `KafkaConfig::ensure_topics`).
    pub async fn run(self) -> anyhow::Result<()> {
        let name = self.handler.name();
        let context = LagContext {
            consumer: name,
            metrics: self.metrics.clone(),
        };
        let consumer: StreamConsumer<LagContext> = self
            .kafka
            .consumer_config(&format!("nova.{name}"))
            .create_with_context(context)?;
        let topics = self.handler.topics();
        let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topic_refs)?;
        tracing::info!(consumer = name, ?topics, "consuming");
        loop {
            // Errors are reports (librdkafka reconnects by itself) and share one
            // queue with the group's rebalances: read them without pausing, or a
            // new assignment waits behind an outage's worth of them.
            let message = match consumer.recv().await {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(consumer = name, %error, "cannot read from Kafka");
                    continue;
                }
            };
            let outcome = self.handle_until_done(&message).await;
            self.metrics
                .consumed
                .with_label_values(&[name, outcome.label()])
                .inc();
            // Async: the offset rides on the next commit request; a crash before it
            // lands means a redelivery, which the processed_events record absorbs.
            if let Err(error) = consumer.commit_message(&message, CommitMode::Async) {
                tracing::warn!(consumer = name, %error, "offset commit failed");
            }
        }
    }

    /// Apply one message, retrying database failures until they pass.
    async fn handle_until_done(&self, message: &BorrowedMessage<'_>) -> Outcome {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.handle(message).await {
                Ok(outcome) => return outcome,
                Err(error) => {
                    self.metrics
                        .consumer_failures
                        .with_label_values(&[self.handler.name()])
                        .inc();
                    tracing::warn!(
                        consumer = self.handler.name(),
                        topic = message.topic(),
                        offset = message.offset(),
                        %error,
                        "cannot apply event; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn handle(&self, message: &BorrowedMessage<'_>) -> Result<Outcome, sqlx::Error> {
        let payload = message.payload().unwrap_or_default();
        let envelope: Envelope = match serde_json::from_slice(payload) {
            Ok(envelope) => envelope,
            Err(error) => return self.park(message, &format!("not an event: {error}")).await,
        };
        let event = match envelope.event() {
            Ok(event) => event,
            // A type this build does not know (a newer producer): not ours to read.
            Err(_) if !is_known_type(&envelope.event_type) => return Ok(Outcome::Ignored),
            Err(error) => {
                let reason = format!("{} payload unreadable: {error}", envelope.event_type);
                return self.park(message, &reason).await;
            }
        };
        let mut tx = self.pool.begin().await?;
        let first_time = sqlx::query(
            "INSERT INTO processed_events (consumer, event_id, event_type) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(self.handler.name())
        .bind(envelope.id)
        .bind(&envelope.event_type)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !first_time {
            tx.rollback().await?;
            tracing::info!(consumer = self.handler.name(), event_id = %envelope.id, "duplicate event skipped");
            return Ok(Outcome::Duplicate);
        }
        if !self.handler.apply(&mut tx, &event).await? {
            tx.rollback().await?;
            return Ok(Outcome::Ignored);
        }
        tx.commit().await?;
        self.handler.after_commit(&event).await;
        if self.exit_before_commit.as_deref() == Some(envelope.event_type.as_str()) {
            tracing::error!(event_type = %envelope.event_type, "fault injection: exiting before the offset commit");
            std::process::exit(86);
        }
        Ok(Outcome::Applied)
    }

    async fn park(
        &self,
        message: &BorrowedMessage<'_>,
        reason: &str,
    ) -> Result<Outcome, sqlx::Error> {
        tracing::error!(
            consumer = self.handler.name(),
            topic = message.topic(),
            partition = message.partition(),
            offset = message.offset(),
            reason,
            "unreadable message parked"
        );
        sqlx::query(
            "INSERT INTO parked_messages (consumer, topic, kafka_partition, kafka_offset, payload, error) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(self.handler.name())
        .bind(message.topic())
        .bind(message.partition())
        .bind(message.offset())
        .bind(message.payload())
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(Outcome::Parked)
    }
}

fn is_known_type(event_type: &str) -> bool {
    // Probe with an empty payload: a known type fails on a missing field, an
    // unknown one on the variant.
    let probe = serde_json::json!({ "type": event_type, "payload": {} });
    match serde_json::from_value::<Event>(probe) {
        Ok(_) => true,
        Err(error) => !error.to_string().contains("unknown variant"),
    }
}

#[cfg(test)]
mod tests {
    use super::is_known_type;

    #[test]
    fn known_and_unknown_types_are_told_apart() {
        assert!(is_known_type("content.post_deleted"));
        assert!(is_known_type("social.followed"));
        assert!(!is_known_type("content.post_archived"));
        assert!(!is_known_type(""));
    }
}

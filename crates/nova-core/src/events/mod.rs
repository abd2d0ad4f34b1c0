//! The event backbone: typed envelopes, the transactional outbox and its relay,
//! idempotent consumers, on Kafka through rdkafka. See ARCHITECTURE.md ("Events")
//! and `envelope` for the catalogue of event types.

pub mod consumer;
pub mod dead_letter;
pub mod envelope;
pub mod kafka;
pub mod metrics;
pub mod outbox;
pub mod pruning;
mod retries;
mod viewed;

use std::time::Duration;

use sqlx::migrate::Migrator;

pub use consumer::{EventConsumer, EventHandler};
pub use envelope::{topic_of, Envelope, Event};
pub use kafka::KafkaConfig;
pub use metrics::EventMetrics;
pub use outbox::{enqueue, enqueue_on, Relay};

use crate::db::Db;

/// The outbox and processed_events tables; run with each
/// subgraph's own migrations (see `Db::connect_and_migrate`).
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/events");

/// How long a publish may wait for the broker's acknowledgement before the relay
/// counts it failed and retries it later.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The event machinery of one subgraph process: its relay and its consumers run
/// as background tasks next to the HTTP server.
#[derive(Clone)]
pub struct EventRuntime {
    db: Db,
    kafka: KafkaConfig,
    metrics: EventMetrics,
}

impl EventRuntime {
    pub fn new(db: Db, kafka: KafkaConfig, metrics: EventMetrics) -> Self {
        Self { db, kafka, metrics }
    }

    /// The broker settings (for a consumer of its own, like analytics' batches).
    pub fn kafka(&self) -> &KafkaConfig {
        &self.kafka
    }

    pub fn metrics(&self) -> &EventMetrics {
        &self.metrics
    }

    /// Start the outbox relay for `producer`'s topic (created if missing).
    pub fn spawn_relay(&self, producer: &str) -> anyhow::Result<()> {
        let relay = Relay::new(
            self.db.background_pool().clone(),
            self.kafka.clone(),
            DELIVERY_TIMEOUT,
            self.metrics.clone(),
        )?;
        let kafka = self.kafka.clone();
        let topic = topic_of(producer);
        tokio::spawn(async move {
            // Publishing waits for the topic; writes meanwhile queue in the outbox.
            ensure_topics_forever(&kafka, &[topic]).await;
            relay.run().await;
        });
        Ok(())
    }

    /// Start a consumer (its topics, its retry topic and the dead-letter topic are
    /// created if missing).
    pub fn spawn_consumer<H: EventHandler>(&self, handler: H) -> anyhow::Result<()> {
        let consumer = EventConsumer::new(
            handler,
            self.db.background_pool().clone(),
            self.kafka.clone(),
            self.metrics.clone(),
        )?;
        pruning::spawn(
            self.db.background_pool().clone(),
            consumer.name(),
            self.kafka.processed_events_retention(),
        );
        let mut topics = consumer.topics();
        topics.push(dead_letter::DEAD_LETTER_TOPIC.to_string());
        let kafka = self.kafka.clone();
        tokio::spawn(async move {
            ensure_topics_forever(&kafka, &topics).await;
            if let Err(error) = consumer.run().await {
                // Only the client's creation can fail here: a configuration error.
                tracing::error!(%error, "event consumer stopped");
            }
        });
        Ok(())
    }
}

/// Create `topics` if missing, retrying until the broker answers.
pub async fn ensure_topics_forever(kafka: &KafkaConfig, topics: &[String]) {
    loop {
        match kafka.ensure_topics(topics, Duration::from_secs(30)).await {
            Ok(()) => return,
            Err(error) => tracing::warn!(%error, "Kafka not reachable; will retry"),
        }
    }
}

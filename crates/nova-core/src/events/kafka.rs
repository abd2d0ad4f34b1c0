//! The Kafka client settings every Nova process uses (rdkafka / librdkafka). The
//! same code talks to the local development broker and to a production cluster;
//! only `KAFKA_BROKERS` differs.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use rdkafka::types::RDKafkaErrorCode;

use crate::config::{parsed_or, required, ConfigError};

#[derive(Clone, Debug)]
pub struct KafkaConfig {
    /// `host:port[,host:port...]`.
    pub brokers: String,
    /// Partitions of a topic Nova creates (existing topics are left as they are).
    pub partitions: i32,
    /// Replication factor of a topic Nova creates.
    pub replication: i32,
    /// How long a consumer that stopped answering keeps its partitions.
    pub session_timeout_ms: u32,
    /// How long a consumer may go without reading before it leaves its group;
    /// also how long a rebalance waits for members to rejoin.
    pub max_poll_interval_ms: u32,
    /// How long the broker may hold a fetch that has no new data. A broker that
    /// answers only when this runs out (tansu does) adds it to every event's
    /// delay, so it is short by default.
    pub fetch_wait_max_ms: u32,
    /// How long the broker keeps a message of a topic Nova creates
    /// (`retention.ms`, `cleanup.policy=delete`). A consumer away for longer
    /// misses what was deleted: a read model is rebuilt from its owners' exports
    /// (the feed's and search's backfills), not by replaying the topics.
    pub retention_ms: u64,
}

/// Partitions per topic on the local development broker (tansu), set through
/// `KAFKA_TOPIC_PARTITIONS` by the stacks `cargo xtask` and the tests start.
/// tansu answers an idle fetch by reading every partition of the consumer's
/// subscription from SQLite twice per `fetch.wait.max.ms`: with Nova's five
/// consumer groups it took 37 % of a core at 3 partitions and 15 % at 1, on a
/// machine whose benchmarks need every core. One broker gains nothing from
/// parallel partitions; a production cluster keeps the default.
pub const LOCAL_BROKER_PARTITIONS: i32 = 1;

/// A week, as Kafka's own default.
const DEFAULT_RETENTION_MS: u64 = 7 * 24 * 60 * 60 * 1000;

impl KafkaConfig {
    /// The settings for `brokers` with every other value at its default.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            partitions: 3,
            replication: 1,
            session_timeout_ms: 10_000,
            max_poll_interval_ms: 300_000,
            fetch_wait_max_ms: 100,
            retention_ms: DEFAULT_RETENTION_MS,
        }
    }

    /// `KAFKA_BROKERS` and the optional `KAFKA_*` overrides of the defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::new(required(
            "KAFKA_BROKERS",
            "the Kafka bootstrap servers, host:port[,host:port]",
        )?);
        Ok(Self {
            partitions: parsed_or("KAFKA_TOPIC_PARTITIONS", defaults.partitions)?,
            replication: parsed_or("KAFKA_TOPIC_REPLICATION", defaults.replication)?,
            session_timeout_ms: parsed_or("KAFKA_SESSION_TIMEOUT_MS", defaults.session_timeout_ms)?,
            max_poll_interval_ms: parsed_or(
                "KAFKA_MAX_POLL_INTERVAL_MS",
                defaults.max_poll_interval_ms,
            )?,
            fetch_wait_max_ms: parsed_or("KAFKA_FETCH_WAIT_MAX_MS", defaults.fetch_wait_max_ms)?,
            retention_ms: parsed_or("KAFKA_RETENTION_MS", defaults.retention_ms)?,
            ..defaults
        })
    }

    fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            // librdkafka logs a broker that is down once per reconnect attempt;
            // the relay and consumers report it themselves.
            .set("log_level", "3");
        config
    }

    /// An idempotent producer: `acks=all`, retries without duplicates or
    /// reordering within a partition. A message not acknowledged within
    /// `delivery_timeout` fails, and the outbox relay retries it later.
    pub fn producer(&self, delivery_timeout: Duration) -> Result<FutureProducer, KafkaError> {
        self.client()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set(
                "message.timeout.ms",
                delivery_timeout.as_millis().to_string(),
            )
            .create()
    }

    /// Settings of a consumer in `group` whose offsets advance only after the
    /// event's effect is durable.
    pub fn consumer_config(&self, group: &str) -> ClientConfig {
        let mut config = self.client();
        config
            .set("group.id", group)
            // Offsets are stored by the consumer after each event's effect is
            // durable, never before; librdkafka commits what is stored.
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", self.session_timeout_ms.to_string())
            .set(
                "max.poll.interval.ms",
                self.max_poll_interval_ms.to_string(),
            )
            .set("fetch.wait.max.ms", self.fetch_wait_max_ms.to_string())
            .set("statistics.interval.ms", "1000")
            .set("topic.metadata.refresh.interval.ms", "5000");
        config
    }

    /// How long a consumer remembers an event it processed (`processed_events`):
    /// twice the broker's retention, since a broker deletes old messages only
    /// now and then (Kafka by whole segments, tansu every ten minutes), and only
    /// a message still on the broker can be delivered again.
    pub fn processed_events_retention(&self) -> Duration {
        Duration::from_millis(self.retention_ms.saturating_mul(2))
    }

    /// Create the topics that do not exist yet, with Nova's retention (a topic
    /// that exists keeps its own settings). Retries until the broker answers or
    /// `wait` has passed.
    pub async fn ensure_topics(&self, topics: &[String], wait: Duration) -> anyhow::Result<()> {
        let admin: AdminClient<DefaultClientContext> = self.client().create()?;
        let retention = self.retention_ms.to_string();
        let new_topics: Vec<NewTopic> = topics
            .iter()
            .map(|name| {
                NewTopic::new(
                    name,
                    self.partitions,
                    TopicReplication::Fixed(self.replication),
                )
                .set("cleanup.policy", "delete")
                .set("retention.ms", &retention)
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let problem = match admin.create_topics(&new_topics, &options).await {
                Ok(results) => results
                    .into_iter()
                    .filter_map(|result| match result {
                        Ok(_) => None,
                        Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => None,
                        Err((topic, code)) => Some(format!("{topic}: {code}")),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                Err(error) => error.to_string(),
            };
            if problem.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!("cannot create topics on {}: {problem}", self.brokers);
            }
            tracing::warn!(%problem, "topics not created yet; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

//! Reading what reached a stack's broker, for tests of the event backbone.

use std::time::{Duration, Instant};

use nova_core::events::KafkaConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use serde_json::Value;
use uuid::Uuid;

use crate::Stack;

impl Stack {
    /// Kafka settings for this stack's broker, with timeouts short enough that a
    /// test's consumer that stopped is noticed quickly.
    pub fn kafka(&self) -> KafkaConfig {
        KafkaConfig {
            session_timeout_ms: 6_000,
            max_poll_interval_ms: 10_000,
            ..KafkaConfig::new(self.kafka_brokers())
        }
    }

    /// Every envelope on `topic` from the beginning: reads until `expected`
    /// arrived, then 3 s longer, so a repeat would be seen too (90 s at most).
    pub async fn read_topic(&self, topic: &str, expected: usize) -> Vec<Value> {
        let group = format!("test-reader-{}", Uuid::now_v7());
        let consumer: StreamConsumer = self
            .kafka()
            .consumer_config(&group)
            .create()
            .expect("a consumer");
        consumer.subscribe(&[topic]).expect("subscribed");
        let mut envelopes = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut quiet_until: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if now > deadline || quiet_until.is_some_and(|t| now > t) {
                break;
            }
            if let Ok(Ok(message)) =
                tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await
            {
                let payload = message.payload().unwrap_or_default();
                envelopes.push(serde_json::from_slice(payload).unwrap_or(Value::Null));
            }
            if envelopes.len() >= expected && quiet_until.is_none() {
                quiet_until = Some(Instant::now() + Duration::from_secs(3));
            }
        }
        envelopes
    }
}

//! The dead-letter topic: where a consumer puts a message it cannot apply, so
//! that one bad message never stalls the events behind it.
//!
//! A message is dead-lettered when it is not an event envelope, when its payload
//! does not match its type, when its `version` is not one this build reads, or when
//! applying it failed in a way retrying cannot fix (a constraint violation, bad
//! data) `MAX_ATTEMPTS` times in a row. A database that is down or a broken
//! connection is retried for as long as it takes: those events are not bad.
//!
//! `nova.dead-letter` holds the original key and bytes, with headers naming the
//! consumer, where the message came from and the error. An operator lists them and,
//! once the cause is fixed, replays one consumer's letters: they are published to
//! that consumer's own retry topic `nova.retry.<consumer>`, which it reads next to
//! its topics — so no other consumer sees them again. Replay remembers how far it
//! got (a consumer group per replayed consumer), so a letter is replayed once.
//! `cargo xtask events dlq list|replay` is the command (docs/events.md).

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use super::kafka::KafkaConfig;

/// The one dead-letter topic of the deployment.
pub const DEAD_LETTER_TOPIC: &str = "nova.dead-letter";

/// Attempts to apply a message that fails deterministically before it is
/// dead-lettered.
pub const MAX_ATTEMPTS: u32 = 5;

/// The topic a consumer reads replayed letters from.
pub fn retry_topic(consumer: &str) -> String {
    format!("nova.retry.{consumer}")
}

/// A message a consumer gave up on, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    pub consumer: String,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
    pub error: String,
    pub dead_lettered_at: DateTime<Utc>,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

const CONSUMER: &str = "nova-consumer";
const SOURCE_TOPIC: &str = "nova-source-topic";
const SOURCE_PARTITION: &str = "nova-source-partition";
const SOURCE_OFFSET: &str = "nova-source-offset";
const ERROR: &str = "nova-error";
const DEAD_LETTERED_AT: &str = "nova-dead-lettered-at";

impl DeadLetter {
    /// The letter for `message`, which `consumer` could not apply.
    pub fn of(consumer: &str, message: &BorrowedMessage<'_>, error: &str) -> Self {
        Self {
            consumer: consumer.to_string(),
            source_topic: message.topic().to_string(),
            source_partition: message.partition(),
            source_offset: message.offset(),
            error: error.to_string(),
            dead_lettered_at: Utc::now(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().unwrap_or_default().to_vec(),
        }
    }

    /// Publish it to the dead-letter topic and wait for the broker's acknowledgement.
    pub async fn publish(&self, producer: &FutureProducer, timeout: Duration) -> Result<()> {
        let partition = self.source_partition.to_string();
        let offset = self.source_offset.to_string();
        let at = self.dead_lettered_at.to_rfc3339();
        let headers = [
            (CONSUMER, self.consumer.as_str()),
            (SOURCE_TOPIC, self.source_topic.as_str()),
            (SOURCE_PARTITION, partition.as_str()),
            (SOURCE_OFFSET, offset.as_str()),
            (ERROR, self.error.as_str()),
            (DEAD_LETTERED_AT, at.as_str()),
        ]
        .into_iter()
        .fold(OwnedHeaders::new(), |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value),
            })
        });
        let record = self.original_to(DEAD_LETTER_TOPIC).headers(headers);
        producer
            .send(record, timeout)
            .await
            .map_err(|(error, _)| anyhow::anyhow!("dead-letter publish failed: {error}"))?;
        Ok(())
    }

    /// The original message (key and bytes) addressed to `topic`.
    fn original_to<'a>(&'a self, topic: &'a str) -> FutureRecord<'a, Vec<u8>, Vec<u8>> {
        let record = FutureRecord::to(topic).payload(&self.payload);
        match &self.key {
            Some(key) => record.key(key),
            None => record,
        }
    }

    /// Read a letter back from a dead-letter topic message.
    pub fn read(message: &BorrowedMessage<'_>) -> Result<Self> {
        let header = |name: &str| -> Result<String> {
            let headers = message.headers().context("a dead letter without headers")?;
            let value = headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .with_context(|| format!("a dead letter without the {name} header"))?;
            Ok(String::from_utf8_lossy(value).into_owned())
        };
        Ok(Self {
            consumer: header(CONSUMER)?,
            source_topic: header(SOURCE_TOPIC)?,
            source_partition: header(SOURCE_PARTITION)?.parse()?,
            source_offset: header(SOURCE_OFFSET)?.parse()?,
            error: header(ERROR)?,
            dead_lettered_at: DateTime::parse_from_rfc3339(&header(DEAD_LETTERED_AT)?)?.into(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().unwrap_or_default().to_vec(),
        })
    }
}

/// Every letter the dead-letter topic holds, oldest first within a partition.
pub async fn list(kafka: &KafkaConfig) -> Result<Vec<DeadLetter>> {
    let group = format!("nova.dead-letter-list.{}", uuid::Uuid::now_v7());
    let reader = reader(kafka, &group, Offset::Beginning).await?;
    let mut letters = Vec::new();
    read_to_end(&reader, |message| {
        letters.push(DeadLetter::read(message)?);
        Ok(())
    })
    .await?;
    Ok(letters)
}

/// Publish `consumer`'s letters not replayed before to its retry topic; returns
/// how many. Progress is committed only after every one was acknowledged.
pub async fn replay(kafka: &KafkaConfig, consumer: &str) -> Result<usize> {
    let group = format!("nova.dead-letter-replay.{consumer}");
    let reader = reader(kafka, &group, Offset::Stored).await?;
    let producer = kafka.producer(Duration::from_secs(30))?;
    let target = retry_topic(consumer);
    kafka
        .ensure_topics(std::slice::from_ref(&target), Duration::from_secs(30))
        .await?;
    let mut letters = Vec::new();
    read_to_end(&reader, |message| {
        let letter = DeadLetter::read(message)?;
        if letter.consumer == consumer {
            letters.push(letter);
        }
        reader.store_offset_from_message(message)?;
        Ok(())
    })
    .await?;
    for letter in &letters {
        producer
            .send(letter.original_to(&target), Duration::from_secs(30))
            .await
            .map_err(|(error, _)| anyhow::anyhow!("replay to {target} failed: {error}"))?;
    }
    match reader.commit_consumer_state(CommitMode::Sync) {
        // Nothing was read, so nothing to commit.
        Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => {}
        other => other?,
    }
    Ok(letters.len())
}

/// A consumer of every partition of the dead-letter topic from `start`, which
/// reports reaching the end of each.
async fn reader(kafka: &KafkaConfig, group: &str, start: Offset) -> Result<StreamConsumer> {
    kafka
        .ensure_topics(&[DEAD_LETTER_TOPIC.to_string()], Duration::from_secs(30))
        .await?;
    let reader: StreamConsumer = kafka
        .consumer_config(group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()?;
    let metadata = reader.fetch_metadata(Some(DEAD_LETTER_TOPIC), Duration::from_secs(10))?;
    let mut partitions = TopicPartitionList::new();
    for topic in metadata.topics() {
        for partition in topic.partitions() {
            partitions.add_partition_offset(DEAD_LETTER_TOPIC, partition.id(), start)?;
        }
    }
    if partitions.count() == 0 {
        bail!("{DEAD_LETTER_TOPIC} has no partitions");
    }
    reader.assign(&partitions)?;
    Ok(reader)
}

/// Hand every message to `each` until every assigned partition reported its end.
async fn read_to_end(
    reader: &StreamConsumer,
    mut each: impl FnMut(&BorrowedMessage<'_>) -> Result<()>,
) -> Result<()> {
    let partitions = reader.assignment()?.count();
    let mut ended = HashSet::new();
    while ended.len() < partitions {
        let next = tokio::time::timeout(Duration::from_secs(30), reader.recv())
            .await
            .context("the dead-letter topic did not answer within 30 s")?;
        match next {
            Ok(message) => each(&message)?,
            Err(KafkaError::PartitionEOF(partition)) => {
                ended.insert(partition);
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// Whether a failure may pass by itself: the database or the network is away or
/// busy, or the transaction lost a race. Anything else (a violated constraint, bad
/// data, SQL that does not fit the schema, a row that does not decode) fails the
/// same way every time.
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(error) => {
            // SQLSTATE classes: 08 connection, 40 transaction rollback
            // (serialization, deadlock), 53 insufficient resources, 57 operator
            // intervention (shutdown, cancel), 58 system error.
            let code = error.code().unwrap_or_default();
            matches!(code.get(..2), Some("08" | "40" | "53" | "57" | "58"))
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

/// Whether an external effect failed for good: the store refused the write
/// itself (Redis answered with an error for the command: a key of the wrong type,
/// a script error, a bad argument), so trying again fails again. Only refusals
/// known to be so count; anything else (a store that is down or busy, an error
/// of unknown kind) is retried for as long as it takes, as an outage must be.
pub fn effect_failed_for_good(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<redis::RedisError>()
            .is_some_and(|error| {
                matches!(
                    error.kind(),
                    redis::ErrorKind::Server(_)
                        | redis::ErrorKind::Extension
                        | redis::ErrorKind::UnexpectedReturnType
                ) && matches!(error.retry_method(), redis::RetryMethod::NoRetry)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::{effect_failed_for_good, is_transient};

    #[test]
    fn a_refused_redis_command_fails_for_good_and_an_outage_does_not() {
        let refused = redis::RedisError::from((
            redis::ErrorKind::UnexpectedReturnType,
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        ));
        assert!(effect_failed_for_good(
            &anyhow::Error::from(refused).context("fan-out")
        ));
        let down =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(!effect_failed_for_good(&anyhow::Error::from(down)));
        assert!(!effect_failed_for_good(&anyhow::anyhow!(
            "index unavailable"
        )));
    }

    #[test]
    fn an_outage_is_transient_and_a_refused_row_is_not() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::Io(std::io::Error::other(
            "connection reset"
        ))));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::ColumnNotFound("body".into())));
    }
}

//! Idempotent consumers. For each message: read the envelope, and in one
//! transaction record `(consumer, event id)` in `processed_events` and apply the
//! effect; only then store the Kafka offset (librdkafka commits stored offsets
//! once per `auto.commit.interval.ms` and on close). An event seen again (a redelivery
//! after a crash between the database commit and the offset commit, or a relay
//! that published twice) finds its id recorded and changes nothing.
//!
//! Effects outside Postgres (a Redis timeline, a search index) cannot join that
//! transaction. They run after it commits — for a first delivery and again for a
//! redelivery of an event already recorded — and the offset is committed only
//! once they succeed: a crash between the database commit and the external write
//! means a redelivery, which redoes the write (see
//! [`EventHandler::external_effects`]).
//!
//! A message that cannot be applied goes to the dead-letter topic and the consumer
//! moves on (see `dead_letter`): not an event, a payload that does not match its
//! type, a `version` this build does not read, or a failure retrying cannot fix,
//! after `MAX_ATTEMPTS`, and so does an external effect the store refuses for good
//! (`dead_letter::effect_failed_for_good`). A database, broker or store that is
//! down is retried with backoff for as long as it takes: nothing is skipped.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::producer::FutureProducer;
use sqlx::{PgConnection, PgPool};
use tracing::Instrument;

use super::dead_letter::{
    effect_failed_for_good, is_transient, retry_topic, DeadLetter, MAX_ATTEMPTS,
};
use super::envelope::{Envelope, Event, SCHEMA_VERSION};
use super::kafka::KafkaConfig;
use super::metrics::{EventMetrics, LagContext};
use super::retries::Retries;
use crate::telemetry;

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
    /// offset is committed): the place for best-effort notices such as telling
    /// live subscribers. Not run for duplicates or ignored events.
    fn after_commit<'a>(&'a self, _event: &'a Event) -> impl Future<Output = ()> + Send + 'a {
        async {}
    }
    /// Durable effects outside Postgres (a Redis timeline, a search index). Runs
    /// after the event's transaction committed, for its first delivery AND for
    /// every redelivery of an event already recorded (the previous attempt may
    /// have crashed before finishing them), and before the offset is committed.
    /// An error retries it with backoff; the offset waits (a refusal that cannot
    /// pass, `dead_letter::effect_failed_for_good`, is dead-lettered after
    /// `MAX_ATTEMPTS`). So it must be
    /// idempotent by key and derive what it writes from the committed state, not
    /// from the event alone: redone late, it must not undo a later change (a
    /// post deleted since, a block added since).
    fn external_effects<'a>(
        &'a self,
        _event: &'a Event,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'a {
        async { Ok(()) }
    }
}

/// Test hook: with `NOVA_FAULT_EXIT_BEFORE_OFFSET_COMMIT=<event type>` the process
/// exits right after applying such an event and before committing its offset, as
/// a crash there would. The fault tests use it; nothing else sets it.
pub const FAULT_EXIT_BEFORE_OFFSET_COMMIT: &str = "NOVA_FAULT_EXIT_BEFORE_OFFSET_COMMIT";

/// Test hook: with `NOVA_FAULT_EXIT_BEFORE_EXTERNAL_EFFECTS=<event type>` the
/// process exits right after such an event's transaction committed and before
/// its external effects ran, as a crash there would.
pub const FAULT_EXIT_BEFORE_EXTERNAL_EFFECTS: &str = "NOVA_FAULT_EXIT_BEFORE_EXTERNAL_EFFECTS";

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Outcome {
    Applied,
    Duplicate,
    Ignored,
    DeadLettered,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
            Outcome::DeadLettered => "dead_lettered",
        }
    }
}

pub struct EventConsumer<H> {
    handler: Arc<H>,
    pool: PgPool,
    kafka: KafkaConfig,
    dead_letters: FutureProducer,
    metrics: EventMetrics,
    exit_before_commit: Option<String>,
    exit_before_effects: Option<String>,
}

impl<H: EventHandler> EventConsumer<H> {
    pub fn new(
        handler: H,
        pool: PgPool,
        kafka: KafkaConfig,
        metrics: EventMetrics,
    ) -> anyhow::Result<Self> {
        // Every outcome's series exists from the start at 0, so a reader of
        // /metrics can tell "none yet" from "no such consumer".
        for outcome in [
            Outcome::Applied,
            Outcome::Duplicate,
            Outcome::Ignored,
            Outcome::DeadLettered,
        ] {
            metrics
                .consumed
                .with_label_values(&[handler.name(), outcome.label()]);
        }
        Ok(Self {
            handler: Arc::new(handler),
            pool,
            dead_letters: kafka.producer(DEAD_LETTER_ACK_TIMEOUT)?,
            kafka,
            metrics,
            exit_before_commit: crate::config::optional(FAULT_EXIT_BEFORE_OFFSET_COMMIT),
            exit_before_effects: crate::config::optional(FAULT_EXIT_BEFORE_EXTERNAL_EFFECTS),
        })
    }

    /// Its handler's name: its group and its key in `processed_events`.
    pub fn name(&self) -> &'static str {
        self.handler.name()
    }

    /// The topics it reads: its handler's and its own retry topic.
    pub fn topics(&self) -> Vec<String> {
        let mut topics = self.handler.topics();
        topics.push(retry_topic(self.handler.name()));
        topics
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
        let topics = self.topics();
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
            let span = telemetry::consumer_span(
                name,
                message.topic(),
                message.offset(),
                trace_header(&message),
            );
            let outcome = self.handle_until_done(&message).instrument(span).await;
            self.metrics
                .consumed
                .with_label_values(&[name, outcome.label()])
                .inc();
            // Stored now, committed by librdkafka once per commit interval (and on
            // close): a commit request per message overloaded the broker under a
            // backlog until heartbeats timed out and the group kept rebalancing.
            // A crash before the commit means a redelivery, which the
            // processed_events record absorbs.
            if let Err(error) = consumer.store_offset_from_message(&message) {
                tracing::warn!(consumer = name, %error, "offset store failed");
            }
        }
    }

    /// Apply one message and then its external effects, retrying failures of
    /// either until they pass, or dead-lettering a message retrying cannot fix.
    async fn handle_until_done(&self, message: &BorrowedMessage<'_>) -> Outcome {
        let mut retries = Retries::default();
        let (outcome, event) = loop {
            let error = match self.handle(message).await {
                Ok(Handled::Done(outcome, event)) => break (outcome, event),
                Ok(Handled::Unusable(reason)) => {
                    break (self.dead_letter_until_done(message, &reason).await, None)
                }
                Err(error) => error,
            };
            self.count_failure(message, &error, "cannot apply event; retrying");
            if retries.give_up(!is_transient(&error)).await {
                let reason = format!("apply failed {MAX_ATTEMPTS} times: {error}");
                break (self.dead_letter_until_done(message, &reason).await, None);
            }
        };
        let Some(event) = event else {
            return outcome;
        };
        if self.exit_before_effects.as_deref() == Some(event.type_name()) {
            tracing::error!(
                event_type = event.type_name(),
                "fault injection: exiting before the external effects"
            );
            std::process::exit(87);
        }
        let mut retries = Retries::default();
        while let Err(error) = self.handler.external_effects(&event).await {
            self.count_failure(message, &*error, "external effects failed; retrying");
            if retries.give_up(effect_failed_for_good(&error)).await {
                // The event's database effect stays; a replay redoes the
                // external effects (the event is then a duplicate).
                let reason = format!("external effects failed {MAX_ATTEMPTS} times: {error:#}");
                return self.dead_letter_until_done(message, &reason).await;
            }
        }
        if outcome == Outcome::Applied
            && self.exit_before_commit.as_deref() == Some(event.type_name())
        {
            tracing::error!(
                event_type = event.type_name(),
                "fault injection: exiting before the offset commit"
            );
            std::process::exit(86);
        }
        outcome
    }

    fn count_failure(
        &self,
        message: &BorrowedMessage<'_>,
        error: &dyn std::fmt::Display,
        what: &str,
    ) {
        self.metrics
            .consumer_failures
            .with_label_values(&[self.handler.name()])
            .inc();
        tracing::warn!(
            consumer = self.handler.name(),
            topic = message.topic(),
            offset = message.offset(),
            %error,
            "{what}"
        );
    }

    /// Apply one message in its transaction.
    async fn handle(&self, message: &BorrowedMessage<'_>) -> Result<Handled, sqlx::Error> {
        let payload = message.payload().unwrap_or_default();
        let envelope: Envelope = match serde_json::from_slice(payload) {
            Ok(envelope) => envelope,
            Err(error) => return Ok(Handled::Unusable(format!("not an event: {error}"))),
        };
        // Checked before the payload is read: a payload of another version may
        // well parse as this one and mean something else.
        if envelope.version != SCHEMA_VERSION {
            return Ok(Handled::Unusable(format!(
                "{} version {} is not one this build reads (version {SCHEMA_VERSION})",
                envelope.event_type, envelope.version
            )));
        }
        let event = match envelope.event() {
            Ok(event) => event,
            // A type this build does not know (a newer producer): not ours to read.
            Err(_) if !is_known_type(&envelope.event_type) => {
                return Ok(Handled::Done(Outcome::Ignored, None))
            }
            Err(error) => {
                return Ok(Handled::Unusable(format!(
                    "{} payload unreadable: {error}",
                    envelope.event_type
                )))
            }
        };
        let mut tx = self.pool.begin().await?;
        let first_time = sqlx::query!(
            "INSERT INTO processed_events (consumer, event_id, event_type) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            self.handler.name(),
            envelope.id,
            envelope.event_type,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !first_time {
            tx.rollback().await?;
            tracing::info!(consumer = self.handler.name(), event_id = %envelope.id, "duplicate event: its database effect is skipped, its external effects redone");
            return Ok(Handled::Done(Outcome::Duplicate, Some(event)));
        }
        if !self.handler.apply(&mut tx, &event).await? {
            tx.rollback().await?;
            return Ok(Handled::Done(Outcome::Ignored, None));
        }
        tx.commit().await?;
        self.handler.after_commit(&event).await;
        Ok(Handled::Done(Outcome::Applied, Some(event)))
    }

    /// Put the message on the dead-letter topic, retrying until the broker took it
    /// (the offset must not move past a message that is nowhere).
    async fn dead_letter_until_done(&self, message: &BorrowedMessage<'_>, reason: &str) -> Outcome {
        let letter = DeadLetter::of(self.handler.name(), message, reason);
        tracing::error!(
            consumer = self.handler.name(),
            topic = message.topic(),
            partition = message.partition(),
            offset = message.offset(),
            reason,
            "message dead-lettered"
        );
        let mut retries = Retries::default();
        while let Err(error) = letter
            .publish(&self.dead_letters, DEAD_LETTER_ACK_TIMEOUT)
            .await
        {
            self.count_failure(message, &*error, "cannot dead-letter; retrying");
            retries.back_off().await;
        }
        Outcome::DeadLettered
    }
}

/// How long the broker may take to acknowledge a dead letter before it is sent again.
const DEAD_LETTER_ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// What one attempt at a message came to.
enum Handled {
    /// An outcome, and the event when its external effects are due (applied now,
    /// or applied before and delivered again).
    Done(Outcome, Option<Event>),
    /// A message no retry can apply, and why.
    Unusable(String),
}

/// The producer's `traceparent`, if the message carries one.
fn trace_header<'m>(message: &'m BorrowedMessage<'_>) -> Option<&'m [u8]> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|header| header.key == telemetry::TRACEPARENT_HEADER)
        .and_then(|header| header.value)
}

/// Whether this build knows events of `event_type` (an unknown one is a newer
/// producer's: ignored, not dead-lettered).
pub fn is_known_type(event_type: &str) -> bool {
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

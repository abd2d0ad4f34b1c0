//! Live delivery across instances: Redis pub/sub fan-out for subscriptions.
//!
//! A subgraph running N instances behind the router has subscribers on all of
//! them, and a change made through one instance must reach subscribers on every
//! other. Each instance keeps ONE Redis pub/sub connection to its service channel
//! (`nova:live:<service>`) and fans each message out to its local subscribers of
//! that message's key (a conversation, a user) through tokio broadcast channels.
//!
//! Why Redis pub/sub and not Kafka: live events are for whoever is connected right
//! now; typing indicators must not be kept at all; and a broker fetch here costs
//! about 100 ms (`KAFKA_FETCH_WAIT_MAX_MS`) where a Redis publish reaches every
//! instance in well under a millisecond. Pub/sub forgets what it could not deliver
//! (an instance reconnecting, a slow subscriber), which is why nothing durable
//! rides on it: the data is in Postgres first, events carry a sequence number, and
//! a client that sees a gap reads what it missed with a query.
//!
//! Without Redis nothing live can be delivered, and a subscription that silently
//! waits would look like a quiet conversation. So while the hub is not listening
//! a new subscription is refused, and the hub's loss of Redis ends every open one,
//! each with an `UNAVAILABLE` error (`LiveUnavailable`): clients subscribe again
//! (and read what they missed) once Redis is back.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use prometheus::{IntCounterVec, IntGauge, Opts};
use redis::aio::ConnectionManager;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use crate::config::{required, ConfigError};
use crate::errors::ErrorCode;
use crate::metrics::Metrics;

/// Events a slow subscriber may fall behind by before it skips ahead (and sees a
/// gap in the sequence numbers).
const SUBSCRIBER_BUFFER: usize = 256;

/// The subgraphs that need `REDIS_URL`: those with subscriptions (live events
/// between instances; the feed's timelines too) and identity (the suspended
/// accounts the router refuses). Deploy files list the same (compose.yaml,
/// helm/nova/templates/subgraphs.yaml).
pub const SUBGRAPHS_WITH_REDIS: &[&str] =
    &["identity", "chat", "notifications", "feed", "analytics"];

/// `REDIS_URL`, required by a subgraph with subscriptions.
/// A connection to `redis_url` that reconnects by itself.
pub async fn redis_connection(redis_url: &str) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(redis_url)
        .map_err(|e| anyhow::anyhow!("REDIS_URL is not a Redis URL: {e}"))?;
    ConnectionManager::new(client)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach Redis at {redis_url}: {e}"))
}

pub fn redis_url_from_env() -> Result<String, ConfigError> {
    required(
        "REDIS_URL",
        "the Redis that carries live events between instances (redis://host:port)",
    )
}

/// How long `LiveHub::start` waits for its listener to subscribe.
const LISTEN_AT_START: Duration = Duration::from_secs(10);

/// Keys one message carries at most (`publish_to_many`), so a message to 10 000
/// followers is ten messages of a few dozen kilobytes, not one huge one.
const KEYS_PER_MESSAGE: usize = 1000;

/// What travels on the channel: the keys it is for and the event.
#[derive(Serialize, Deserialize)]
struct Wire<K, V> {
    keys: Vec<K>,
    event: V,
}

/// Counters of one hub, on the subgraph's `/metrics`.
#[derive(Clone)]
struct LiveMetrics {
    messages: IntCounterVec,
    subscribers: IntGauge,
    /// 1 while the hub listens on Redis, 0 while live updates are unavailable.
    listening: IntGauge,
}

impl LiveMetrics {
    fn new(metrics: &Metrics) -> Self {
        let messages = IntCounterVec::new(
            Opts::new(
                "live_messages_total",
                "Live events by outcome: published, received (from Redis), delivered (to a local subscriber), publish_failed, unreadable",
            ),
            &["outcome"],
        )
        .expect("metric definition is valid");
        let subscribers = IntGauge::new("live_subscribers", "Open subscriptions on this instance")
            .expect("metric definition is valid");
        let listening = IntGauge::new(
            "live_listening",
            "1 while live events are received from Redis, 0 while subscriptions are refused",
        )
        .expect("metric definition is valid");
        metrics.register(Box::new(messages.clone()));
        metrics.register(Box::new(subscribers.clone()));
        metrics.register(Box::new(listening.clone()));
        Self {
            messages,
            subscribers,
            listening,
        }
    }

    fn count(&self, outcome: &str, n: u64) {
        self.messages.with_label_values(&[outcome]).inc_by(n);
    }
}

type Senders<K, V> = Arc<Mutex<HashMap<K, broadcast::Sender<V>>>>;

/// Live events cannot be delivered: the hub is not listening on Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveUnavailable;

impl From<LiveUnavailable> for async_graphql::Error {
    fn from(_: LiveUnavailable) -> Self {
        ErrorCode::Unavailable
            .error("live updates are unavailable right now; subscribe again in a few seconds")
    }
}

/// Publish and subscribe to the live events of one service, keyed by `K`.
pub struct LiveHub<K, V> {
    channel: String,
    publisher: ConnectionManager,
    senders: Senders<K, V>,
    metrics: LiveMetrics,
    /// True while the hub listens on its Redis channel.
    listening: Arc<watch::Sender<bool>>,
}

impl<K, V> Clone for LiveHub<K, V> {
    fn clone(&self) -> Self {
        Self {
            channel: self.channel.clone(),
            publisher: self.publisher.clone(),
            senders: self.senders.clone(),
            metrics: self.metrics.clone(),
            listening: self.listening.clone(),
        }
    }
}

impl<K, V> LiveHub<K, V>
where
    K: Eq + Hash + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// Connect to Redis and start listening on `nova:live:<service>`. Fails when
    /// Redis cannot be reached at start; afterwards a lost connection is retried
    /// forever (events published meanwhile are missed, see the module comment).
    pub async fn start(redis_url: &str, service: &str, metrics: &Metrics) -> anyhow::Result<Self> {
        let client = redis::Client::open(redis_url)
            .map_err(|e| anyhow::anyhow!("REDIS_URL is not a Redis URL: {e}"))?;
        let publisher = ConnectionManager::new(client.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach Redis at {redis_url}: {e}"))?;
        let hub = Self {
            channel: format!("nova:live:{service}"),
            publisher,
            senders: Arc::new(Mutex::new(HashMap::new())),
            metrics: LiveMetrics::new(metrics),
            listening: Arc::new(watch::Sender::new(false)),
        };
        let listener = hub.clone();
        tokio::spawn(async move { listener.listen_forever(client).await });
        // Serve subscriptions only once the channel is listened to.
        let mut listening = hub.listening.subscribe();
        tokio::time::timeout(LISTEN_AT_START, listening.wait_for(|up| *up))
            .await
            .map_err(|_| {
                anyhow::anyhow!("cannot listen on Redis at {redis_url} within {LISTEN_AT_START:?}")
            })?
            .map_err(|_| anyhow::anyhow!("the live listener stopped"))?;
        Ok(hub)
    }

    /// Send `event` to every subscriber of `key` on every instance. A failure is
    /// logged and counted, not returned: the change it describes is already
    /// committed, and subscribers recover through the sequence numbers.
    pub async fn publish(&self, key: K, event: V) {
        self.publish_wire(&Wire {
            keys: vec![key],
            event,
        })
        .await
    }

    /// Send the same `event` to the subscribers of every key in `keys` (a new
    /// post to each follower's home screen): one Redis message per
    /// `KEYS_PER_MESSAGE` keys instead of one per key.
    pub async fn publish_to_many(&self, keys: &[K], event: V) {
        for chunk in keys.chunks(KEYS_PER_MESSAGE) {
            self.publish_wire(&Wire {
                keys: chunk.to_vec(),
                event: event.clone(),
            })
            .await;
        }
    }

    async fn publish_wire(&self, wire: &Wire<K, V>) {
        let payload = match serde_json::to_string(wire) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(%error, "a live event did not serialize");
                return;
            }
        };
        let mut publisher = self.publisher.clone();
        let result: redis::RedisResult<i64> = redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(payload)
            .query_async(&mut publisher)
            .await;
        match result {
            Ok(_) => self.metrics.count("published", 1),
            Err(error) => {
                self.metrics.count("publish_failed", 1);
                tracing::warn!(%error, channel = %self.channel, "publishing a live event failed");
            }
        }
    }

    /// The live events of `key` from now on. Dropping the stream unsubscribes.
    /// A subscriber that falls more than a buffer behind skips ahead. Refused
    /// while the hub is not listening on Redis; if the hub loses Redis, the
    /// stream ends with `LiveUnavailable`.
    pub fn subscribe(
        &self,
        key: K,
    ) -> Result<impl Stream<Item = Result<V, LiveUnavailable>> + Send + 'static, LiveUnavailable>
    {
        let mut listening = self.listening.subscribe();
        if !*listening.borrow_and_update() {
            return Err(LiveUnavailable);
        }
        let receiver = {
            let mut senders = self.senders.lock().expect("the hub lock is never poisoned");
            senders
                .entry(key.clone())
                .or_insert_with(|| broadcast::channel(SUBSCRIBER_BUFFER).0)
                .subscribe()
        };
        let guard = SubscriberGuard {
            key,
            senders: self.senders.clone(),
            gauge: self.metrics.subscribers.clone(),
            counted: false,
        };
        let state = (receiver, guard, Some(listening));
        let stream =
            futures::stream::unfold(state, |(mut receiver, mut guard, listening)| async move {
                // After the loss was reported, the stream is over.
                let mut listening = listening?;
                // Counted from the first poll, not from here: a resolver listens first
                // and then checks the caller (membership, blocks), and the gauge says a
                // subscription is open only once it is being served.
                guard.count();
                loop {
                    let next = tokio::select! {
                        received = receiver.recv() => Some(received),
                        // The hub stopped listening (or is dropped, never while serving).
                        _ = listening.wait_for(|up| !up) => None,
                    };
                    match next {
                        Some(Ok(event)) => {
                            return Some((Ok(event), (receiver, guard, Some(listening))))
                        }
                        Some(Err(broadcast::error::RecvError::Lagged(skipped))) => {
                            tracing::warn!(skipped, "a slow subscriber skipped live events");
                        }
                        Some(Err(broadcast::error::RecvError::Closed)) => return None,
                        None => return Some((Err(LiveUnavailable), (receiver, guard, None))),
                    }
                }
            });
        Ok(stream)
    }

    async fn listen_forever(self, client: redis::Client) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let listened = self.listen(&client).await;
            // Open subscriptions end with `LiveUnavailable`; new ones are refused
            // until the channel is listened to again.
            self.metrics.listening.set(0);
            if self.listening.send_replace(false) {
                // It had been listening: a new outage, retried quickly at first.
                backoff = Duration::from_millis(100);
            }
            match listened {
                Ok(()) => {
                    tracing::warn!(channel = %self.channel, "the live channel closed; reconnecting")
                }
                Err(error) => {
                    tracing::warn!(%error, channel = %self.channel, "the live channel failed; reconnecting")
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn listen(&self, client: &redis::Client) -> redis::RedisResult<()> {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&self.channel).await?;
        tracing::info!(channel = %self.channel, "listening for live events");
        self.listening.send_replace(true);
        self.metrics.listening.set(1);
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            self.metrics.count("received", 1);
            let wire: Wire<K, V> = match serde_json::from_slice(message.get_payload_bytes()) {
                Ok(wire) => wire,
                Err(error) => {
                    self.metrics.count("unreadable", 1);
                    tracing::warn!(%error, "an unreadable live event was dropped");
                    continue;
                }
            };
            for key in &wire.keys {
                self.deliver(key, &wire.event);
            }
        }
        Ok(())
    }

    fn deliver(&self, key: &K, event: &V) {
        let senders = self.senders.lock().expect("the hub lock is never poisoned");
        if let Some(sender) = senders.get(key) {
            // An error only means nobody listens any more; the guard cleans up.
            let delivered = sender.send(event.clone()).unwrap_or(0);
            self.metrics.count("delivered", delivered as u64);
        }
    }
}

/// Removes a key's channel when its last local subscriber goes.
struct SubscriberGuard<K: Eq + Hash, V> {
    key: K,
    senders: Senders<K, V>,
    gauge: IntGauge,
    counted: bool,
}

impl<K: Eq + Hash, V> SubscriberGuard<K, V> {
    fn count(&mut self) {
        if !self.counted {
            self.counted = true;
            self.gauge.inc();
        }
    }
}

impl<K: Eq + Hash, V> Drop for SubscriberGuard<K, V> {
    fn drop(&mut self) {
        if self.counted {
            self.gauge.dec();
        }
        let mut senders = self.senders.lock().expect("the hub lock is never poisoned");
        // The stream state is `(receiver, guard)`: the receiver drops first, so
        // no receivers left means this was the last subscriber of the key.
        if senders
            .get(&self.key)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            senders.remove(&self.key);
        }
    }
}

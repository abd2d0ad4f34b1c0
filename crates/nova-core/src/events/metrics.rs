//! Metrics of the outbox relay and the consumers, in the service's registry.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};

use rdkafka::client::ClientContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::statistics::Statistics;

use crate::metrics::Metrics;

#[derive(Clone)]
pub struct EventMetrics {
    /// Outbox rows not yet published.
    pub outbox_backlog: IntGauge,
    /// Events the relay published.
    pub outbox_published: IntCounter,
    /// Publish attempts that failed (the row is retried with backoff).
    pub outbox_publish_failures: IntCounter,
    /// From the outbox row's commit to the broker's acknowledgement.
    pub outbox_delay: Histogram,
    /// Messages a consumer handled, by consumer and outcome
    /// (`applied`, `duplicate`, `ignored`, `dead_lettered`).
    pub consumed: IntCounterVec,
    /// Failed attempts to apply an event (the same message is retried).
    pub consumer_failures: IntCounterVec,
    /// Messages behind the end of each partition, by consumer, topic and partition.
    pub consumer_lag: IntGaugeVec,
}

impl EventMetrics {
    pub fn new(metrics: &Metrics) -> Self {
        let outbox_backlog =
            IntGauge::new("outbox_backlog", "outbox rows not yet published").expect("valid metric");
        let outbox_published =
            IntCounter::new("outbox_published_total", "events published by the relay")
                .expect("valid metric");
        let outbox_publish_failures = IntCounter::new(
            "outbox_publish_failures_total",
            "failed publish attempts (retried with backoff)",
        )
        .expect("valid metric");
        let outbox_delay = Histogram::with_opts(
            HistogramOpts::new(
                "outbox_delay_seconds",
                "time from an event's commit to the broker's acknowledgement",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
        )
        .expect("valid metric");
        let consumed = IntCounterVec::new(
            Opts::new("events_consumed_total", "messages handled by a consumer"),
            &["consumer", "outcome"],
        )
        .expect("valid metric");
        let consumer_failures = IntCounterVec::new(
            Opts::new(
                "event_consumer_failures_total",
                "failed attempts to apply an event (retried)",
            ),
            &["consumer"],
        )
        .expect("valid metric");
        let consumer_lag = IntGaugeVec::new(
            Opts::new(
                "event_consumer_lag",
                "messages behind the end of a partition",
            ),
            &["consumer", "topic", "partition"],
        )
        .expect("valid metric");
        metrics.register(Box::new(outbox_backlog.clone()));
        metrics.register(Box::new(outbox_published.clone()));
        metrics.register(Box::new(outbox_publish_failures.clone()));
        metrics.register(Box::new(outbox_delay.clone()));
        metrics.register(Box::new(consumed.clone()));
        metrics.register(Box::new(consumer_failures.clone()));
        metrics.register(Box::new(consumer_lag.clone()));
        Self {
            outbox_backlog,
            outbox_published,
            outbox_publish_failures,
            outbox_delay,
            consumed,
            consumer_failures,
            consumer_lag,
        }
    }
}

/// Publishes librdkafka's per-partition consumer lag as a metric.
pub struct LagContext {
    pub consumer: &'static str,
    pub metrics: EventMetrics,
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

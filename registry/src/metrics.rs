//! The registry's `/metrics`: publishes and rollbacks by outcome, supergraph
//! reads by status, requests counted from routers' usage reports, rollout events.

use crate::checks::Report;

/// `GET /metrics` (Prometheus text).
pub struct RegistryMetrics {
    registry: prometheus::Registry,
    /// Publishes and rollbacks by outcome: published, unchanged, forced,
    /// rejected_composition, rejected_operations.
    changes: prometheus::IntCounterVec,
    /// `GET /v1/supergraph` answers by status (200, 304, ...).
    pub(crate) supergraph_reads: prometheus::IntCounterVec,
    /// Requests recorded from routers' usage reports.
    pub(crate) usage_requests: prometheus::IntCounter,
    /// Rollout events: started, stepped, promoted, aborted, aborted_by_gate.
    rollouts: prometheus::IntCounterVec,
}

impl Default for RegistryMetrics {
    fn default() -> Self {
        let registry = prometheus::Registry::new_custom(Some("nova_registry".into()), None)
            .expect("a static prefix is valid");
        let changes = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "changes_total",
                "Publishes and rollbacks by kind and outcome",
            ),
            &["kind", "outcome"],
        )
        .expect("a valid metric");
        let supergraph_reads = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "supergraph_reads_total",
                "GET /v1/supergraph answers by status",
            ),
            &["status"],
        )
        .expect("a valid metric");
        let usage_requests = prometheus::IntCounter::new(
            "usage_requests_total",
            "Requests recorded from routers' usage reports",
        )
        .expect("a valid metric");
        let rollouts = prometheus::IntCounterVec::new(
            prometheus::Opts::new("rollouts_total", "Progressive rollout events"),
            &["event"],
        )
        .expect("a valid metric");
        registry
            .register(Box::new(rollouts.clone()))
            .expect("registered once");
        registry
            .register(Box::new(usage_requests.clone()))
            .expect("registered once");
        registry
            .register(Box::new(changes.clone()))
            .expect("registered once");
        registry
            .register(Box::new(supergraph_reads.clone()))
            .expect("registered once");
        Self {
            registry,
            changes,
            supergraph_reads,
            usage_requests,
            rollouts,
        }
    }
}

impl RegistryMetrics {
    pub(crate) fn change(&self, kind: &str, outcome: &str) {
        self.changes.with_label_values(&[kind, outcome]).inc();
    }

    pub(crate) fn rollout(&self, event: &str) {
        self.rollouts.with_label_values(&[event]).inc();
    }

    pub(crate) fn render(&self) -> String {
        use prometheus::Encoder;
        let mut buffer = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding succeeds");
        String::from_utf8(buffer).expect("Prometheus text is UTF-8")
    }
}

/// What a rejected report counts as.
pub(crate) fn rejected_outcome(report: &Report) -> &'static str {
    if report.composed() {
        "rejected_operations"
    } else {
        "rejected_composition"
    }
}

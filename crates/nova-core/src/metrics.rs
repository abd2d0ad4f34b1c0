//! Prometheus metrics of one subgraph process, served as text at `/metrics`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// GraphQL requests by operation type (`query`, `mutation`, `subscription`).
    pub requests: IntCounterVec,
    /// GraphQL request latency in seconds.
    pub latency: HistogramVec,
    /// GraphQL errors by `extensions.code`.
    pub errors: IntCounterVec,
    /// SQL statements sent to Postgres (see `db::Db::statement`).
    pub sql_statements: IntCounter,
    /// Requests refused because they did not come through the router.
    pub refused_direct_calls: IntCounter,
}

impl Metrics {
    pub fn new(service: &str) -> Self {
        let registry = Registry::new_custom(
            Some("nova".into()),
            Some([("service".into(), service.into())].into()),
        )
        .expect("static metric prefix is valid");
        let requests = IntCounterVec::new(
            Opts::new("graphql_requests_total", "GraphQL requests handled"),
            &["operation"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "graphql_request_duration_seconds",
                "GraphQL request latency in seconds",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["operation"],
        )
        .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new("graphql_errors_total", "GraphQL errors by extensions.code"),
            &["code"],
        )
        .expect("valid metric");
        let sql_statements = IntCounter::new("sql_statements_total", "SQL statements executed")
            .expect("valid metric");
        let refused_direct_calls = IntCounter::new(
            "refused_direct_calls_total",
            "requests refused because they lacked the router secret",
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(errors.clone()),
            Box::new(sql_statements.clone()),
            Box::new(refused_direct_calls.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric registered once");
        }
        Self {
            registry,
            requests,
            latency,
            errors,
            sql_statements,
            refused_direct_calls,
        }
    }

    /// Add a metric defined elsewhere (the event backbone's) to this registry.
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) {
        self.registry
            .register(collector)
            .expect("metric registered once");
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("encoding to a Vec cannot fail");
        String::from_utf8(buffer).expect("Prometheus text is UTF-8")
    }
}

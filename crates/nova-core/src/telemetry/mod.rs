//! Structured (JSON) logs on stderr, and one trace per request exported over
//! OTLP/HTTP (protobuf) when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set — the OpenTelemetry variables, read the
//! standard way (the latter gets `/v1/traces` appended), as are `OTEL_TRACES_SAMPLER`
//! and `OTEL_TRACES_SAMPLER_ARG` (default: follow the caller's decision, sample
//! roots).
//!
//! A trace continues the W3C `traceparent` the router sends (`http`), and holds
//! the GraphQL operation and its object fields (`graphql`), each DataLoader batch
//! (`crate::batching`), each SQL statement (`sql_spans`), and the publishing and
//! processing of events, whose Kafka header `traceparent` links a consumer's span
//! to its producer's (`events`). With no endpoint set none of these spans is made.

mod events;
mod graphql;
mod http;
mod sql_spans;

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::{Level, Metadata};
use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use events::{consumer_span, producer_span, traceparent_of, TRACEPARENT_HEADER};
pub use graphql::GraphqlSpans;
pub use http::{inject_trace_context, trace_http_request};

/// Set once by `init` when traces are exported; every span Nova makes checks it,
/// so a process without an endpoint pays nothing for tracing.
static TRACING_ON: AtomicBool = AtomicBool::new(false);

/// Are traces exported by this process?
pub fn tracing_on() -> bool {
    TRACING_ON.load(Ordering::Relaxed)
}

/// Keeps the trace pipeline alive; flushes spans when dropped.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Where traces go, if anywhere (the standard variables' precedence).
fn traces_endpoint_configured() -> bool {
    crate::config::optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
        || crate::config::optional("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
}

/// Spans sent to OpenTelemetry: Nova's and its libraries' at INFO and above,
/// never the exporter's own (a span per export would feed itself).
fn exported(metadata: &Metadata<'_>) -> bool {
    *metadata.level() <= Level::INFO && !metadata.target().starts_with("opentelemetry")
}

/// Install the global subscriber. Log level from `RUST_LOG` (default `info`).
pub fn init(service_name: &str) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs are events only: spans exist for traces, and a log line does not
    // repeat them.
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(std::io::stderr)
        .with_filter(filter.and(filter_fn(|metadata| metadata.is_event())));

    let provider = if traces_endpoint_configured() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|e| anyhow::anyhow!("OTLP trace exporter: {e}"))?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(service_name.to_string())
            .build();
        // Batches go out from a task on the tokio runtime (the async HTTP client
        // needs one); size and delay from the OTEL_BSP_* variables.
        let batches =
            BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
        Some(
            SdkTracerProvider::builder()
                .with_span_processor(batches)
                .with_resource(resource)
                .build(),
        )
    } else {
        None
    };

    // Two subscribers rather than an optional layer: `Option<Layer>` does not
    // pass on the dispatch `SqlSpans` needs to find its parent spans.
    let installed = match &provider {
        None => tracing_subscriber::registry().with(logs).try_init(),
        Some(provider) => {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            TRACING_ON.store(true, Ordering::Relaxed);
            let tracer = provider.tracer(service_name.to_string());
            let spans = tracing_opentelemetry::layer()
                .with_tracer(tracer.clone())
                .with_filter(filter_fn(exported));
            let statements = sql_spans::SqlSpans::new(tracer).with_filter(filter_fn(|metadata| {
                sql_spans::is_statement(metadata) || (metadata.is_span() && exported(metadata))
            }));
            tracing_subscriber::registry()
                .with(logs)
                .with(spans)
                .with(statements)
                .try_init()
        }
    };
    installed.map_err(|e| anyhow::anyhow!("telemetry already initialised: {e}"))?;
    Ok(TelemetryGuard { provider })
}

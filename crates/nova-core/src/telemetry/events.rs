//! Trace context across Kafka. An event is written to the outbox inside the
//! request; the `publish` span made there is the producer's span, and its
//! `traceparent` is stored with the row and sent as the Kafka header of that
//! name. The consumer's `process` span starts a trace of its own (a consumer may
//! run long after, and for many producers) with a link to the producer's span,
//! as the messaging semantic conventions describe.

use std::collections::HashMap;

use opentelemetry::trace::TraceContextExt;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::tracing_on;

/// The Kafka header (and outbox column) that carries the producer's context.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// The span of writing an event to the outbox (kind producer), a child of the
/// current span. `Span::none()` when traces are off.
pub fn producer_span(topic: &str) -> Span {
    if !tracing_on() {
        return Span::none();
    }
    tracing::info_span!(
        "publish",
        otel.name = %format!("publish {topic}"),
        otel.kind = "producer",
        messaging.system = "kafka",
        messaging.operation.type = "send",
        messaging.destination.name = %topic,
    )
}

/// The W3C `traceparent` of `span`, if it is traced.
pub fn traceparent_of(span: &Span) -> Option<String> {
    if !tracing_on() || span.is_none() {
        return None;
    }
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut carrier)
    });
    carrier.remove(TRACEPARENT_HEADER)
}

/// The span of processing one message (kind consumer), linked to the producer's
/// span when the message carries its `traceparent`.
pub fn consumer_span(consumer: &str, topic: &str, offset: i64, traceparent: Option<&[u8]>) -> Span {
    if !tracing_on() {
        return Span::none();
    }
    let span = tracing::info_span!(
        parent: None,
        "process",
        otel.name = %format!("process {topic}"),
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.operation.type = "process",
        messaging.destination.name = %topic,
        messaging.consumer.group.name = %format!("nova.{consumer}"),
        messaging.kafka.offset = offset,
    );
    let producer = traceparent
        .and_then(|value| std::str::from_utf8(value).ok())
        .map(|value| {
            let carrier = HashMap::from([(TRACEPARENT_HEADER.to_string(), value.to_string())]);
            opentelemetry::global::get_text_map_propagator(|propagator| {
                propagator.extract(&carrier)
            })
        });
    if let Some(producer) = producer {
        span.add_link(producer.span().span_context().clone());
    }
    span
}

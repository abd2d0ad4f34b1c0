//! HTTP server spans that continue the caller's W3C trace context, and the same
//! context on the internal calls a subgraph makes.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::tracing_on;

/// Middleware: a server span per request (probes and scrapes aside), a child of
/// the `traceparent` the request carries — the router's span for `/graphql`.
/// Attributes follow the HTTP semantic conventions.
pub async fn trace_http_request(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if !tracing_on() || path.starts_with("/health") || path == "/metrics" {
        return next.run(request).await;
    }
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_string());
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.clone(),
    };
    let span = tracing::info_span!(
        "http request",
        otel.name = %name,
        otel.kind = "server",
        http.request.method = %method,
        http.route = route.as_deref().unwrap_or_default(),
        url.path = %path,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    // Fails only when the span is not exported (filtered out): nothing to link.
    let _ = span.set_parent(parent);
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}

/// Add the current span's `traceparent` to an outgoing request's headers (an
/// internal call to another subgraph), so the callee's span joins this trace.
pub fn inject_trace_context(headers: &mut HeaderMap) {
    if !tracing_on() {
        return;
    }
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers))
    });
}

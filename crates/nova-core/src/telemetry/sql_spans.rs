//! A span for each SQL statement. sqlx makes no spans; it reports each finished
//! statement as an event (target `sqlx::query`, DEBUG, with the statement and its
//! elapsed time). This layer turns that event into an OpenTelemetry client span
//! that ended just now and began `elapsed` earlier, child of the span the
//! statement ran in (a resolver, a DataLoader batch, a consumer's event), with the
//! database semantic conventions' attributes. The statement text is the prepared
//! SQL with `$n` placeholders: parameter values never reach a trace.
//!
//! Statements outside any traced span (the relay's polling, migrations) make none.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SdkTracer;
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

const SQLX_TARGET: &str = "sqlx::query";

/// Is this sqlx's report of a finished statement?
pub(super) fn is_statement(metadata: &Metadata<'_>) -> bool {
    metadata.is_event() && metadata.target() == SQLX_TARGET
}

pub(super) struct SqlSpans {
    tracer: SdkTracer,
    /// The subscriber this layer is part of: the OpenTelemetry layer keeps each
    /// span's context there.
    dispatch: OnceLock<WeakDispatch>,
}

impl SqlSpans {
    pub(super) fn new(tracer: SdkTracer) -> Self {
        Self {
            tracer,
            dispatch: OnceLock::new(),
        }
    }
}

impl<S> Layer<S> for SqlSpans
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !is_statement(event.metadata()) {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        let Some(parent) = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch) else {
            return;
        };
        if !parent.span().span_context().is_sampled() {
            return;
        }
        let mut statement = Statement::default();
        event.record(&mut statement);
        let ended = SystemTime::now();
        let started = ended.checked_sub(statement.elapsed).unwrap_or(ended);
        let text = statement.text();
        let mut attributes = vec![
            KeyValue::new("db.system.name", "postgresql"),
            KeyValue::new("db.operation.name", operation(&text).to_string()),
            KeyValue::new("db.query.text", text.clone()),
            KeyValue::new("db.response.returned_rows", statement.rows_returned as i64),
        ];
        if let Some(table) = table(&text) {
            attributes.push(KeyValue::new("db.collection.name", table.to_string()));
        }
        let name = match table(&text) {
            Some(table) => format!("{} {table}", operation(&text)),
            None => operation(&text).to_string(),
        };
        let mut span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_start_time(started)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        span.end_with_timestamp(ended);
    }
}

/// The fields of sqlx's event that a span uses.
#[derive(Default)]
struct Statement {
    summary: String,
    sql: String,
    rows_returned: u64,
    elapsed: Duration,
}

impl Statement {
    /// sqlx leaves `db.statement` empty when the summary is the whole statement.
    fn text(&self) -> String {
        let sql = self.sql.trim();
        if sql.is_empty() {
            self.summary.clone()
        } else {
            sql.to_string()
        }
    }
}

impl Visit for Statement {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_string(),
            "db.statement" => self.sql = value.to_string(),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "rows_returned" {
            self.rows_returned = value;
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed = Duration::try_from_secs_f64(value).unwrap_or_default();
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

/// The statement's first keyword (`SELECT`, `INSERT`, `WITH`, ...).
fn operation(sql: &str) -> String {
    sql.split_whitespace()
        .next()
        .unwrap_or("SQL")
        .to_ascii_uppercase()
}

/// The table a simple statement works on: after `FROM`, `INTO` or `UPDATE`.
fn table(sql: &str) -> Option<&str> {
    let mut words = sql.split_whitespace();
    while let Some(word) = words.next() {
        if ["from", "into", "update"]
            .iter()
            .any(|keyword| word.eq_ignore_ascii_case(keyword))
        {
            // A subquery (`FROM (SELECT ...`) names no table.
            let name = words.next()?.trim_end_matches([',', ')', ';']);
            let is_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            return is_name.then_some(name);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{operation, table};

    #[test]
    fn names_come_from_the_statement() {
        let select = "SELECT id, handle FROM profiles WHERE id = ANY($1)";
        assert_eq!(operation(select), "SELECT");
        assert_eq!(table(select), Some("profiles"));
        let insert = "insert into outbox (event_id) SELECT $1";
        assert_eq!(operation(insert), "INSERT");
        assert_eq!(table(insert), Some("outbox"));
        assert_eq!(table("UPDATE posts SET body = $2"), Some("posts"));
        assert_eq!(table("SELECT 1 AS alive"), None);
        assert_eq!(table("SELECT * FROM (SELECT 1) AS x"), None);
    }
}

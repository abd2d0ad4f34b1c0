//! One trace per request: a federated query sent with the client's own W3C
//! `traceparent` yields one trace id covering the router, the two subgraphs it
//! asks (content, identity) and their SQL; and an event written inside a traced
//! mutation reaches its consumers with the producer's context, their `process`
//! span linking back to the `publish` span. Spans are received by an OTLP/HTTP
//! receiver in this process, as a collector would receive them.

use std::time::Duration;

use nova_e2e::otlp::{ReceivedSpan, TraceReceiver};
use nova_e2e::Stack;
use serde_json::json;

/// OTLP span kinds.
const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

const POST_PAGE: &str =
    "query PostPage($id: ID!) { post(id: $id) { id body author { username } } }";
const CREATE_POST: &str = "mutation CreatePost($body: String!) { createPost(body: $body) { id } }";

/// A fresh trace id and the `traceparent` (sampled) that starts it.
fn client_trace() -> (String, String) {
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let parent_id = &uuid::Uuid::new_v4().simple().to_string()[..16];
    let traceparent = format!("00-{trace_id}-{parent_id}-01");
    (trace_id, traceparent)
}

async fn send(
    stack: &Stack,
    token: &str,
    traceparent: &str,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    let response = stack
        .http
        .post(&stack.router_url)
        .bearer_auth(token)
        .header("traceparent", traceparent)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("the router answers");
    let body: serde_json::Value = response.json().await.expect("a JSON answer");
    assert!(body["errors"].is_null(), "errors: {body}");
    body["data"].clone()
}

fn in_trace<'a>(spans: &'a [ReceivedSpan], trace_id: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.trace_id == trace_id).collect()
}

fn sql_of<'a>(spans: &[&'a ReceivedSpan], service: &str) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| {
            s.service == service
                && s.kind == CLIENT
                && s.attributes.get("db.system.name").map(String::as_str) == Some("postgresql")
        })
        .copied()
        .collect()
}

#[tokio::test]
async fn a_federated_query_is_one_trace_and_events_link_back() {
    let receiver = TraceReceiver::start().await.expect("receiver starts");
    let stack = Stack::start_with_env(
        &[("TELEMETRY_TRACING_SAMPLING_RATE", "1.0")],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await
    .expect("stack starts");
    let (_, token) = stack.sign_up("tracy").await;

    // An event written inside a traced mutation.
    let (write_trace, write_parent) = client_trace();
    let created = send(
        &stack,
        &token,
        &write_parent,
        CREATE_POST,
        json!({ "body": "traced" }),
    )
    .await;
    let post_id = created["createPost"]["id"]
        .as_str()
        .expect("a post id")
        .to_string();

    // A federated read: content has the post, identity the author's username.
    let (read_trace, read_parent) = client_trace();
    let page = send(
        &stack,
        &token,
        &read_parent,
        POST_PAGE,
        json!({ "id": post_id }),
    )
    .await;
    assert_eq!(page["post"]["author"]["username"], "tracy");

    let spans = receiver
        .wait_for(
            &format!(
                "trace {read_trace}: spans from the router, content and identity with their SQL"
            ),
            Duration::from_secs(30),
            |spans| {
                let trace = in_trace(spans, &read_trace);
                ["nova-router", "content", "identity"]
                    .iter()
                    .all(|service| trace.iter().any(|s| s.service == *service))
                    && !sql_of(&trace, "content").is_empty()
                    && !sql_of(&trace, "identity").is_empty()
            },
        )
        .await;
    let trace = in_trace(&spans, &read_trace);
    eprintln!("trace {read_trace}: {} spans", trace.len());
    for span in &trace {
        eprintln!(
            "  {:<12} {:<40} kind {} parent {}",
            span.service, span.name, span.kind, span.parent_span_id
        );
    }
    // Each subgraph's server span is a child of a router span in the same trace:
    // the trace is one tree, not three trees that share an id by chance.
    let router_span_ids: Vec<&str> = trace
        .iter()
        .filter(|s| s.service == "nova-router")
        .map(|s| s.span_id.as_str())
        .collect();
    for service in ["content", "identity"] {
        let server = trace
            .iter()
            .find(|s| s.service == service && s.kind == SERVER)
            .unwrap_or_else(|| panic!("{service} has a server span in the trace"));
        assert_eq!(server.name, "POST /graphql");
        assert!(
            router_span_ids.contains(&server.parent_span_id.as_str()),
            "{service}'s server span's parent {} is a router span",
            server.parent_span_id
        );
        assert_eq!(server.attributes["http.response.status_code"], "200");
        for statement in sql_of(&trace, service) {
            assert!(
                !statement.attributes["db.query.text"].is_empty(),
                "{service}'s SQL span carries its statement"
            );
        }
    }
    // identity loads the author through a DataLoader batch, its SQL inside.
    let batch = trace
        .iter()
        .find(|s| s.service == "identity" && s.name.starts_with("DataLoader"))
        .expect("identity's DataLoader batch is in the trace");
    assert!(
        sql_of(&trace, "identity")
            .iter()
            .any(|statement| statement.parent_span_id == batch.span_id),
        "a SQL span of identity is a child of its DataLoader batch"
    );
    // Nothing of the read went to another trace: no other trace has content's
    // span for this operation.
    assert!(trace
        .iter()
        .any(|s| s.service == "content" && s.name == "Query.post"));

    // The write: content's publish span is in the mutation's trace, and each
    // consumer's process span starts a trace of its own linked to it.
    let spans = receiver
        .wait_for(
            "a consumer's span linked to the post's publish span",
            Duration::from_secs(30),
            |spans| {
                let Some(publish) = spans
                    .iter()
                    .find(|s| s.trace_id == write_trace && s.kind == PRODUCER)
                else {
                    return false;
                };
                spans.iter().any(|s| {
                    s.kind == CONSUMER
                        && s.links
                            .contains(&(publish.trace_id.clone(), publish.span_id.clone()))
                })
            },
        )
        .await;
    let publish = spans
        .iter()
        .find(|s| s.trace_id == write_trace && s.kind == PRODUCER)
        .expect("the publish span");
    assert_eq!(publish.service, "content");
    assert!(publish.name.starts_with("publish "), "{}", publish.name);
    let process = spans
        .iter()
        .find(|s| {
            s.kind == CONSUMER
                && s.links
                    .contains(&(publish.trace_id.clone(), publish.span_id.clone()))
        })
        .expect("a linked process span");
    assert_ne!(
        process.trace_id, write_trace,
        "a consumer's trace is its own, linked"
    );
    assert_eq!(process.name, publish.name.replacen("publish", "process", 1));
    assert_eq!(process.attributes["messaging.system"], "kafka");
    let consumer_sql = receiver
        .wait_for(
            "the consumer's SQL inside its process span",
            Duration::from_secs(30),
            |spans| {
                spans
                    .iter()
                    .any(|s| s.kind == CLIENT && s.parent_span_id == process.span_id)
            },
        )
        .await;
    assert!(consumer_sql
        .iter()
        .any(|s| s.service == process.service && s.parent_span_id == process.span_id));
}

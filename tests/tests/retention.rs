//! Nothing grows forever: topics Nova creates keep messages for the configured
//! retention (`KAFKA_RETENTION_MS`), and a consumer forgets the events it
//! processed once the broker can no longer deliver them again (twice that).

use std::time::Duration;

use nova_e2e::{eventually, Stack};
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use sqlx::Row;
use uuid::Uuid;

/// social's consumer of content's events.
const POST_CLEANUP: &str = "social.post-cleanup";

#[tokio::test]
async fn topics_have_a_retention_and_processed_events_are_pruned_past_it() {
    let mut stack = Stack::start().await.expect("stack starts");

    // content's relay created its topic at start, with the default week.
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", stack.kafka_brokers())
        .create()
        .expect("admin client");
    let topic = ResourceSpecifier::Topic("nova.content");
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let described = admin
        .describe_configs([&topic], &options)
        .await
        .expect("the broker answers DescribeConfigs");
    let config = described
        .into_iter()
        .next()
        .expect("one resource")
        .expect("nova.content exists");
    let value = |name: &str| config.get(name).and_then(|entry| entry.value.clone());
    assert_eq!(value("retention.ms").as_deref(), Some("604800000"));
    assert_eq!(value("cleanup.policy").as_deref(), Some("delete"));

    // Records of social's consumer, 3 hours and 1 hour old; with a retention of
    // one hour, social remembers events for two.
    let (old, recent) = (Uuid::now_v7(), Uuid::now_v7());
    let mut social = stack.connect("social").await.expect("social's database");
    for (id, age) in [(old, "3 hours"), (recent, "1 hour")] {
        sqlx::query(
            "INSERT INTO processed_events (consumer, event_id, event_type, processed_at) \
             VALUES ($1, $2, 'post_deleted', now() - $3::interval)",
        )
        .bind(POST_CLEANUP)
        .bind(id)
        .bind(age)
        .execute(&mut social)
        .await
        .expect("insert");
    }
    stack
        .restart_subgraph("social", &[("KAFKA_RETENTION_MS", "3600000")])
        .await
        .expect("social restarts");
    let remembered = || async {
        let mut social = stack.connect("social").await.expect("social's database");
        sqlx::query("SELECT event_id FROM processed_events WHERE event_id IN ($1, $2)")
            .bind(old)
            .bind(recent)
            .fetch_all(&mut social)
            .await
            .expect("select")
            .iter()
            .map(|row| row.get::<Uuid, _>("event_id"))
            .collect::<Vec<_>>()
    };
    eventually(30, "the 3-hour-old record is pruned", &stack, || async {
        !remembered().await.contains(&old)
    })
    .await;
    assert_eq!(remembered().await, vec![recent]);
}

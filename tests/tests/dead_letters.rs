//! Messages a consumer cannot apply go to the dead-letter topic and the events
//! behind them are applied; an operator lists the letters and, once the cause is
//! fixed, replays them to that consumer alone, each once.

use std::collections::BTreeSet;
use std::time::Duration;

use nova_core::events::dead_letter::{self, DeadLetter};
use nova_core::events::KafkaConfig;
use nova_e2e::{eventually, Stack};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use uuid::Uuid;

const CREATE_POST: &str = "mutation($b: String!) { createPost(body: $b) { id } }";
const DELETE_POST: &str = "mutation($id: ID!) { deletePost(id: $id) }";
const LIKE_POST: &str = "mutation($p: ID!) { likePost(postId: $p) { id } }";
/// social's consumer of content's events: a deleted post's likes go.
const POST_CLEANUP: &str = "social.post-cleanup";

async fn liked_post(stack: &Stack, author: &str, liker: &str, body: &str) -> String {
    let created = stack
        .graphql(Some(author), CREATE_POST, json!({ "b": body }))
        .await;
    let id = created.expect_ok()["createPost"]["id"]
        .as_str()
        .expect("a post id")
        .to_string();
    stack
        .graphql(Some(liker), LIKE_POST, json!({ "p": id }))
        .await
        .expect_ok();
    id
}

async fn likes_of(stack: &Stack, post: &str) -> i64 {
    let mut db = stack.connect("social").await.expect("database");
    sqlx::query_scalar("SELECT count(*) FROM likes WHERE post_id = $1")
        .bind(Uuid::parse_str(post).unwrap())
        .fetch_one(&mut db)
        .await
        .expect("likes counted")
}

async fn dead_lettered(stack: &Stack) -> f64 {
    let sample = format!(
        "nova_events_consumed_total{{consumer=\"{POST_CLEANUP}\",outcome=\"dead_lettered\"}}"
    );
    stack.metric("social", &sample).await
}

async fn letters_of(kafka: &KafkaConfig, consumer: &str) -> Vec<DeadLetter> {
    let letters = dead_letter::list(kafka).await.expect("the dead letters");
    letters
        .into_iter()
        .filter(|l| l.consumer == consumer)
        .collect()
}

/// A `content.post_deleted` envelope as content writes it, with `version` and
/// `payload` chosen by the test.
fn post_deleted(version: u32, payload: serde_json::Value) -> String {
    json!({
        "id": Uuid::now_v7(), "type": "content.post_deleted", "version": version,
        "time": "2026-12-02T00:00:00Z", "producer": "content", "key": "k",
        "payload": payload
    })
    .to_string()
}

#[tokio::test]
async fn bad_messages_are_dead_lettered_and_replayed_once_the_cause_is_fixed() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (_, bob) = stack.sign_up("bob").await;
    let newer_version = liked_post(&stack, &ann, &bob, "deleted by a newer producer").await;
    let refused = liked_post(&stack, &ann, &bob, "its likes refuse to go").await;
    let after = liked_post(&stack, &ann, &bob, "deleted after the bad ones").await;

    // Messages no retry can apply, and one of a type this build does not know.
    let kafka = KafkaConfig::new(stack.kafka_brokers());
    let producer: FutureProducer = kafka.producer(Duration::from_secs(10)).unwrap();
    let version_2 = post_deleted(2, json!({ "postId": newer_version, "authorId": ann_id }));
    let unknown_type = post_deleted(1, json!({})).replace("post_deleted", "post_archived");
    let not_matching = post_deleted(1, json!({ "postId": "not a uuid" }));
    for payload in [
        "{ this is not json",
        &not_matching,
        &version_2,
        &unknown_type,
    ] {
        producer
            .send(
                FutureRecord::to("nova.content").key("k").payload(payload),
                Duration::from_secs(10),
            )
            .await
            .expect("the broker takes the message");
    }
    // A failure retrying cannot fix: social's database refuses to delete the likes.
    let mut social = stack.connect("social").await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF OLD.post_id = '{refused}' THEN \
             RAISE EXCEPTION 'kept by the test' USING ERRCODE = 'check_violation'; \
           END IF; RETURN OLD; END $$; \
         CREATE TRIGGER refuse_delete BEFORE DELETE ON likes \
           FOR EACH ROW EXECUTE FUNCTION refuse_delete();"
    ))
    .execute(&mut social)
    .await
    .unwrap();
    for post in [&refused, &after] {
        stack
            .graphql(Some(&ann), DELETE_POST, json!({ "id": post }))
            .await
            .expect_ok();
    }

    // The events behind them are applied; the bad ones changed nothing.
    eventually(60, "the last deletion applied", &stack, || async {
        likes_of(&stack, &after).await == 0
    })
    .await;
    assert_eq!(
        likes_of(&stack, &newer_version).await,
        1,
        "version 2 applied"
    );
    // The refused deletion may come after the last one (another key, another
    // partition), and takes its five attempts.
    eventually(60, "four messages dead-lettered", &stack, || async {
        dead_lettered(&stack).await == 4.0
    })
    .await;
    assert_eq!(likes_of(&stack, &refused).await, 1);
    let letters = letters_of(&kafka, POST_CLEANUP).await;
    let errors: BTreeSet<String> = letters
        .iter()
        .map(|l| l.error.split(':').next().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> = [
        "not an event",
        "content.post_deleted payload unreadable",
        "content.post_deleted version 2 is not one this build reads (version 1)",
        "apply failed 5 times",
    ]
    .map(String::from)
    .into();
    assert_eq!(errors, expected, "{letters:#?}");
    assert!(letters.iter().all(|l| l.source_topic == "nova.content"));
    let kept = letters
        .iter()
        .find(|l| l.error.contains("version 2"))
        .unwrap();
    assert_eq!(
        kept.payload,
        version_2.as_bytes(),
        "the original bytes are kept"
    );

    // The cause fixed, the operator replays: the refused deletion goes through;
    // the unusable messages come back as new letters.
    sqlx::raw_sql("DROP TRIGGER refuse_delete ON likes")
        .execute(&mut social)
        .await
        .unwrap();
    let replayed = dead_letter::replay(&kafka, POST_CLEANUP).await.unwrap();
    assert_eq!(replayed, 4);
    eventually(60, "the replayed deletion applied", &stack, || async {
        likes_of(&stack, &refused).await == 0
    })
    .await;
    eventually(
        60,
        "the unusable three dead-lettered again",
        &stack,
        || async { dead_lettered(&stack).await == 7.0 },
    )
    .await;
    assert_eq!(
        likes_of(&stack, &newer_version).await,
        1,
        "version 2 applied"
    );
    let again = letters_of(&kafka, POST_CLEANUP).await;
    assert_eq!(again.len(), 7);
    let retried: Vec<_> = again
        .iter()
        .filter(|l| l.source_topic != "nova.content")
        .collect();
    assert_eq!(retried.len(), 3, "{again:#?}");
    assert!(retried
        .iter()
        .all(|l| l.source_topic == dead_letter::retry_topic(POST_CLEANUP)));
    // Replay remembers how far it got: only the three new letters go again.
    assert_eq!(dead_letter::replay(&kafka, POST_CLEANUP).await.unwrap(), 3);
}

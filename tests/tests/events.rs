//! The event backbone against a real broker (each stack runs its own tansu): the
//! outbox keeps events while Kafka is down, consumers apply an event once even when
//! it is delivered again, and relays running side by side publish each event once,
//! in order per key. Messages a consumer cannot apply: `dead_letters.rs`.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use nova_core::events::envelope::Follow;
use nova_core::events::{EventMetrics, Relay};
use nova_core::metrics::Metrics;
use nova_e2e::{eventually, Stack};
use serde_json::{json, Value};
use sqlx::Connection;
use uuid::Uuid;

const DELETE_POST: &str = "mutation($id: ID!) { deletePost(id: $id) }";
const LIKE_POST: &str = "mutation($p: ID!) { likePost(postId: $p) { id } }";
const FOLLOW: &str = "mutation($u: ID!) { followUser(userId: $u) { id } }";
const POST_CLEANUP: &str = "social.post-cleanup";
/// How long the broker stays away in the outage test, writes going on.
const OUTAGE: Duration = Duration::from_secs(60);

async fn write(stack: &Stack, token: &str, mutation: &str, variables: Value) {
    stack
        .graphql(Some(token), mutation, variables)
        .await
        .expect_ok();
}

/// `(type, key)` of each envelope, sorted, and whether any event id repeats.
fn summary(envelopes: &[Value]) -> (Vec<(String, String)>, bool) {
    let mut pairs: Vec<(String, String)> = envelopes
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("?").to_string(),
                e["key"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    pairs.sort();
    let ids: HashSet<&str> = envelopes.iter().filter_map(|e| e["id"].as_str()).collect();
    (pairs, ids.len() != envelopes.len())
}

fn sorted(mut pairs: Vec<(&str, &str)>) -> Vec<(String, String)> {
    pairs.sort();
    pairs
        .into_iter()
        .map(|(t, k)| (t.to_string(), k.to_string()))
        .collect()
}

/// A count from a subgraph's database; `ids` bind `$1`, `$2`, ...
async fn count(stack: &Stack, subgraph: &str, sql: &str, ids: &[&str]) -> i64 {
    let mut db = stack.connect(subgraph).await.expect("database");
    let mut query = sqlx::query_scalar(sql);
    for id in ids {
        query = query.bind(Uuid::parse_str(id).expect("a uuid"));
    }
    let value = query.fetch_one(&mut db).await.expect("query runs");
    db.close().await.ok();
    value
}

async fn likes_of(stack: &Stack, post: &str) -> i64 {
    let sql = "SELECT count(*) FROM likes WHERE post_id = $1";
    count(stack, "social", sql, &[post]).await
}

async fn unsent(stack: &Stack, subgraph: &str) -> i64 {
    let sql = "SELECT count(*) FROM outbox WHERE sent_at IS NULL";
    count(stack, subgraph, sql, &[]).await
}

#[tokio::test]
async fn writes_while_the_broker_is_down_are_published_once_it_is_back() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (alice, alice_token) = stack.sign_up("alice").await;
    let (bob, bob_token) = stack.sign_up("bob").await;
    let first = stack.create_post(&alice_token, "before the outage").await;
    write(&stack, &bob_token, LIKE_POST, json!({ "p": first })).await;
    eventually(60, "the first events being published", &stack, || async {
        unsent(&stack, "content").await == 0 && unsent(&stack, "social").await == 0
    })
    .await;

    stack.stop_broker();
    let stopped = Instant::now();
    // Writes go on while Kafka is away; their events wait in the outboxes.
    let mut during = Vec::new();
    for n in 0..3 {
        during.push(
            stack
                .create_post(&alice_token, &format!("during the outage {n}"))
                .await,
        );
    }
    write(&stack, &bob_token, FOLLOW, json!({ "u": alice })).await;
    write(&stack, &bob_token, LIKE_POST, json!({ "p": during[0] })).await;
    write(&stack, &alice_token, DELETE_POST, json!({ "id": first })).await;
    assert_eq!(
        unsent(&stack, "content").await,
        4,
        "content's outbox holds the outage's events"
    );
    assert_eq!(
        unsent(&stack, "social").await,
        2,
        "social's outbox holds the outage's events"
    );
    eventually(
        15,
        "the backlog metric showing the waiting events",
        &stack,
        || async { stack.metric("content", "nova_outbox_backlog").await == 4.0 },
    )
    .await;
    // The relay waits for the broker holding a claim, not row locks: a row it is
    // publishing can be locked by anyone meanwhile (NOWAIT fails on a held lock).
    eventually(
        15,
        "claimed rows locked without waiting",
        &stack,
        || async {
            let mut db = stack.connect("content").await.unwrap();
            let mut tx = db.begin().await.unwrap();
            let locked: Vec<i64> = sqlx::query_scalar(
                "SELECT seq FROM outbox WHERE claimed_until > now() FOR UPDATE NOWAIT",
            )
            .fetch_all(&mut *tx)
            .await
            .expect("a claimed row is not locked");
            tx.rollback().await.unwrap();
            !locked.is_empty()
        },
    )
    .await;

    // Posts keep coming for the rest of the outage (the seeds' fault test: the
    // broker away for 60 s during writes), one every 100 ms.
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    while stopped.elapsed() < OUTAGE {
        pace.tick().await;
        let n = during.len();
        during.push(
            stack
                .create_post(&alice_token, &format!("during the outage {n}"))
                .await,
        );
    }
    eprintln!(
        "broker away {:?}; {} posts written meanwhile, every one accepted",
        stopped.elapsed(),
        during.len()
    );

    stack.start_broker().expect("broker starts again");
    let restarted = Instant::now();
    eventually(60, "the outboxes draining", &stack, || async {
        unsent(&stack, "content").await == 0 && unsent(&stack, "social").await == 0
    })
    .await;

    eprintln!(
        "drained {:?} after the restart ({} content events waiting)",
        restarted.elapsed(),
        during.len() + 1
    );
    let mut expected_content = vec![
        ("content.post_created", first.as_str()),
        ("content.post_deleted", first.as_str()),
    ];
    expected_content.extend(during.iter().map(|p| ("content.post_created", p.as_str())));
    let content = stack
        .read_topic("nova.content", expected_content.len())
        .await;
    let (pairs, repeated) = summary(&content);
    assert_eq!(pairs, sorted(expected_content), "every content event, once");
    assert!(!repeated, "no content event id twice");

    let social = stack.read_topic("nova.social", 3).await;
    let (pairs, repeated) = summary(&social);
    let expected_social = sorted(vec![
        ("social.post_liked", first.as_str()),
        ("social.post_liked", during[0].as_str()),
        ("social.followed", bob.as_str()),
    ]);
    assert_eq!(pairs, expected_social, "every social event, once");
    assert!(!repeated, "no social event id twice");

    eprintln!("topics read {:?} after the restart", restarted.elapsed());
    let identity = stack.read_topic("nova.identity", 2).await;
    let (pairs, repeated) = summary(&identity);
    let expected_identity = sorted(vec![
        ("identity.user_registered", alice.as_str()),
        ("identity.user_registered", bob.as_str()),
    ]);
    assert_eq!(pairs, expected_identity);
    assert!(!repeated);

    // Social's consumer saw the deletion: the deleted post's like is gone, the
    // other post's like stays.
    eventually(
        60,
        "social dropping the deleted post's likes",
        &stack,
        || async { likes_of(&stack, &first).await == 0 },
    )
    .await;
    eprintln!("likes dropped {:?} after the restart", restarted.elapsed());
    assert_eq!(likes_of(&stack, &during[0]).await, 1);
    let deleted_event = content
        .iter()
        .find(|e| e["type"] == "content.post_deleted")
        .and_then(|e| e["id"].as_str())
        .expect("the deletion event")
        .to_string();
    let sql = "SELECT count(*) FROM processed_events WHERE event_id = $1";
    let applied = count(&stack, "social", sql, &[&deleted_event]).await;
    assert_eq!(applied, 1);
}

#[tokio::test]
async fn a_consumer_killed_before_its_offset_commit_changes_nothing_on_redelivery() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (_, alice_token) = stack.sign_up("alice").await;
    let (_, bob_token) = stack.sign_up("bob").await;
    let post = stack.create_post(&alice_token, "to be deleted").await;
    write(&stack, &bob_token, LIKE_POST, json!({ "p": post })).await;
    // Let the first consumer join its group and read the post's creation before
    // the restart, so the restarted one takes over a settled group.
    eventually(
        60,
        "social's consumer reading content.post_created",
        &stack,
        || async {
            stack
                .metric(
                    "social",
                    "nova_events_consumed_total{consumer=\"social.post-cleanup\",outcome=\"ignored\"}",
                )
                .await
                >= 1.0
        },
    )
    .await;

    stack
        .restart_subgraph(
            "social",
            &[(
                nova_core::events::consumer::FAULT_EXIT_BEFORE_OFFSET_COMMIT,
                "content.post_deleted",
            )],
        )
        .await
        .expect("social restarts with the fault");
    write(&stack, &alice_token, DELETE_POST, json!({ "id": post })).await;
    let code = stack.wait_for_exit("social", Duration::from_secs(90)).await;
    assert_eq!(
        code,
        Some(86),
        "social exits after the effect, before the commit\n{}",
        stack.logs()
    );
    // The effect and its record are durable, the offset is not.
    assert_eq!(likes_of(&stack, &post).await, 0);
    let recorded = "SELECT count(*) FROM processed_events \
                    WHERE event_type = 'content.post_deleted' AND consumer = 'social.post-cleanup'";
    assert_eq!(count(&stack, "social", recorded, &[]).await, 1);

    stack
        .restart_subgraph("social", &[])
        .await
        .expect("social restarts");
    let duplicate =
        format!("nova_events_consumed_total{{consumer=\"{POST_CLEANUP}\",outcome=\"duplicate\"}}");
    eventually(
        90,
        "the redelivered event being recognised",
        &stack,
        || async { stack.metric("social", &duplicate).await >= 1.0 },
    )
    .await;
    let applied =
        format!("nova_events_consumed_total{{consumer=\"{POST_CLEANUP}\",outcome=\"applied\"}}");
    assert_eq!(
        stack.metric("social", &applied).await,
        0.0,
        "nothing applied twice"
    );
    assert_eq!(count(&stack, "social", recorded, &[]).await, 1);
    assert_eq!(likes_of(&stack, &post).await, 0);
}

#[tokio::test]
async fn relays_side_by_side_publish_each_event_once_in_key_order() {
    let stack = Stack::start().await.expect("stack starts");
    let url = stack.database_url("content");
    let metrics = Metrics::new("relay-test");
    let db = nova_core::db::Db::connect_and_migrate(
        &url,
        nova_core::db::PoolSizes {
            requests: 8,
            background: 2,
        },
        &nova_content::MIGRATOR,
        metrics.sql_statements.clone(),
        Duration::from_secs(10),
    )
    .await
    .expect("content's database");

    // 10 aggregates × 30 events, written in interleaved transactions; the order
    // within a key is in each followee id (UUIDv7, increasing).
    let keys: Vec<Uuid> = (0..10).map(|_| Uuid::now_v7()).collect();
    let mut written: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for _ in 0..30 {
        let mut tx = db.begin().await.unwrap();
        for key in &keys {
            let followee = Uuid::now_v7();
            written.entry(*key).or_default().push(followee);
            let event = nova_core::events::Event::Followed(Follow {
                follower_id: *key,
                followee_id: followee,
            });
            nova_core::events::enqueue(&db, &mut tx, &event)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }

    // Two more relays beside content's own, all passing at once until done.
    let event_metrics = EventMetrics::new(&metrics);
    let relays: Vec<Relay> = (0..2)
        .map(|_| {
            let pool = db.background_pool().clone();
            let timeout = Duration::from_secs(10);
            Relay::new(pool, stack.kafka(), timeout, event_metrics.clone()).unwrap()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while unsent(&stack, "content").await > 0 {
        assert!(Instant::now() < deadline, "relays did not drain the outbox");
        let passes = relays.iter().map(|relay| relay.publish_pending());
        for result in futures::future::join_all(passes).await {
            result.expect("a relay pass");
        }
    }

    let envelopes = stack.read_topic("nova.social", 300).await;
    let mut received: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    let mut ids = HashSet::new();
    for envelope in &envelopes {
        let follower: Uuid = envelope["payload"]["followerId"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        if !written.contains_key(&follower) {
            continue;
        }
        assert!(
            ids.insert(envelope["id"].as_str().unwrap().to_string()),
            "event published twice"
        );
        let followee = envelope["payload"]["followeeId"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        received.entry(follower).or_default().push(followee);
    }
    assert_eq!(ids.len(), 300, "every event published");
    assert_eq!(
        received, written,
        "each key's events in the order they were written"
    );
}

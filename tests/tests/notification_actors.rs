//! A notification that groups many actors keeps the most recent ones on its row
//! and still counts every one exactly.

use std::time::Duration;

use nova_core::events::envelope::PostLiked;
use nova_core::events::{Envelope, Event, KafkaConfig};
use nova_e2e::{eventually, Stack};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use uuid::Uuid;

const CREATE_POST: &str = "mutation($b: String!) { createPost(body: $b) { id } }";
const LIKES: &str = "{ notifications(first: 5) { edges { node { \
     kind actorCount eventCount actors(first: 100) { id } } } } }";
/// notifications' `KEPT_ACTORS`.
const KEPT_ACTORS: usize = 50;

#[tokio::test]
async fn a_post_liked_by_sixty_counts_sixty_and_keeps_the_fifty_latest() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    let created = stack
        .graphql(Some(&ann), CREATE_POST, json!({ "b": "liked by many" }))
        .await;
    let post: Uuid = created.expect_ok()["createPost"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // Likes as social publishes them, from 60 accounts; then the first liker again
    // (a like, unlike and like), which counts as an event but not as an actor.
    let likers: Vec<Uuid> = (0..60).map(|_| Uuid::now_v7()).collect();
    let producer: FutureProducer = KafkaConfig::new(stack.kafka_brokers())
        .producer(Duration::from_secs(10))
        .unwrap();
    for user_id in likers.iter().chain([&likers[0]]) {
        let envelope = Envelope::new(&Event::PostLiked(PostLiked {
            user_id: *user_id,
            post_id: post,
            post_author_id: None,
        }));
        let payload = serde_json::to_string(&envelope).unwrap();
        let key = post.to_string();
        producer
            .send(
                FutureRecord::to("nova.social").key(&key).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .expect("the broker takes the like");
    }

    let latest_like = || async {
        let response = stack.graphql(Some(&ann), LIKES, json!({})).await;
        response.expect_ok()["notifications"]["edges"][0]["node"].clone()
    };
    eventually(
        60,
        "all 61 likes folded into one notification",
        &stack,
        || async { latest_like().await["eventCount"] == 61 },
    )
    .await;
    let liked: Value = latest_like().await;
    assert_eq!(liked["kind"], "POST_LIKED");
    assert_eq!(liked["actorCount"], 60);
    let actors: Vec<&str> = liked["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    let first_again = likers[0].to_string();
    let latest: Vec<String> = likers[11..60].iter().rev().map(Uuid::to_string).collect();
    assert_eq!(actors.len(), KEPT_ACTORS);
    assert_eq!(actors[0], first_again, "the latest liker first");
    assert_eq!(actors[1..], latest, "then the 49 before, newest first");
}

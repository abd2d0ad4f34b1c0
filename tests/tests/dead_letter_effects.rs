//! An external effect the store refuses for good (here Redis: a follower's
//! timeline key holds the wrong type) is dead-lettered after its attempts instead
//! of stalling the partition; once the cause is fixed, a replay redoes it and the
//! post reaches every follower.

use nova_core::events::dead_letter::{self, MAX_ATTEMPTS};
use nova_core::events::KafkaConfig;
use nova_e2e::{eventually, Stack};
use serde_json::json;

mod feed_support;

use feed_support::*;

/// feed's consumer that fans posts out into timelines.
const TIMELINES: &str = "feed.timelines";

async fn redis_command(stack: &Stack, args: &[&str]) {
    let client = redis::Client::open(stack.redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd(args[0])
        .arg(&args[1..])
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_fan_out_refused_for_good_is_dead_lettered_and_replayed() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let (_, cat) = stack.sign_up("cat").await;
    for follower in [&bob, &cat] {
        write(&stack, follower, FOLLOW, json!({ "u": ann_id })).await;
    }
    // Reading the feed builds each follower's timeline: fan-out writes into it.
    let first = post(&stack, &ann, "before the broken timeline").await;
    for follower in [&bob, &cat] {
        wait_for_feed(&stack, follower, "ann's first post", |ids| {
            ids.contains(&first)
        })
        .await;
    }

    // Bob's timeline key now holds a string: every write into it is refused.
    let bobs_timeline = format!("nova:feed:timeline:{bob_id}");
    redis_command(&stack, &["SET", &bobs_timeline, "not a timeline"]).await;
    let refused = post(&stack, &ann, "its fan-out is refused").await;
    let sample =
        format!("nova_events_consumed_total{{consumer=\"{TIMELINES}\",outcome=\"dead_lettered\"}}");
    eventually(60, "the refused fan-out dead-lettered", &stack, || async {
        stack.metric("feed", &sample).await == 1.0
    })
    .await;
    let kafka = KafkaConfig::new(stack.kafka_brokers());
    let letters: Vec<_> = dead_letter::list(&kafka)
        .await
        .expect("the dead letters")
        .into_iter()
        .filter(|letter| letter.consumer == TIMELINES)
        .collect();
    assert_eq!(letters.len(), 1, "{letters:#?}");
    let expected = format!("external effects failed {MAX_ATTEMPTS} times");
    assert!(
        letters[0].error.starts_with(&expected),
        "{}",
        letters[0].error
    );
    assert!(
        letters[0].error.contains("WRONGTYPE"),
        "{}",
        letters[0].error
    );

    // The partition moved on: with the key removed (bob's timeline is rebuilt on
    // his next read), ann's next post reaches cat.
    redis_command(&stack, &["DEL", &bobs_timeline]).await;
    let later = post(&stack, &ann, "after the refusal").await;
    wait_for_feed(&stack, &cat, "the later post", |ids| ids.contains(&later)).await;

    // Replayed, the refused fan-out is redone: every follower has every post.
    assert_eq!(dead_letter::replay(&kafka, TIMELINES).await.unwrap(), 1);
    let all = newest_first(vec![first, refused, later]);
    for (name, follower) in [("bob", &bob), ("cat", &cat)] {
        wait_for_feed(
            &stack,
            follower,
            &format!("all three in {name}'s feed"),
            |ids| ids == all,
        )
        .await;
    }
    assert_eq!(
        stack.metric("feed", &sample).await,
        1.0,
        "nothing more dead-lettered"
    );
}

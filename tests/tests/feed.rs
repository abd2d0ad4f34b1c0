//! The home feed through the router, as an app's first screen uses it: fan-out
//! on follow and post, removal on unfollow, delete, block and mute (and never
//! back, even when old events come again), stable paging while posts arrive.
//! Recovery and big accounts are in `feed_recovery.rs`.

use std::time::Duration;

use nova_core::events::KafkaConfig;
use nova_e2e::{eventually, Stack};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use sqlx::Row;

mod feed_support;

use feed_support::*;

#[tokio::test]
async fn follow_post_page_unfollow_and_delete() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let (_, cat) = stack.sign_up("cat").await;

    let before_follow = post(&stack, &bob, "written before ann followed").await;
    let own = post(&stack, &ann, "ann's own post").await;
    wait_for_feed(&stack, &ann, "ann's own post in her feed", |ids| {
        ids == [own.clone()]
    })
    .await;
    write(&stack, &ann, FOLLOW, json!({ "u": bob_id })).await;
    // Follow → the followed account's recent posts are backfilled.
    wait_for_feed(&stack, &ann, "bob's earlier post backfilled", |ids| {
        ids.contains(&before_follow)
    })
    .await;
    let mut bobs = vec![before_follow];
    for i in 0..11 {
        bobs.push(post(&stack, &bob, &format!("bob #{i}")).await);
    }
    post(&stack, &cat, "cat is not followed").await;
    let expected = newest_first(bobs.iter().cloned().chain([own.clone()]).collect());
    wait_for_feed(&stack, &ann, "bob's posts fanned out", |ids| {
        ids == expected
    })
    .await;

    // Paging while bob keeps posting: nothing repeats, nothing is skipped.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let (ids, next) = page(&stack, &ann, 5, after.as_deref()).await;
        seen.extend(ids);
        post(&stack, &bob, "posted while ann pages").await;
        match next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, expected, "paging with new posts arriving");

    // One page of the home screen; statements per subgraph do not grow with size.
    let screen = stack
        .graphql(Some(&ann), FEED_SCREEN, json!({ "n": 3 }))
        .await;
    let first = &screen.expect_ok()["homeFeed"]["edges"][0]["node"];
    assert_eq!(first["author"]["username"], "bob", "{:#}", screen.body);
    assert_eq!(first["likeCount"], 0);
    // The fewest of three runs. Batches no longer split on a busy machine (they
    // start when the request is idle, `nova_core::batching`; before, CI saw social
    // at 3 statements for 20 posts in all three runs); this keeps the check about
    // page size rather than about what else the machine is doing.
    let mut per_size = Vec::new();
    for n in [5, 20] {
        let mut fewest = vec![u64::MAX; 5];
        for _ in 0..3 {
            let before = statements(&stack).await;
            stack
                .graphql(Some(&ann), FEED_SCREEN, json!({ "n": n }))
                .await
                .expect_ok();
            let after = statements(&stack).await;
            for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                fewest[i] = fewest[i].min(a - b);
            }
        }
        per_size.push(fewest);
    }
    assert_eq!(
        per_size[0], per_size[1],
        "statements per subgraph for 5 vs 20 posts"
    );
    // feed: reader, merge, visibility; content: served, posts, comment counts, comments.
    assert_eq!(
        per_size[1][..2],
        [3, 4],
        "feed and content statements per page"
    );

    // A deleted post leaves the page at once: the owner is asked at read time.
    let deleted = feed(&stack, &ann).await[0].clone();
    write(&stack, &bob, DELETE_POST, json!({ "id": deleted })).await;
    let now = feed(&stack, &ann).await;
    assert!(!now.contains(&deleted), "a deleted post stayed in the feed");
    let screen = stack
        .graphql(Some(&ann), FEED_SCREEN, json!({ "n": 20 }))
        .await;
    assert!(screen.body.get("errors").is_none(), "{:#}", screen.body);

    // Unfollow → bob's posts leave; ann's own stay.
    write(&stack, &ann, UNFOLLOW, json!({ "u": bob_id })).await;
    wait_for_feed(&stack, &ann, "bob's posts gone after unfollow", |ids| {
        ids == [own.clone()]
    })
    .await;

    // Bad input and signed-out callers.
    let too_many = stack
        .graphql(Some(&ann), FEED_IDS, json!({ "n": 101 }))
        .await;
    assert_eq!(too_many.error_codes(), ["BAD_USER_INPUT"]);
    let bad_cursor = stack
        .graphql(Some(&ann), FEED_IDS, json!({ "n": 5, "after": "nope" }))
        .await;
    assert_eq!(bad_cursor.error_codes(), ["BAD_USER_INPUT"]);
    let anonymous = stack.graphql(None, FEED_IDS, json!({ "n": 5 })).await;
    assert_eq!(anonymous.error_codes(), ["UNAUTHENTICATED"]);
}

/// `nova_sql_statements_total` of the subgraphs a feed page touches.
async fn statements(stack: &Stack) -> Vec<u64> {
    let mut counts = Vec::new();
    for subgraph in ["feed", "content", "social", "users", "identity"] {
        counts.push(stack.sql_statements(subgraph).await);
    }
    counts
}

/// Publish again every event `subgraph` has sent (same ids), as a broker
/// redelivery or a relay retry would.
async fn redeliver_sent_events(stack: &Stack, subgraph: &str) -> usize {
    let mut db = stack.connect(subgraph).await.unwrap();
    let rows = sqlx::query("SELECT topic, event_key, envelope::text AS envelope FROM outbox WHERE sent_at IS NOT NULL ORDER BY seq")
        .fetch_all(&mut db)
        .await
        .unwrap();
    let producer: FutureProducer = KafkaConfig::new(stack.kafka_brokers())
        .producer(Duration::from_secs(10))
        .unwrap();
    for row in &rows {
        let topic: String = row.get("topic");
        let key: String = row.get("event_key");
        let envelope: String = row.get("envelope");
        producer
            .send(
                FutureRecord::to(&topic).key(&key).payload(&envelope),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(error, _)| error)
            .unwrap();
    }
    rows.len()
}

#[tokio::test]
async fn blocked_and_muted_accounts_stay_out_even_when_events_come_again() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let (cat_id, cat) = stack.sign_up("cat").await;
    let (dan_id, dan) = stack.sign_up("dan").await;
    for (token, followee) in [
        (&ann, &bob_id),
        (&ann, &cat_id),
        (&ann, &dan_id),
        (&bob, &ann_id),
        (&bob, &cat_id),
    ] {
        write(&stack, token, FOLLOW, json!({ "u": followee })).await;
    }
    let bobs = post(&stack, &bob, "bob").await;
    let cats = post(&stack, &cat, "cat").await;
    let anns = post(&stack, &ann, "ann").await;
    wait_for_feed(&stack, &ann, "posts of bob and cat", |ids| ids.len() == 3).await;
    wait_for_feed(&stack, &bob, "ann's post in bob's feed", |ids| {
        ids.contains(&anns)
    })
    .await;

    // Who to follow: bob follows cat... ann follows cat too; dan follows bob.
    write(&stack, &dan, FOLLOW, json!({ "u": bob_id })).await;
    let suggested = stack.graphql(Some(&dan), SUGGESTED, json!({})).await;
    let ids: Vec<&str> = suggested.expect_ok()["suggestedUsers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&ann_id.as_str()) && ids.contains(&cat_id.as_str()),
        "{ids:?}"
    );
    write(&stack, &dan, MUTE, json!({ "u": cat_id })).await;
    let suggested = stack.graphql(Some(&dan), SUGGESTED, json!({})).await;
    let ids = suggested.expect_ok()["suggestedUsers"].to_string();
    assert!(
        !ids.contains(&cat_id),
        "a muted account was suggested: {ids}"
    );

    // Mute: cat's posts leave ann's feed, and new ones never come in.
    write(&stack, &ann, MUTE, json!({ "u": cat_id })).await;
    wait_for_feed(&stack, &ann, "cat's post gone after mute", |ids| {
        !ids.contains(&cats)
    })
    .await;
    let cats_new = post(&stack, &cat, "cat, while muted").await;
    let dans = post(&stack, &dan, "dan, after cat's").await;
    wait_for_feed(&stack, &ann, "dan's later post", |ids| ids.contains(&dans)).await;
    assert!(
        !feed(&stack, &ann).await.contains(&cats_new),
        "a muted account's new post came in"
    );

    // Block (bob blocks ann): gone both ways.
    write(&stack, &bob, BLOCK, json!({ "u": ann_id })).await;
    wait_for_feed(&stack, &ann, "bob's post gone after his block", |ids| {
        !ids.contains(&bobs)
    })
    .await;
    wait_for_feed(
        &stack,
        &bob,
        "ann's post gone from the blocker's feed",
        |ids| !ids.contains(&anns),
    )
    .await;

    // Every event again, same ids: nothing comes back.
    let consumed_before = stack
        .metric(
            "feed",
            r#"nova_events_consumed_total{consumer="feed.timelines",outcome="duplicate"}"#,
        )
        .await;
    let social_events = redeliver_sent_events(&stack, "social").await;
    let content_events = redeliver_sent_events(&stack, "content").await;
    let expected = consumed_before + (social_events + content_events) as f64;
    eventually(
        30,
        "the feed reading every redelivered event",
        &stack,
        || async {
            let duplicates = stack
                .metric(
                    "feed",
                    r#"nova_events_consumed_total{consumer="feed.timelines",outcome="duplicate"}"#,
                )
                .await;
            duplicates >= expected
        },
    )
    .await;
    let ann_feed = feed(&stack, &ann).await;
    assert_eq!(
        ann_feed,
        newest_first(vec![dans.clone(), anns.clone()]),
        "ann's feed after redelivery"
    );
    assert!(
        !feed(&stack, &bob).await.contains(&anns),
        "the blocked account's post came back"
    );

    // Unmute: cat's posts come back (ann still follows cat).
    write(&stack, &ann, UNMUTE, json!({ "u": cat_id })).await;
    wait_for_feed(&stack, &ann, "cat's posts back after unmute", |ids| {
        ids.contains(&cats) && ids.contains(&cats_new)
    })
    .await;
}

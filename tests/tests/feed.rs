//! The home feed through the router, as an app's first screen uses it: fan-out
//! on follow and post, removal on unfollow, delete, block and mute (and never
//! back, even when old events come again), stable paging while posts arrive,
//! accounts above the fan-out limit merged at read time, Redis lost and rebuilt,
//! a crash between the database commit and the Redis write, the live pill.

use std::collections::HashSet;
use std::time::Duration;

use nova_core::events::consumer::FAULT_EXIT_BEFORE_EXTERNAL_EFFECTS;
use nova_core::events::KafkaConfig;
use nova_e2e::live::LiveClient;
use nova_e2e::{eventually, Stack};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use sqlx::Row;

const CREATE_POST: &str = "mutation($b: String!) { createPost(body: $b) { id } }";
const DELETE_POST: &str = "mutation($id: ID!) { deletePost(id: $id) }";
const FOLLOW: &str = "mutation($u: ID!) { followUser(userId: $u) { id } }";
const UNFOLLOW: &str = "mutation($u: ID!) { unfollowUser(userId: $u) { id } }";
const BLOCK: &str = "mutation($u: ID!) { blockUser(userId: $u) { id } }";
const MUTE: &str = "mutation($u: ID!) { muteUser(userId: $u) { id } }";
const UNMUTE: &str = "mutation($u: ID!) { unmuteUser(userId: $u) { id } }";
const SUGGESTED: &str = "{ suggestedUsers(first: 10) { id } }";
const FEED_IDS: &str = "query($n: Int, $after: String) {
  homeFeed(first: $n, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  } }";
/// What the home screen shows for each post.
const FEED_SCREEN: &str = "query($n: Int) {
  homeFeed(first: $n) { edges { node {
    id body createdAt author { id username displayName }
    likeCount viewerHasLiked commentCount
    comments(first: 2) { edges { node { body author { username } } } }
  } } } }";

async fn write(stack: &Stack, token: &str, mutation: &str, variables: Value) -> Value {
    stack
        .graphql(Some(token), mutation, variables)
        .await
        .expect_ok()
        .clone()
}

async fn post(stack: &Stack, token: &str, body: &str) -> String {
    let created = write(stack, token, CREATE_POST, json!({ "b": body })).await;
    created["createPost"]["id"].as_str().unwrap().to_string()
}

/// One page: the post ids and the cursor to go on from (when there is more).
async fn page(
    stack: &Stack,
    token: &str,
    n: i32,
    after: Option<&str>,
) -> (Vec<String>, Option<String>) {
    let response = stack
        .graphql(Some(token), FEED_IDS, json!({ "n": n, "after": after }))
        .await;
    let feed = &response.expect_ok()["homeFeed"];
    let ids = feed["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect();
    let next = (feed["pageInfo"]["hasNextPage"] == true)
        .then(|| feed["pageInfo"]["endCursor"].as_str().unwrap().to_string());
    (ids, next)
}

/// The whole feed, paged 100 at a time.
async fn feed(stack: &Stack, token: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let (ids, next) = page(stack, token, 100, after.as_deref()).await;
        all.extend(ids);
        match next {
            Some(cursor) => after = Some(cursor),
            None => return all,
        }
    }
}

async fn wait_for_feed(stack: &Stack, token: &str, what: &str, check: impl Fn(&[String]) -> bool) {
    eventually(30, what, stack, || async {
        check(&feed(stack, token).await)
    })
    .await;
}

fn newest_first(mut ids: Vec<String>) -> Vec<String> {
    // Post ids are UUIDv7: their order is their creation order.
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids
}

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
    // The fewest of three runs: a DataLoader batch that a busy machine splits in
    // two is timing, not growth with the page size.
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

async fn timeline_members(stack: &Stack, user: &str) -> Vec<String> {
    let client = redis::Client::open(stack.redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("ZRANGE")
        .arg(format!("nova:feed:timeline:{user}"))
        .arg(0)
        .arg(-1)
        .query_async(&mut redis)
        .await
        .unwrap()
}

async fn flush_redis(stack: &Stack) {
    let client = redis::Client::open(stack.redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("FLUSHALL")
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
}

#[tokio::test]
async fn redis_is_a_cache_crashes_redo_the_fan_out_and_big_accounts_merge_at_read() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let (star_id, star) = stack.sign_up("star").await;
    write(&stack, &ann, FOLLOW, json!({ "u": bob_id })).await;
    let mut bobs = Vec::new();
    for i in 0..3 {
        bobs.push(post(&stack, &bob, &format!("bob #{i}")).await);
    }
    wait_for_feed(&stack, &ann, "bob's posts", |ids| ids.len() == 3).await;

    // Redis loses everything: the next read rebuilds the same feed.
    let before = feed(&stack, &ann).await;
    flush_redis(&stack).await;
    assert_eq!(feed(&stack, &ann).await, before, "feed after FLUSHALL");
    assert_eq!(
        timeline_members(&stack, &ann_id).await.len(),
        4,
        "rebuilt timeline: sentinel + 3"
    );

    // The live pill: ann hears of bob's next post.
    let mut live = LiveClient::connect(&stack.router_url, Some(&ann))
        .await
        .unwrap();
    live.subscribe(
        "feed",
        "subscription { homeFeedUpdated { post { id body } author { username } } }",
        json!({}),
    )
    .await
    .unwrap();
    eventually(10, "the subscription open at the feed", &stack, || async {
        stack.metric("feed", "nova_live_subscribers").await == 1.0
    })
    .await;
    let live_post = post(&stack, &bob, "heard live").await;
    let update = live.next_data(Duration::from_secs(30)).await.unwrap();
    assert_eq!(update["homeFeedUpdated"]["post"]["id"], live_post.as_str());
    assert_eq!(update["homeFeedUpdated"]["post"]["body"], "heard live");
    assert_eq!(update["homeFeedUpdated"]["author"]["username"], "bob");
    wait_for_feed(&stack, &ann, "the live post in the feed", |ids| {
        ids.contains(&live_post)
    })
    .await;

    // A crash after the database commit, before the Redis write: the restarted
    // consumer gets the event again and redoes the write.
    stack
        .restart_subgraph(
            "feed",
            &[(FAULT_EXIT_BEFORE_EXTERNAL_EFFECTS, "content.post_created")],
        )
        .await
        .unwrap();
    let lost = post(&stack, &bob, "written while the feed crashed").await;
    assert_eq!(
        stack.wait_for_exit("feed", Duration::from_secs(60)).await,
        Some(87)
    );
    stack.restart_subgraph("feed", &[]).await.unwrap();
    eventually(
        60,
        "the post in ann's timeline after the crash",
        &stack,
        || async { timeline_members(&stack, &ann_id).await.contains(&lost) },
    )
    .await;

    // Above the fan-out limit (2 followers here): merged in at read time, in order.
    stack
        .restart_subgraph("feed", &[("FEED_FAN_OUT_LIMIT", "2")])
        .await
        .unwrap();
    let (_, cat) = stack.sign_up("cat").await;
    write(&stack, &cat, FOLLOW, json!({ "u": star_id })).await;
    write(&stack, &ann, FOLLOW, json!({ "u": star_id })).await;
    // Follows and posts travel on different topics: let the feed count both
    // followers before star posts, or star is still below the limit for it.
    eventually(
        30,
        "the feed counting star's two followers",
        &stack,
        || async {
            let mut db = stack.connect("feed").await.unwrap();
            sqlx::query_scalar::<_, i32>(
                "SELECT follower_count FROM authors WHERE user_id = $1::uuid",
            )
            .bind(&star_id)
            .fetch_optional(&mut db)
            .await
            .unwrap()
                == Some(2)
        },
    )
    .await;
    let star_old = post(&stack, &star, "star, older").await;
    let bob_middle = post(&stack, &bob, "bob, between").await;
    let star_new = post(&stack, &star, "star, newer").await;
    wait_for_feed(&stack, &ann, "star's posts merged", |ids| {
        ids.starts_with(&[star_new.clone(), bob_middle.clone(), star_old.clone()])
    })
    .await;
    let members = timeline_members(&stack, &ann_id).await;
    assert!(members.contains(&bob_middle), "bob is fanned out");
    assert!(
        !members.contains(&star_new),
        "star is above the limit: merged at read, not written"
    );
    let cat_view = feed(&stack, &cat).await;
    assert_eq!(
        cat_view,
        newest_first(vec![star_new, star_old]),
        "cat sees star's posts"
    );
    let unique: HashSet<String> = feed(&stack, &ann).await.into_iter().collect();
    assert_eq!(
        unique.len(),
        8,
        "ann's posts: bob's 6, star's 2, none twice"
    );
}

#[tokio::test]
async fn a_new_feed_starts_from_the_owners_current_data() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let (cat_id, cat) = stack.sign_up("cat").await;
    write(&stack, &ann, FOLLOW, json!({ "u": bob_id })).await;
    write(&stack, &ann, FOLLOW, json!({ "u": cat_id })).await;
    write(&stack, &cat, BLOCK, json!({ "u": ann_id })).await;
    let bobs = vec![
        post(&stack, &bob, "one").await,
        post(&stack, &bob, "two").await,
    ];
    post(&stack, &cat, "cat blocked ann").await;
    wait_for_feed(&stack, &ann, "bob's posts", |ids| ids.len() == 2).await;

    // The feed loses everything it had: tables, marks and Redis. Its consumer
    // group has committed its offsets, so the events do not come again: only
    // the backfill from the owners' exports can bring the feed back.
    stack.terminate("feed");
    let mut db = stack.connect("feed").await.unwrap();
    sqlx::query("TRUNCATE posts, follows, authors, blocks, mutes, readers, backfills")
        .execute(&mut db)
        .await
        .unwrap();
    flush_redis(&stack).await;
    stack.restart_subgraph("feed", &[]).await.unwrap();
    wait_for_feed(&stack, &ann, "the feed rebuilt from the owners", |ids| {
        ids == newest_first(bobs.clone())
    })
    .await;
    let copied: i64 = sqlx::query_scalar("SELECT count(*) FROM backfills")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(copied, 2, "social and content copied");
}

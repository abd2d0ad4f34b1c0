//! The home feed when things go wrong or get big: Redis lost and rebuilt, a
//! crash between the database commit and the Redis write, accounts above the
//! fan-out limit merged at read time, the live pill, and a new feed that starts
//! from the owners' exports.

use std::collections::HashSet;
use std::time::Duration;

use nova_core::events::consumer::FAULT_EXIT_BEFORE_EXTERNAL_EFFECTS;
use nova_e2e::live::LiveClient;
use nova_e2e::{eventually, Stack};
use serde_json::json;

mod feed_support;

use feed_support::*;

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

//! analytics end to end: the owners' events reach ClickHouse through the batch
//! consumer and come out as counts that match the owners' own (`likeCount`,
//! `commentCount`) exactly — also after a crash between the insert and the
//! offset commit made the broker deliver a batch again; only the post's author
//! sees its stats; ClickHouse stopped and started flips analytics' readiness,
//! leaves the other subgraphs serving and loses no event.

use std::time::Duration;

use chrono::Utc;
use nova_e2e::{eventually, Stack};
use serde_json::{json, Value};

/// Through `node`, which is not a post page: reading stats adds no view.
const STATS: &str = "query($id: ID!) { node(id: $id) { ... on Post {
  likeCount commentCount stats { views uniqueViewers likes comments } } } }";
const POST_PAGE: &str = "query($id: ID!) { post(id: $id) { id } }";
const FEED: &str = "{ homeFeed(first: 10) { edges { node { id } } } }";
const LIKE: &str = "mutation($id: ID!) { likePost(postId: $id) { id } }";
const UNLIKE: &str = "mutation($id: ID!) { unlikePost(postId: $id) { id } }";
const COMMENT: &str = "mutation($id: ID!) { addComment(postId: $id, body: \"nice\") { id } }";
const DELETE_COMMENT: &str = "mutation($id: ID!) { deleteComment(id: $id) }";
const FOLLOW: &str = "mutation($id: ID!) { followUser(userId: $id) { id } }";
const CREATOR: &str = "query($r: DayRange!) { creatorStats(range: $r) {
  posts views uniqueViewers likes comments newFollowers } }";
const APPLIED: &str =
    "nova_events_consumed_total{consumer=\"analytics.events\",outcome=\"applied\"}";

/// The post as its author sees it: the owners' counts and analytics' stats.
async fn stats(stack: &Stack, token: &str, post: &str) -> Value {
    stack.data_of(token, STATS, json!({ "id": post })).await["node"].clone()
}

/// Wait until analytics' counts of `post` are these, and check that likes and
/// comments are the owners' counts.
async fn wait_for_counts(
    stack: &Stack,
    author: &str,
    post: &str,
    [views, unique_viewers, likes, comments]: [i64; 4],
) {
    let wanted = json!({
        "views": views, "uniqueViewers": unique_viewers, "likes": likes, "comments": comments
    });
    eventually(60, &format!("stats reaching {wanted}"), stack, || async {
        stats(stack, author, post).await["stats"] == wanted
    })
    .await;
    let post = stats(stack, author, post).await;
    assert_eq!(post["likeCount"], likes, "social's count");
    assert_eq!(post["commentCount"], comments, "content's count");
}

async fn call(stack: &Stack, token: &str, query: &str, id: &str) -> Value {
    stack.data_of(token, query, json!({ "id": id })).await
}

fn today() -> Value {
    let day = Utc::now().date_naive().to_string();
    json!({ "from": day, "to": day })
}

#[tokio::test]
async fn counts_are_exact_after_redelivery_and_only_the_author_sees_them() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (_, bob) = stack.sign_up("bob").await;
    let (_, carol) = stack.sign_up("carol").await;
    let (_, dave) = stack.sign_up("dave").await;
    let post = stack.create_post(&ann, "counted").await;
    wait_for_counts(&stack, &ann, &post, [0, 0, 0, 0]).await;

    // analytics crashes once the batch holding the comment's deletion is in
    // ClickHouse, before its offsets are stored.
    stack
        .restart_subgraph(
            "analytics",
            &[(
                nova_core::events::consumer::FAULT_EXIT_BEFORE_OFFSET_COMMIT,
                "content.comment_deleted",
            )],
        )
        .await
        .expect("analytics restarts with the fault");
    call(&stack, &bob, LIKE, &post).await;
    call(&stack, &carol, LIKE, &post).await;
    call(&stack, &carol, UNLIKE, &post).await;
    call(&stack, &bob, COMMENT, &post).await;
    let second = call(&stack, &bob, COMMENT, &post).await["addComment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    call(&stack, &dave, FOLLOW, &ann_id).await;
    call(&stack, &bob, DELETE_COMMENT, &second).await;
    let code = stack
        .wait_for_exit("analytics", Duration::from_secs(60))
        .await;
    assert_eq!(
        code,
        Some(86),
        "analytics exits before the offset commit\n{}",
        stack.logs()
    );

    // Started again, it reads the batch again (no new events meanwhile) and
    // inserts its rows a second time; the counts stay exact.
    stack
        .restart_subgraph("analytics", &[])
        .await
        .expect("analytics restarts");
    eventually(60, "the batch being delivered again", &stack, || async {
        stack.metric("analytics", APPLIED).await >= 1.0
    })
    .await;
    wait_for_counts(&stack, &ann, &post, [0, 0, 1, 1]).await;

    // Views: dave's feed page once, carol's post page twice, a signed-out one.
    eventually(60, "the post in dave's feed", &stack, || async {
        let feed = stack.data_of(&dave, FEED, json!({})).await;
        feed["homeFeed"]["edges"][0]["node"]["id"] == post.as_str()
    })
    .await;
    call(&stack, &carol, POST_PAGE, &post).await;
    call(&stack, &carol, POST_PAGE, &post).await;
    stack
        .graphql(None, POST_PAGE, json!({ "id": post }))
        .await
        .expect_ok();
    wait_for_counts(&stack, &ann, &post, [4, 2, 1, 1]).await;
    let creator = stack.data_of(&ann, CREATOR, json!({ "r": today() })).await;
    assert_eq!(
        creator["creatorStats"],
        json!({ "posts": 1, "views": 4, "uniqueViewers": 2, "likes": 1, "comments": 1, "newFollowers": 1 })
    );
    let by_day = stack
        .data_of(
            &ann,
            "query($id: ID!, $r: DayRange!) { node(id: $id) { ... on Post {
               stats { byDay(range: $r) { day views uniqueViewers likes comments } } } } }",
            json!({ "id": post, "r": today() }),
        )
        .await;
    assert_eq!(
        by_day["node"]["stats"]["byDay"],
        json!([{ "day": today()["from"], "views": 4, "uniqueViewers": 2, "likes": 1, "comments": 1 }])
    );

    // Someone else: null and FORBIDDEN; signed out: UNAUTHENTICATED.
    let by_bob = stack
        .graphql(Some(&bob), STATS, json!({ "id": post }))
        .await;
    assert_eq!(by_bob.data()["node"]["stats"], Value::Null);
    assert_eq!(by_bob.error_codes(), ["FORBIDDEN"]);
    let signed_out = stack.graphql(None, STATS, json!({ "id": post })).await;
    assert_eq!(signed_out.data()["node"]["stats"], Value::Null);
    assert_eq!(signed_out.error_codes(), ["UNAUTHENTICATED"]);
    let creator_signed_out = stack.graphql(None, CREATOR, json!({ "r": today() })).await;
    assert_eq!(creator_signed_out.error_codes(), ["UNAUTHENTICATED"]);
}

#[tokio::test]
async fn clickhouse_outage_flips_readiness_and_loses_nothing() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    let (_, bob) = stack.sign_up("bob").await;
    let (_, carol) = stack.sign_up("carol").await;
    let post = stack.create_post(&ann, "through an outage").await;
    call(&stack, &bob, LIKE, &post).await;
    wait_for_counts(&stack, &ann, &post, [0, 0, 1, 0]).await;

    stack.stop_clickhouse();
    let ready = format!("{}/health/ready", stack.subgraph_url("analytics"));
    eventually(30, "analytics reporting not ready", &stack, || async {
        let (status, body) = stack.get(&ready).await;
        status == 503 && body.contains("clickhouse")
    })
    .await;
    // The rest of the supergraph serves; stats say they are unavailable.
    call(&stack, &carol, LIKE, &post).await;
    call(&stack, &carol, COMMENT, &post).await;
    let during = stack
        .graphql(Some(&ann), STATS, json!({ "id": post }))
        .await;
    assert_eq!(during.data()["node"]["likeCount"], 2);
    assert_eq!(during.data()["node"]["commentCount"], 1);
    assert_eq!(during.data()["node"]["stats"], Value::Null);
    assert_eq!(during.error_codes(), ["UNAVAILABLE"]);
    for subgraph in ["content", "social", "feed"] {
        let url = format!("{}/health/ready", stack.subgraph_url(subgraph));
        assert_eq!(stack.get(&url).await.0, 200, "{subgraph} stays ready");
    }

    stack.start_clickhouse().expect("ClickHouse starts again");
    eventually(30, "analytics ready again", &stack, || async {
        stack.get(&ready).await.0 == 200
    })
    .await;
    wait_for_counts(&stack, &ann, &post, [0, 0, 2, 1]).await;
}

const TRENDING: &str = "{ trendingPosts(window: DAY, first: 10) { id } }";

async fn trending(stack: &Stack, token: Option<&str>) -> Vec<String> {
    let response = stack.graphql(token, TRENDING, json!({})).await;
    response.expect_ok()["trendingPosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|post| post["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn trending_posts_leave_out_deleted_taken_down_and_blocked() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (_, dan) = stack.sign_up("dan").await;
    let (_, bob) = stack.sign_up("bob").await;
    let (_, carol) = stack.sign_up("carol").await;
    stack.sign_up("mod").await;
    stack.grant_moderator("mod");
    let moderator = stack.access_token("mod").await;
    let first = stack.create_post(&ann, "ann's first").await;
    let second = stack.create_post(&ann, "ann's second").await;
    let dans = stack.create_post(&dan, "dan's").await;
    for post in [&first, &second, &dans] {
        call(&stack, &bob, LIKE, post).await;
    }

    // One like each: equal scores, the newer post first.
    let all = vec![dans.clone(), second.clone(), first.clone()];
    eventually(60, "the three posts trending", &stack, || async {
        trending(&stack, None).await == all
    })
    .await;
    // carol blocks ann: ann's posts leave carol's list at once.
    stack
        .data_of(
            &carol,
            "mutation($id: ID!) { blockUser(userId: $id) { id } }",
            json!({ "id": ann_id }),
        )
        .await;
    assert_eq!(
        trending(&stack, Some(&carol)).await,
        std::slice::from_ref(&dans)
    );
    assert_eq!(trending(&stack, Some(&bob)).await, all);
    // Deleted, then taken down: gone for everyone at once.
    stack
        .data_of(
            &ann,
            "mutation($id: ID!) { deletePost(id: $id) }",
            json!({ "id": second }),
        )
        .await;
    assert_eq!(trending(&stack, None).await, [dans.clone(), first.clone()]);
    stack
        .data_of(
            &moderator,
            "mutation($id: ID!) { takeDown(subject: { kind: POST, id: $id }, reason: \"spam\") { action } }",
            json!({ "id": first }),
        )
        .await;
    assert_eq!(trending(&stack, None).await, [dans]);
}

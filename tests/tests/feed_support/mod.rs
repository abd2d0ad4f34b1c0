//! What the feed tests share: the operations they send and reading a feed,
//! a timeline in Redis, as the app and an operator would.
// Each test binary uses some of these.
#![allow(dead_code)]

use nova_e2e::{eventually, Stack};
use serde_json::{json, Value};

pub const CREATE_POST: &str = "mutation($b: String!) { createPost(body: $b) { id } }";
pub const DELETE_POST: &str = "mutation($id: ID!) { deletePost(id: $id) }";
pub const FOLLOW: &str = "mutation($u: ID!) { followUser(userId: $u) { id } }";
pub const UNFOLLOW: &str = "mutation($u: ID!) { unfollowUser(userId: $u) { id } }";
pub const BLOCK: &str = "mutation($u: ID!) { blockUser(userId: $u) { id } }";
pub const MUTE: &str = "mutation($u: ID!) { muteUser(userId: $u) { id } }";
pub const UNMUTE: &str = "mutation($u: ID!) { unmuteUser(userId: $u) { id } }";
pub const SUGGESTED: &str = "{ suggestedUsers(first: 10) { id } }";
pub const FEED_IDS: &str = "query($n: Int, $after: String, $ranking: FeedRanking = LATEST) {
  homeFeed(first: $n, after: $after, ranking: $ranking) {
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  } }";
/// What the home screen shows for each post.
pub const FEED_SCREEN: &str = "query($n: Int) {
  homeFeed(first: $n) { edges { node {
    id body createdAt author { id username displayName }
    likeCount viewerHasLiked commentCount
    comments(first: 2) { edges { node { body author { username } } } }
  } } } }";

pub async fn write(stack: &Stack, token: &str, mutation: &str, variables: Value) -> Value {
    stack
        .graphql(Some(token), mutation, variables)
        .await
        .expect_ok()
        .clone()
}

pub async fn post(stack: &Stack, token: &str, body: &str) -> String {
    let created = write(stack, token, CREATE_POST, json!({ "b": body })).await;
    created["createPost"]["id"].as_str().unwrap().to_string()
}

/// One page, newest first: the post ids and the cursor to go on from (when
/// there is more).
pub async fn page(
    stack: &Stack,
    token: &str,
    n: i32,
    after: Option<&str>,
) -> (Vec<String>, Option<String>) {
    ranked_page(stack, token, "LATEST", n, after).await
}

/// One page in `ranking` (`LATEST`, `FOR_YOU`), as `page`.
pub async fn ranked_page(
    stack: &Stack,
    token: &str,
    ranking: &str,
    n: i32,
    after: Option<&str>,
) -> (Vec<String>, Option<String>) {
    let variables = json!({ "n": n, "after": after, "ranking": ranking });
    let response = stack.graphql(Some(token), FEED_IDS, variables).await;
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
pub async fn feed(stack: &Stack, token: &str) -> Vec<String> {
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

pub async fn wait_for_feed(
    stack: &Stack,
    token: &str,
    what: &str,
    check: impl Fn(&[String]) -> bool,
) {
    eventually(30, what, stack, || async {
        check(&feed(stack, token).await)
    })
    .await;
}

pub fn newest_first(mut ids: Vec<String>) -> Vec<String> {
    // Post ids are UUIDv7: their order is their creation order.
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids
}

pub async fn timeline_members(stack: &Stack, user: &str) -> Vec<String> {
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

pub async fn flush_redis(stack: &Stack) {
    let client = redis::Client::open(stack.redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("FLUSHALL")
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
}

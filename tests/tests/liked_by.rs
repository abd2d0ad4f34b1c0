//! Who liked a post (`Post.likedBy`) through the router: newest first, paged,
//! and never an account blocked either way with the viewer; a block removes the
//! likes between the two.

use nova_e2e::Stack;
use serde_json::{json, Value};

const LIKE: &str = "mutation($id: ID!) { likePost(postId: $id) { id } }";
const BLOCK: &str = "mutation($id: ID!) { blockUser(userId: $id) { id } }";
const LIKED_BY: &str = "query($id: ID!, $n: Int, $after: String) { post(id: $id) {
  likeCount
  likedBy(first: $n, after: $after) {
    edges { node { username } }
    pageInfo { hasNextPage endCursor }
  }
} }";

/// The usernames of one page of likers as `viewer` sees them, and the page info.
async fn likers(
    stack: &Stack,
    viewer: Option<&str>,
    post: &str,
    first: i32,
    after: Option<&str>,
) -> (Vec<String>, Value) {
    let response = stack
        .graphql(
            viewer,
            LIKED_BY,
            json!({ "id": post, "n": first, "after": after }),
        )
        .await;
    let liked_by = response.expect_ok()["post"]["likedBy"].clone();
    let names = liked_by["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["username"].as_str().unwrap().to_string())
        .collect();
    (names, liked_by["pageInfo"].clone())
}

#[tokio::test]
async fn likers_page_newest_first_without_blocked_accounts() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    let (_, bob) = stack.sign_up("bob").await;
    let (carol_id, carol) = stack.sign_up("carol").await;
    let (_, dave) = stack.sign_up("dave").await;
    let (erin_id, erin) = stack.sign_up("erin").await;
    let post = stack
        .graphql(
            Some(&ann),
            "mutation { createPost(body: \"liked\") { id } }",
            json!({}),
        )
        .await;
    let post = post.expect_ok()["createPost"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for liker in [&bob, &carol, &dave] {
        stack
            .graphql(Some(liker), LIKE, json!({ "id": post }))
            .await
            .expect_ok();
    }

    // Newest first, two at a time.
    let (first_page, info) = likers(&stack, Some(&ann), &post, 2, None).await;
    assert_eq!(first_page, ["dave", "carol"]);
    assert_eq!(info["hasNextPage"], true);
    let cursor = info["endCursor"].as_str().unwrap().to_string();
    let (second_page, info) = likers(&stack, Some(&ann), &post, 2, Some(&cursor)).await;
    assert_eq!(second_page, ["bob"]);
    assert_eq!(info["hasNextPage"], false);

    // erin blocked carol, and bob blocked erin: erin sees neither.
    for (blocker, blocked) in [(&erin, &carol_id), (&bob, &erin_id)] {
        stack
            .graphql(Some(blocker), BLOCK, json!({ "id": blocked }))
            .await
            .expect_ok();
    }
    let (seen_by_erin, _) = likers(&stack, Some(&erin), &post, 10, None).await;
    assert_eq!(seen_by_erin, ["dave"]);
    // Others, signed in or not, still see every liker.
    let (seen_by_dave, _) = likers(&stack, Some(&dave), &post, 10, None).await;
    assert_eq!(seen_by_dave, ["dave", "carol", "bob"]);
    let (seen_signed_out, _) = likers(&stack, None, &post, 10, None).await;
    assert_eq!(seen_signed_out, ["dave", "carol", "bob"]);

    // A page size out of range is the client's error.
    let refused = stack
        .graphql(None, LIKED_BY, json!({ "id": post, "n": 0 }))
        .await;
    assert_eq!(refused.error_codes(), vec!["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn a_block_removes_the_likes_between_the_two() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let (_, carol) = stack.sign_up("carol").await;
    let post_of = |token: String| {
        let stack = &stack;
        async move {
            let created = stack
                .graphql(
                    Some(&token),
                    "mutation { createPost(body: \"a post\") { id } }",
                    json!({}),
                )
                .await;
            created.expect_ok()["createPost"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let anns_post = post_of(ann.clone()).await;
    let bobs_post = post_of(bob.clone()).await;
    for (liker, post) in [(&bob, &anns_post), (&carol, &anns_post), (&ann, &bobs_post)] {
        stack
            .graphql(Some(liker), LIKE, json!({ "id": post }))
            .await
            .expect_ok();
    }
    let (before, _) = likers(&stack, None, &anns_post, 10, None).await;
    assert_eq!(before, ["carol", "bob"]);

    stack
        .graphql(Some(&ann), BLOCK, json!({ "id": bob_id }))
        .await
        .expect_ok();
    // Both ways, at once: counts and lists as everyone sees them.
    let (after, _) = likers(&stack, None, &anns_post, 10, None).await;
    assert_eq!(after, ["carol"]);
    for (post, count) in [(&anns_post, 1), (&bobs_post, 0)] {
        let seen = stack
            .graphql(None, LIKED_BY, json!({ "id": post, "n": 10 }))
            .await;
        assert_eq!(seen.expect_ok()["post"]["likeCount"], count);
    }
}

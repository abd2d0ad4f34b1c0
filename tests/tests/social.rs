//! Follows, blocks, mutes and likes through the router: every mutation, the rules,
//! counts and viewer state, suggestions.

use nova_e2e::{Response, Stack};
use serde_json::{json, Value};

const FOLLOW: &str =
    "mutation($id: ID!) { followUser(userId: $id) { id followerCount viewerFollows } }";
const UNFOLLOW: &str =
    "mutation($id: ID!) { unfollowUser(userId: $id) { id followerCount viewerFollows } }";
const BLOCK: &str = "mutation($id: ID!) { blockUser(userId: $id) { id viewerBlocked } }";
const UNBLOCK: &str = "mutation($id: ID!) { unblockUser(userId: $id) { id viewerBlocked } }";
const PROFILE: &str = "query($id: ID!) { user(id: $id) {
  username followerCount followingCount viewerFollows viewerBlocked
  followers(first: 10) { edges { node { username } } }
  following(first: 10) { edges { node { username } } }
} }";
const SUGGESTED: &str = "query($n: Int) { suggestedUsers(first: $n) { id username } }";

fn usernames(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v["username"]
                .as_str()
                .or(v["node"]["username"].as_str())
                .unwrap()
                .to_string()
        })
        .collect()
}

fn edges(connection: &Value) -> Value {
    connection["edges"].clone()
}

async fn profile(stack: &Stack, viewer: Option<&str>, id: &str) -> Value {
    let response = stack.graphql(viewer, PROFILE, json!({ "id": id })).await;
    response.expect_ok()["user"].clone()
}

fn only_code(response: &Response) -> String {
    let codes = response.error_codes();
    assert_eq!(codes.len(), 1, "{:#}", response.body);
    codes[0].clone()
}

#[tokio::test]
async fn follows_blocks_mutes_and_suggestions() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let (cat_id, cat) = stack.sign_up("cat").await;
    let (dan_id, dan) = stack.sign_up("dan").await;

    // Follow is idempotent and shows up in counts, lists and viewer state.
    for _ in 0..2 {
        let followed = stack
            .graphql(Some(&ann), FOLLOW, json!({ "id": bob_id }))
            .await;
        let bob_seen = followed.expect_ok()["followUser"].clone();
        assert_eq!(bob_seen["followerCount"], 1);
        assert_eq!(bob_seen["viewerFollows"], true);
    }
    let bob_by_ann = profile(&stack, Some(&ann), &bob_id).await;
    assert_eq!(usernames(&edges(&bob_by_ann["followers"])), vec!["ann"]);
    let bob_by_anonymous = profile(&stack, None, &bob_id).await;
    assert_eq!(bob_by_anonymous["viewerFollows"], false);
    assert_eq!(profile(&stack, None, &ann_id).await["followingCount"], 1);

    // Refusals.
    let self_follow = stack
        .graphql(Some(&ann), FOLLOW, json!({ "id": ann_id }))
        .await;
    assert_eq!(only_code(&self_follow), "BAD_USER_INPUT");
    let anonymous = stack.graphql(None, FOLLOW, json!({ "id": bob_id })).await;
    assert!(anonymous
        .error_codes()
        .contains(&"UNAUTHENTICATED".to_string()));
    let malformed = stack
        .graphql(Some(&ann), FOLLOW, json!({ "id": "x" }))
        .await;
    assert_eq!(only_code(&malformed), "BAD_USER_INPUT");

    // Unfollow is idempotent.
    for _ in 0..2 {
        let unfollowed = stack
            .graphql(Some(&ann), UNFOLLOW, json!({ "id": bob_id }))
            .await;
        assert_eq!(unfollowed.expect_ok()["unfollowUser"]["followerCount"], 0);
    }

    // Suggestions: people followed by people ann follows.
    stack
        .graphql(Some(&ann), FOLLOW, json!({ "id": bob_id }))
        .await
        .expect_ok();
    stack
        .graphql(Some(&bob), FOLLOW, json!({ "id": cat_id }))
        .await
        .expect_ok();
    stack
        .graphql(Some(&bob), FOLLOW, json!({ "id": dan_id }))
        .await
        .expect_ok();
    stack
        .graphql(Some(&bob), FOLLOW, json!({ "id": ann_id }))
        .await
        .expect_ok();
    let suggested = stack
        .graphql(Some(&ann), SUGGESTED, json!({ "n": 10 }))
        .await;
    let mut names = usernames(&suggested.expect_ok()["suggestedUsers"]);
    names.sort();
    assert_eq!(
        names,
        vec!["cat", "dan"],
        "never ann herself or bob, whom she follows"
    );
    let too_many = stack
        .graphql(Some(&ann), SUGGESTED, json!({ "n": 51 }))
        .await;
    assert_eq!(only_code(&too_many), "BAD_USER_INPUT");

    // Block: removes follows both ways, prevents new ones, hides from suggestions.
    stack
        .graphql(Some(&ann), FOLLOW, json!({ "id": dan_id }))
        .await
        .expect_ok();
    stack
        .graphql(Some(&dan), FOLLOW, json!({ "id": ann_id }))
        .await
        .expect_ok();
    let blocked = stack
        .graphql(Some(&ann), BLOCK, json!({ "id": dan_id }))
        .await;
    assert_eq!(blocked.expect_ok()["blockUser"]["viewerBlocked"], true);
    let dan_seen = profile(&stack, Some(&ann), &dan_id).await;
    assert_eq!(dan_seen["followerCount"], 1, "only bob still follows dan");
    assert_eq!(dan_seen["followingCount"], 0, "dan's follow of ann is gone");
    assert_eq!(dan_seen["viewerBlocked"], true);
    for (who, target) in [(&dan, &ann_id), (&ann, &dan_id)] {
        let refused = stack
            .graphql(Some(who), FOLLOW, json!({ "id": target }))
            .await;
        assert_eq!(only_code(&refused), "FORBIDDEN");
    }
    let suggested = stack.graphql(Some(&ann), SUGGESTED, json!({})).await;
    assert_eq!(
        usernames(&suggested.expect_ok()["suggestedUsers"]),
        vec!["cat"]
    );
    // cat blocks ann: a block in the other direction hides cat too.
    stack
        .graphql(Some(&cat), BLOCK, json!({ "id": ann_id }))
        .await
        .expect_ok();
    let suggested = stack.graphql(Some(&ann), SUGGESTED, json!({})).await;
    assert_eq!(suggested.expect_ok()["suggestedUsers"], json!([]));

    // Unblock: following works again.
    let unblocked = stack
        .graphql(Some(&ann), UNBLOCK, json!({ "id": dan_id }))
        .await;
    assert_eq!(unblocked.expect_ok()["unblockUser"]["viewerBlocked"], false);
    stack
        .graphql(Some(&ann), FOLLOW, json!({ "id": dan_id }))
        .await
        .expect_ok();

    // Mute and unmute: idempotent, refused on yourself, shown to the muter only.
    for (mutation, muted) in [
        ("muteUser", true),
        ("muteUser", true),
        ("unmuteUser", false),
        ("unmuteUser", false),
    ] {
        let query =
            format!("mutation($id: ID!) {{ {mutation}(userId: $id) {{ id viewerHasMuted }} }}");
        let response = stack
            .graphql(Some(&ann), &query, json!({ "id": bob_id }))
            .await;
        let user = response.expect_ok()[mutation].clone();
        assert_eq!(user["id"], bob_id.as_str());
        assert_eq!(user["viewerHasMuted"], muted, "after {mutation}");
    }
    let muted_again = stack
        .graphql(
            Some(&ann),
            "mutation($id: ID!) { muteUser(userId: $id) { viewerHasMuted } }",
            json!({ "id": bob_id }),
        )
        .await;
    assert_eq!(muted_again.expect_ok()["muteUser"]["viewerHasMuted"], true);
    let seen_by = |token: Option<String>| {
        let stack = &stack;
        let bob_id = bob_id.clone();
        async move {
            let response = stack
                .graphql(
                    token.as_deref(),
                    "query($id: ID!) { user(id: $id) { viewerHasMuted } }",
                    json!({ "id": bob_id }),
                )
                .await;
            response.expect_ok()["user"]["viewerHasMuted"].clone()
        }
    };
    assert_eq!(seen_by(Some(ann.clone())).await, true, "ann muted bob");
    assert_eq!(seen_by(Some(dan.clone())).await, false, "dan did not");
    assert_eq!(seen_by(None).await, false, "signed out");
    let self_mute = stack
        .graphql(
            Some(&ann),
            "mutation($id: ID!) { muteUser(userId: $id) { id } }",
            json!({ "id": ann_id }),
        )
        .await;
    assert_eq!(only_code(&self_mute), "BAD_USER_INPUT");
}

#[tokio::test]
async fn likes_are_idempotent_with_counts_and_viewer_state() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    let (_, bob) = stack.sign_up("bob").await;
    let post = stack
        .graphql(
            Some(&ann),
            "mutation { createPost(body: \"like me\") { id } }",
            json!({}),
        )
        .await;
    let post_id = post.expect_ok()["createPost"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let like = "mutation($id: ID!) { likePost(postId: $id) { id likeCount viewerHasLiked } }";
    let unlike = "mutation($id: ID!) { unlikePost(postId: $id) { id likeCount viewerHasLiked } }";
    let view = "query($id: ID!) { post(id: $id) { body likeCount viewerHasLiked } }";

    for _ in 0..2 {
        let liked = stack
            .graphql(Some(&bob), like, json!({ "id": post_id }))
            .await;
        let liked = liked.expect_ok()["likePost"].clone();
        assert_eq!(liked["likeCount"], 1);
        assert_eq!(liked["viewerHasLiked"], true);
    }
    let by_ann = stack
        .graphql(Some(&ann), view, json!({ "id": post_id }))
        .await;
    let by_ann = by_ann.expect_ok()["post"].clone();
    assert_eq!(by_ann["body"], "like me");
    assert_eq!(by_ann["likeCount"], 1);
    assert_eq!(by_ann["viewerHasLiked"], false);
    let anonymous = stack.graphql(None, view, json!({ "id": post_id })).await;
    assert_eq!(anonymous.expect_ok()["post"]["viewerHasLiked"], false);
    let refused = stack.graphql(None, like, json!({ "id": post_id })).await;
    assert!(refused
        .error_codes()
        .contains(&"UNAUTHENTICATED".to_string()));
    let malformed = stack.graphql(Some(&bob), like, json!({ "id": "x" })).await;
    assert_eq!(only_code(&malformed), "BAD_USER_INPUT");

    for _ in 0..2 {
        let unliked = stack
            .graphql(Some(&bob), unlike, json!({ "id": post_id }))
            .await;
        assert_eq!(unliked.expect_ok()["unlikePost"]["likeCount"], 0);
    }
}

#[tokio::test]
async fn my_blocked_and_muted_lists_page_newest_first_and_only_for_me() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    let (bob_id, _) = stack.sign_up("bob").await;
    let (cat_id, cat) = stack.sign_up("cat").await;
    let (dan_id, _) = stack.sign_up("dan").await;
    let list = |name: &'static str| {
        format!(
            "query($after: String) {{ {name}(first: 1, after: $after) {{ edges {{ cursor node {{ username }} }} pageInfo {{ hasNextPage }} }} }}"
        )
    };
    // Every page of the viewer's list, one user a page.
    let pages = |name: &'static str, token: String| {
        let (stack, query) = (&stack, list(name));
        async move {
            let (mut seen, mut after) = (Vec::new(), Value::Null);
            loop {
                let page = stack
                    .graphql(Some(&token), &query, json!({ "after": after }))
                    .await;
                let connection = page.expect_ok()[name].clone();
                seen.extend(usernames(&edges(&connection)));
                if connection["pageInfo"]["hasNextPage"] != true {
                    return seen;
                }
                after = connection["edges"][0]["cursor"].clone();
            }
        }
    };

    for id in [&bob_id, &cat_id, &dan_id] {
        stack
            .graphql(Some(&ann), BLOCK, json!({ "id": id }))
            .await
            .expect_ok();
    }
    stack
        .graphql(Some(&ann), UNBLOCK, json!({ "id": cat_id }))
        .await
        .expect_ok();
    for id in [&dan_id, &bob_id] {
        stack
            .graphql(
                Some(&ann),
                "mutation($id: ID!) { muteUser(userId: $id) { id } }",
                json!({ "id": id }),
            )
            .await
            .expect_ok();
    }
    assert_eq!(pages("blockedUsers", ann.clone()).await, ["dan", "bob"]);
    assert_eq!(pages("mutedUsers", ann.clone()).await, ["bob", "dan"]);
    // Another user's lists are their own (empty), and signed out there are none.
    assert!(pages("blockedUsers", cat.clone()).await.is_empty());
    let anonymous = stack
        .graphql(None, &list("blockedUsers"), json!({ "after": null }))
        .await;
    assert_eq!(only_code(&anonymous), "UNAUTHENTICATED");
}

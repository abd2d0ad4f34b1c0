//! A block holds from the moment `blockUser` returns: direct messages racing the
//! block are let through only if they started before it returned, never after
//! (chat asks social, the owner of blocks, at each write); a follow racing a
//! block never survives it (social takes the pair's lock for both).

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nova_e2e::realtime::{send, start_direct};
use nova_e2e::Stack;
use serde_json::json;
use tokio::sync::watch;

/// Rounds of block and unblock; senders racing each block; sends each sender
/// makes after the block returned.
const ROUNDS: usize = 4;
const SENDERS: usize = 2;
const SENDS_AFTER_BLOCK: usize = 25;

struct Attempt {
    started: Instant,
    codes: Vec<String>,
}

#[tokio::test]
async fn no_direct_message_started_after_block_user_returned_gets_through() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let conversation = start_direct(&stack, &bob, &ann_id).await;

    let mut after_block = 0;
    let mut slips = Vec::new();
    for round in 0..ROUNDS {
        let block_returned: OnceLock<Instant> = OnceLock::new();
        let (delivered, mut delivered_rx) = watch::channel(0usize);
        let attempts: Mutex<Vec<Attempt>> = Mutex::new(Vec::new());
        let sender = |lane: usize| {
            let (block_returned, delivered, attempts) = (&block_returned, &delivered, &attempts);
            let (stack, bob, conversation) = (&stack, &bob, &conversation);
            async move {
                let mut sent_after = 0;
                for n in 0.. {
                    if sent_after >= SENDS_AFTER_BLOCK {
                        break;
                    }
                    let started = Instant::now();
                    let key = format!("r{round}-l{lane}-{n}");
                    let response = send(stack, bob, conversation, "hi", &key).await;
                    let codes = response.error_codes();
                    if codes.is_empty() {
                        delivered.send_modify(|count| *count += 1);
                    }
                    if block_returned.get().is_some_and(|at| started > *at) {
                        sent_after += 1;
                    }
                    attempts.lock().unwrap().push(Attempt { started, codes });
                }
            }
        };
        let blocker = async {
            // Block while messages are flowing: after some got through.
            tokio::time::timeout(
                Duration::from_secs(15),
                delivered_rx.wait_for(|count| *count >= 3),
            )
            .await
            .expect("bob's messages flow")
            .expect("the senders are running");
            let blocked = stack
                .graphql(
                    Some(&ann),
                    "mutation($id: ID!) { blockUser(userId: $id) { viewerBlocked } }",
                    json!({ "id": bob_id }),
                )
                .await;
            assert_eq!(blocked.expect_ok()["blockUser"]["viewerBlocked"], true);
            block_returned.set(Instant::now()).unwrap();
        };
        tokio::join!(sender(0), sender(1), blocker);

        let returned = *block_returned.get().unwrap();
        for attempt in attempts.into_inner().unwrap() {
            if attempt.started > returned {
                after_block += 1;
                if attempt.codes != ["FORBIDDEN"] {
                    slips.push((round, attempt.codes));
                }
            }
        }
        let unblocked = stack
            .graphql(
                Some(&ann),
                "mutation($id: ID!) { unblockUser(userId: $id) { viewerBlocked } }",
                json!({ "id": bob_id }),
            )
            .await;
        assert_eq!(unblocked.expect_ok()["unblockUser"]["viewerBlocked"], false);
    }
    assert_eq!(after_block, ROUNDS * SENDERS * SENDS_AFTER_BLOCK);
    assert!(
        slips.is_empty(),
        "{} of {after_block} sends that started after blockUser returned were not refused: {slips:?}",
        slips.len()
    );

    // Nor can either start a conversation or share a new group once blocked.
    let blocked = stack
        .graphql(
            Some(&bob),
            "mutation($id: ID!) { blockUser(userId: $id) { id } }",
            json!({ "id": ann_id }),
        )
        .await;
    blocked.expect_ok();
    let direct = stack
        .graphql(
            Some(&ann),
            "mutation($u: ID!) { startDirectConversation(userId: $u) { id } }",
            json!({ "u": bob_id }),
        )
        .await;
    assert_eq!(direct.error_codes(), ["FORBIDDEN"]);
    let group = stack
        .graphql(
            Some(&ann),
            "mutation($m: [ID!]!) { createGroup(title: \"g\", memberIds: $m) { id } }",
            json!({ "m": [bob_id] }),
        )
        .await;
    assert_eq!(group.error_codes(), ["FORBIDDEN"]);
}

#[tokio::test]
async fn a_follow_racing_a_block_never_survives_it() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    // Ann's followers as she sees them (bob, blocked, no longer sees her profile).
    let anns_followers = "{ me { followerCount } }";
    let mut survived = Vec::new();
    for round in 0..200 {
        let follow = stack.graphql(
            Some(&bob),
            "mutation($id: ID!) { followUser(userId: $id) { id } }",
            json!({ "id": ann_id }),
        );
        let block = stack.graphql(
            Some(&ann),
            "mutation($id: ID!) { blockUser(userId: $id) { id } }",
            json!({ "id": bob_id }),
        );
        let (_, blocked) = tokio::join!(follow, block);
        blocked.expect_ok();
        let after = stack.graphql(Some(&ann), anns_followers, json!({})).await;
        if after.expect_ok()["me"]["followerCount"] != 0 {
            survived.push(round);
        }
        let unblocked = stack
            .graphql(
                Some(&ann),
                "mutation($id: ID!) { unblockUser(userId: $id) { id } }",
                json!({ "id": bob_id }),
            )
            .await;
        unblocked.expect_ok();
    }
    assert!(
        survived.is_empty(),
        "a follow survived the block it raced in rounds {survived:?}"
    );
}

async fn comment(stack: &Stack, token: &str, post: &str) -> nova_e2e::Response {
    stack
        .graphql(
            Some(token),
            "mutation($p: ID!) { addComment(postId: $p, body: \"hi\") { id } }",
            json!({ "p": post }),
        )
        .await
}

#[tokio::test]
async fn comments_are_refused_both_ways_from_the_moment_of_the_block() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let anns_post = stack.create_post(&ann, "ann's post").await;
    let bobs_post = stack.create_post(&bob, "bob's post").await;
    comment(&stack, &bob, &anns_post).await.expect_ok();
    let block_or_unblock = |mutation: &'static str| {
        let query = format!("mutation($id: ID!) {{ {mutation}(userId: $id) {{ id }} }}");
        let bob_id = bob_id.clone();
        let (stack, ann) = (&stack, &ann);
        async move {
            stack
                .graphql(Some(ann), &query, json!({ "id": bob_id }))
                .await
                .expect_ok();
        }
    };

    // Right after blockUser returns, with no wait: neither comments on the other.
    block_or_unblock("blockUser").await;
    let bob_on_ann = comment(&stack, &bob, &anns_post).await;
    assert_eq!(
        bob_on_ann.error_codes(),
        ["FORBIDDEN"],
        "{:?}",
        bob_on_ann.body
    );
    let ann_on_bob = comment(&stack, &ann, &bobs_post).await;
    assert_eq!(
        ann_on_bob.error_codes(),
        ["FORBIDDEN"],
        "{:?}",
        ann_on_bob.body
    );
    let anns_comments = stack
        .graphql(
            Some(&ann),
            "query($p: ID!) { post(id: $p) { commentCount } }",
            json!({ "p": anns_post }),
        )
        .await;
    assert_eq!(anns_comments.expect_ok()["post"]["commentCount"], 1);

    // Unblocked, they may again.
    block_or_unblock("unblockUser").await;
    comment(&stack, &bob, &anns_post).await.expect_ok();
}

#[tokio::test]
async fn likes_are_refused_both_ways_from_the_moment_of_the_block() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let anns_post = stack.create_post(&ann, "ann's post").await;
    let bobs_post = stack.create_post(&bob, "bob's post").await;
    let like = "mutation($p: ID!) { likePost(postId: $p) { id } }";
    let no_such_post = stack
        .graphql(Some(&bob), like, json!({ "p": uuid::Uuid::now_v7() }))
        .await;
    assert_eq!(no_such_post.error_codes(), ["NOT_FOUND"]);

    let blocked = stack
        .graphql(
            Some(&ann),
            "mutation($id: ID!) { blockUser(userId: $id) { id } }",
            json!({ "id": bob_id }),
        )
        .await;
    blocked.expect_ok();
    // Right after blockUser returns, with no wait.
    let bob_likes_ann = stack
        .graphql(Some(&bob), like, json!({ "p": anns_post }))
        .await;
    assert_eq!(
        bob_likes_ann.error_codes(),
        ["FORBIDDEN"],
        "{:?}",
        bob_likes_ann.body
    );
    let ann_likes_bob = stack
        .graphql(Some(&ann), like, json!({ "p": bobs_post }))
        .await;
    assert_eq!(
        ann_likes_bob.error_codes(),
        ["FORBIDDEN"],
        "{:?}",
        ann_likes_bob.body
    );
    let count = stack
        .graphql(
            Some(&ann),
            "query($p: ID!) { post(id: $p) { likeCount } }",
            json!({ "p": anns_post }),
        )
        .await;
    assert_eq!(count.expect_ok()["post"]["likeCount"], 0);
}

#[tokio::test]
async fn a_blocked_user_sees_the_blockers_profile_as_unavailable() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let by_id = "query($id: ID!) { user(id: $id) { id username } }";
    let by_name = "query($name: String!) { userByUsername(username: $name) { id } }";
    let sees = |token: Option<String>, id: String| {
        let stack = &stack;
        async move {
            let response = stack
                .graphql(token.as_deref(), by_id, json!({ "id": id }))
                .await;
            !response.expect_ok()["user"].is_null()
        }
    };
    assert!(
        sees(Some(bob.clone()), ann_id.clone()).await,
        "before the block"
    );

    let blocked = stack
        .graphql(
            Some(&ann),
            "mutation($id: ID!) { blockUser(userId: $id) { id } }",
            json!({ "id": bob_id }),
        )
        .await;
    blocked.expect_ok();
    // At once, for the blocked user only.
    assert!(
        !sees(Some(bob.clone()), ann_id.clone()).await,
        "bob sees ann"
    );
    let named = stack
        .graphql(Some(&bob), by_name, json!({ "name": "ann" }))
        .await;
    assert!(
        named.expect_ok()["userByUsername"].is_null(),
        "bob finds ann by name"
    );
    assert!(
        sees(Some(ann.clone()), bob_id.clone()).await,
        "ann still sees bob, to unblock"
    );
    assert!(
        sees(None, ann_id.clone()).await,
        "signed out, ann's profile is public"
    );
    assert!(
        sees(Some(ann.clone()), ann_id.clone()).await,
        "ann sees herself"
    );
}

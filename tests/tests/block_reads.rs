//! Reads across a block (docs/blocks.md): from the moment `blockUser` returns,
//! neither sees the other's post by id (`post(id:)` is null, as for a post that
//! is not there), nor the other's comments in a comment list — comments from
//! before the block included — nor the other's posts on a hashtag page. Others, and signed-out readers, see everything;
//! unblocking shows it all again.

use nova_e2e::Stack;
use serde_json::{json, Value};

const POST: &str =
    "query($p: ID!) { post(id: $p) { id comments(first: 20) { edges { node { body } } } } }";

/// What `token`'s user (or a signed-out reader) sees of a post: null, or its
/// comments' bodies, oldest first.
async fn seen(stack: &Stack, token: Option<&str>, post: &str) -> Option<Vec<String>> {
    let page = stack.graphql(token, POST, json!({ "p": post })).await;
    let post: &Value = &page.expect_ok()["post"];
    if post.is_null() {
        return None;
    }
    Some(sorted_bodies(&post["comments"]["edges"]))
}

/// The `body` of each edge's node, sorted.
fn sorted_bodies(edges: &Value) -> Vec<String> {
    let mut bodies: Vec<String> = edges
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["body"].as_str().unwrap().to_string())
        .collect();
    bodies.sort();
    bodies
}

/// The bodies of the `#lunch` page as `token`'s user sees it, sorted.
async fn tagged(stack: &Stack, token: Option<&str>) -> Vec<String> {
    let page = stack
        .graphql(
            token,
            "{ postsByHashtag(tag: \"lunch\", first: 20) { edges { node { body } } } }",
            json!({}),
        )
        .await;
    sorted_bodies(&page.expect_ok()["postsByHashtag"]["edges"])
}

async fn comment(stack: &Stack, token: &str, post: &str, body: &str) {
    stack
        .graphql(
            Some(token),
            "mutation($p: ID!, $b: String!) { addComment(postId: $p, body: $b) { id } }",
            json!({ "p": post, "b": body }),
        )
        .await
        .expect_ok();
}

#[tokio::test]
async fn blocked_accounts_do_not_see_each_others_posts_or_comments() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let (_, carol) = stack.sign_up("carol").await;
    let anns_post = stack.create_post(&ann, "ann's").await;
    let carols_post = stack.create_post(&carol, "carol's").await;
    comment(&stack, &bob, &anns_post, "bob on ann").await;
    for (token, body) in [
        (&ann, "ann on carol"),
        (&bob, "bob on carol"),
        (&carol, "carol on carol"),
    ] {
        comment(&stack, token, &carols_post, body).await;
    }
    let all = |bodies: &[&str]| Some(bodies.iter().map(|b| b.to_string()).collect::<Vec<_>>());

    let block = |mutation: &'static str| {
        let (stack, ann, bob_id) = (&stack, &ann, &bob_id);
        async move {
            let query = format!("mutation($id: ID!) {{ {mutation}(userId: $id) {{ id }} }}");
            stack
                .graphql(Some(ann), &query, json!({ "id": bob_id }))
                .await
                .expect_ok();
        }
    };
    block("blockUser").await;
    assert_eq!(
        seen(&stack, Some(&bob), &anns_post).await,
        None,
        "bob reaches ann's post by id"
    );
    assert_eq!(
        seen(&stack, Some(&ann), &anns_post).await,
        all(&[]),
        "ann sees her post without bob's comment"
    );
    assert_eq!(
        seen(&stack, Some(&ann), &carols_post).await,
        all(&["ann on carol", "carol on carol"])
    );
    assert_eq!(
        seen(&stack, Some(&bob), &carols_post).await,
        all(&["bob on carol", "carol on carol"])
    );
    let everyone = all(&["ann on carol", "bob on carol", "carol on carol"]);
    assert_eq!(seen(&stack, Some(&carol), &carols_post).await, everyone);
    assert_eq!(seen(&stack, None, &carols_post).await, everyone);
    assert_eq!(seen(&stack, None, &anns_post).await, all(&["bob on ann"]));

    // A hashtag page leaves the other's posts out too.
    for (token, body) in [
        (&ann, "ann #lunch"),
        (&bob, "bob #lunch"),
        (&carol, "carol #lunch"),
    ] {
        stack.create_post(token, body).await;
    }
    assert_eq!(
        tagged(&stack, Some(&ann)).await,
        ["ann #lunch", "carol #lunch"]
    );
    assert_eq!(
        tagged(&stack, Some(&bob)).await,
        ["bob #lunch", "carol #lunch"]
    );
    assert_eq!(
        tagged(&stack, Some(&carol)).await,
        ["ann #lunch", "bob #lunch", "carol #lunch"]
    );

    block("unblockUser").await;
    assert_eq!(
        seen(&stack, Some(&bob), &anns_post).await,
        all(&["bob on ann"])
    );
    assert_eq!(seen(&stack, Some(&ann), &carols_post).await, everyone);
}

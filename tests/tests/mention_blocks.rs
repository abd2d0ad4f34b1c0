//! Mentions across a block (docs/blocks.md): from the moment `blockUser`
//! returns, neither may write a post (or an edit) that mentions the other; the
//! refusal is `FORBIDDEN` naming the account, and nothing is written. Others
//! mention both freely, unknown names are plain text, and unblocking lifts it.

use nova_e2e::Stack;
use serde_json::json;

const CREATE: &str = "mutation($b: String!) { createPost(body: $b) { id mentions } }";
const EDIT: &str = "mutation($id: ID!, $b: String!) { editPost(id: $id, body: $b) { id body } }";

async fn set_block(stack: &Stack, token: &str, mutation: &str, user: &str) {
    let query = format!("mutation($id: ID!) {{ {mutation}(userId: $id) {{ id }} }}");
    stack
        .graphql(Some(token), &query, json!({ "id": user }))
        .await
        .expect_ok();
}

#[tokio::test]
async fn posts_cannot_mention_across_a_block() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let (_, carol) = stack.sign_up("carol").await;
    let bobs_post = stack.create_post(&bob, "plain").await;

    set_block(&stack, &ann, "blockUser", &bob_id).await;
    // Right after blockUser returns: bob cannot mention ann, ann cannot
    // mention bob (any case), nor can an edit add the mention.
    let bob_mentions_ann = stack
        .graphql(Some(&bob), CREATE, json!({ "b": "hi @ann" }))
        .await;
    assert_eq!(
        bob_mentions_ann.error_codes(),
        ["FORBIDDEN"],
        "{:?}",
        bob_mentions_ann.body
    );
    assert_eq!(
        bob_mentions_ann.body["errors"][0]["message"],
        "you cannot mention @ann"
    );
    let ann_mentions_bob = stack
        .graphql(Some(&ann), CREATE, json!({ "b": "hey @Bob" }))
        .await;
    assert_eq!(
        ann_mentions_bob.error_codes(),
        ["FORBIDDEN"],
        "{:?}",
        ann_mentions_bob.body
    );
    let edit = stack
        .graphql(
            Some(&bob),
            EDIT,
            json!({ "id": bobs_post, "b": "now @ann" }),
        )
        .await;
    assert_eq!(edit.error_codes(), ["FORBIDDEN"], "{:?}", edit.body);
    let unchanged = stack
        .graphql(
            Some(&bob),
            "query($p: ID!) { post(id: $p) { body } }",
            json!({ "p": bobs_post }),
        )
        .await;
    assert_eq!(unchanged.expect_ok()["post"]["body"], "plain");

    // Others mention both; a name nobody has is text.
    let carol_mentions = stack
        .graphql(Some(&carol), CREATE, json!({ "b": "@ann and @bob" }))
        .await;
    assert_eq!(
        carol_mentions.expect_ok()["createPost"]["mentions"],
        json!(["ann", "bob"])
    );
    stack
        .graphql(Some(&bob), CREATE, json!({ "b": "hello @nobody" }))
        .await
        .expect_ok();

    // Unblocked, they may again.
    set_block(&stack, &ann, "unblockUser", &bob_id).await;
    stack
        .graphql(Some(&bob), CREATE, json!({ "b": "hi again @ann" }))
        .await
        .expect_ok();
}

//! Relay's global object identification across the supergraph: `node(id:)` and
//! `nodes(ids:)` find any entity by the id clients already hold, and the router
//! resolves its fields from each owner (identity, users, content, social).

use nova_e2e::Stack;
use serde_json::json;

const NODES: &str = "query($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename
    id
    ... on User { username displayName followerCount }
    ... on Post { body author { username } likeCount }
    ... on Comment { body post { id } }
  }
}";

#[tokio::test]
async fn node_and_nodes_find_users_posts_and_comments_by_id() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann, ann_token) = stack.sign_up("ann").await;
    let post = stack.create_post(&ann_token, "refetch me").await;
    let commented = stack
        .graphql(
            Some(&ann_token),
            "mutation($p: ID!) { addComment(postId: $p, body: \"first\") { id } }",
            json!({ "p": post }),
        )
        .await;
    let comment = commented.expect_ok()["addComment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let nobody = uuid::Uuid::new_v4().to_string();

    let found = stack
        .graphql(None, NODES, json!({ "ids": [post, nobody, ann, comment] }))
        .await;
    let nodes = found.expect_ok()["nodes"].clone();
    assert_eq!(
        nodes,
        json!([
            { "__typename": "Post", "id": post, "body": "refetch me",
              "author": { "username": "ann" }, "likeCount": 0 },
            null,
            { "__typename": "User", "id": ann, "username": "ann", "displayName": null,
              "followerCount": 0 },
            { "__typename": "Comment", "id": comment, "body": "first", "post": { "id": post } },
        ])
    );

    // One id: the same object; an id no entity has: null, not an error.
    let one = stack
        .graphql(
            None,
            "query($id: ID!) { node(id: $id) { id ... on User { username } } }",
            json!({ "id": ann }),
        )
        .await;
    assert_eq!(
        one.expect_ok()["node"],
        json!({ "id": ann, "username": "ann" })
    );
    let none = stack
        .graphql(
            None,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": nobody }),
        )
        .await;
    assert!(none.expect_ok()["node"].is_null(), "{:?}", none.body);

    // A deleted post is no node any more.
    stack
        .graphql(
            Some(&ann_token),
            "mutation($id: ID!) { deletePost(id: $id) }",
            json!({ "id": post }),
        )
        .await
        .expect_ok();
    let gone = stack
        .graphql(None, NODES, json!({ "ids": [post, comment] }))
        .await;
    assert_eq!(gone.expect_ok()["nodes"], json!([null, null]));
}

#[tokio::test]
async fn malformed_and_too_many_ids_are_refused() {
    let stack = Stack::start().await.expect("stack starts");
    let malformed = stack
        .graphql(None, "{ node(id: \"User:1\") { id } }", json!({}))
        .await;
    assert_eq!(
        malformed.error_codes(),
        ["BAD_USER_INPUT"],
        "{:?}",
        malformed.body
    );
    assert!(malformed.data()["node"].is_null());

    let ids: Vec<String> = (0..101).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let too_many = stack
        .graphql(
            None,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(
        too_many.error_codes(),
        ["BAD_USER_INPUT"],
        "{:?}",
        too_many.body
    );
}

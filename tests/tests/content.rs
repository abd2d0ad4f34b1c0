//! Posts and comments through the router: every mutation, who may do what, the
//! validation errors, and pagination that stays stable under concurrent inserts.

use nova_e2e::{Response, Stack};
use serde_json::{json, Value};

const CREATE_POST: &str = "mutation($body: String!) {
  createPost(body: $body) { id body hashtags mentions editedAt author { id username } }
}";
const EDIT_POST: &str = "mutation($id: ID!, $body: String!) {
  editPost(id: $id, body: $body) { id body hashtags editedAt }
}";
const DELETE_POST: &str = "mutation($id: ID!) { deletePost(id: $id) }";
const ADD_COMMENT: &str = "mutation($postId: ID!, $body: String!) {
  addComment(postId: $postId, body: $body) { id body author { username } post { id } }
}";
const DELETE_COMMENT: &str = "mutation($id: ID!) { deleteComment(id: $id) }";
const BY_TAG: &str = "query($tag: String!) { postsByHashtag(tag: $tag) { edges { node { id } } } }";

fn codes(response: &Response) -> Vec<String> {
    response.error_codes()
}

fn ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn posts_and_comments_with_their_rules() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (_, bob) = stack.sign_up("bob").await;

    // Create: tags and mentions parsed, the author resolved from identity.
    let created = stack
        .graphql(
            Some(&ann),
            CREATE_POST,
            json!({ "body": "Hello @Bob, meet #Rust and #rust!" }),
        )
        .await;
    let post = created.expect_ok()["createPost"].clone();
    let post_id = post["id"].as_str().unwrap().to_string();
    assert_eq!(post["hashtags"], json!(["rust"]));
    assert_eq!(post["mentions"], json!(["bob"]));
    assert_eq!(post["author"]["id"], ann_id.as_str());
    assert_eq!(post["author"]["username"], "ann");
    assert_eq!(post["editedAt"], Value::Null);

    // Create: refused input and callers.
    let anonymous = stack
        .graphql(None, CREATE_POST, json!({ "body": "hi" }))
        .await;
    assert!(
        codes(&anonymous).contains(&"UNAUTHENTICATED".into()),
        "{:#}",
        anonymous.body
    );
    for body in ["   ".to_string(), "x".repeat(2001)] {
        let refused = stack
            .graphql(Some(&ann), CREATE_POST, json!({ "body": body }))
            .await;
        assert_eq!(codes(&refused), vec!["BAD_USER_INPUT"]);
        assert_eq!(refused.body["errors"][0]["extensions"]["field"], "body");
    }

    // Edit: only the author; tags follow the new body.
    let by_bob = stack
        .graphql(
            Some(&bob),
            EDIT_POST,
            json!({ "id": post_id, "body": "mine now" }),
        )
        .await;
    assert_eq!(codes(&by_bob), vec!["FORBIDDEN"]);
    let edited = stack
        .graphql(
            Some(&ann),
            EDIT_POST,
            json!({ "id": post_id, "body": "Now about #GraphQL" }),
        )
        .await;
    let edited = edited.expect_ok()["editPost"].clone();
    assert_eq!(edited["hashtags"], json!(["graphql"]));
    assert!(edited["editedAt"].is_string());
    let rust = stack.graphql(None, BY_TAG, json!({ "tag": "rust" })).await;
    assert!(ids(&rust.expect_ok()["postsByHashtag"]).is_empty());
    let graphql = stack
        .graphql(None, BY_TAG, json!({ "tag": "#GraphQL" }))
        .await;
    assert_eq!(
        ids(&graphql.expect_ok()["postsByHashtag"]),
        vec![post_id.clone()]
    );
    let missing = stack
        .graphql(
            Some(&ann),
            EDIT_POST,
            json!({ "id": "01900000-0000-7000-8000-000000000000", "body": "x" }),
        )
        .await;
    assert_eq!(codes(&missing), vec!["NOT_FOUND"]);
    let malformed = stack
        .graphql(Some(&ann), EDIT_POST, json!({ "id": "nope", "body": "x" }))
        .await;
    assert_eq!(codes(&malformed), vec!["BAD_USER_INPUT"]);

    // Comments: add, refuse, delete by the comment's author only.
    let comment = stack
        .graphql(
            Some(&bob),
            ADD_COMMENT,
            json!({ "postId": post_id, "body": "Nice" }),
        )
        .await;
    let comment = comment.expect_ok()["addComment"].clone();
    assert_eq!(comment["author"]["username"], "bob");
    assert_eq!(comment["post"]["id"], post_id.as_str());
    let comment_id = comment["id"].as_str().unwrap().to_string();
    let to_nothing = stack
        .graphql(
            Some(&bob),
            ADD_COMMENT,
            json!({ "postId": "01900000-0000-7000-8000-000000000000", "body": "hello?" }),
        )
        .await;
    assert_eq!(codes(&to_nothing), vec!["NOT_FOUND"]);
    let too_long = stack
        .graphql(
            Some(&bob),
            ADD_COMMENT,
            json!({ "postId": post_id, "body": "x".repeat(1001) }),
        )
        .await;
    assert_eq!(codes(&too_long), vec!["BAD_USER_INPUT"]);
    let by_ann = stack
        .graphql(Some(&ann), DELETE_COMMENT, json!({ "id": comment_id }))
        .await;
    assert_eq!(codes(&by_ann), vec!["FORBIDDEN"]);
    let deleted = stack
        .graphql(Some(&bob), DELETE_COMMENT, json!({ "id": comment_id }))
        .await;
    assert_eq!(deleted.expect_ok()["deleteComment"], comment_id.as_str());

    // Delete a post: only the author; gone for everyone, comments included.
    stack
        .graphql(
            Some(&bob),
            ADD_COMMENT,
            json!({ "postId": post_id, "body": "Still here" }),
        )
        .await
        .expect_ok();
    let by_bob = stack
        .graphql(Some(&bob), DELETE_POST, json!({ "id": post_id }))
        .await;
    assert_eq!(codes(&by_bob), vec!["FORBIDDEN"]);
    let deleted = stack
        .graphql(Some(&ann), DELETE_POST, json!({ "id": post_id }))
        .await;
    assert_eq!(deleted.expect_ok()["deletePost"], post_id.as_str());
    let gone = stack
        .graphql(
            None,
            "query($id: ID!) { post(id: $id) { id } }",
            json!({ "id": post_id }),
        )
        .await;
    assert_eq!(gone.expect_ok()["post"], Value::Null);
    let again = stack
        .graphql(Some(&ann), DELETE_POST, json!({ "id": post_id }))
        .await;
    assert_eq!(codes(&again), vec!["NOT_FOUND"]);
    let comment_after = stack
        .graphql(
            Some(&bob),
            ADD_COMMENT,
            json!({ "postId": post_id, "body": "?" }),
        )
        .await;
    assert_eq!(codes(&comment_after), vec!["NOT_FOUND"]);
}

#[tokio::test]
async fn pages_are_stable_under_concurrent_inserts_and_bounded() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let mut created = Vec::new();
    for i in 0..5 {
        let post = stack
            .graphql(
                Some(&ann),
                CREATE_POST,
                json!({ "body": format!("post {i}") }),
            )
            .await;
        created.push(
            post.expect_ok()["createPost"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let page_query = "query($id: ID!, $first: Int, $after: String) {
      user(id: $id) { posts(first: $first, after: $after) {
        edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }
    }";

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = stack
            .graphql(
                None,
                page_query,
                json!({ "id": ann_id, "first": 2, "after": after }),
            )
            .await;
        let posts = page.expect_ok()["user"]["posts"].clone();
        seen.extend(ids(&posts));
        // A new post arrives while the client pages: it must not shift the pages.
        stack
            .graphql(
                Some(&ann),
                CREATE_POST,
                json!({ "body": "arrived meanwhile" }),
            )
            .await
            .expect_ok();
        if posts["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = posts["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first, "each original post once, newest first");

    for (first, after) in [
        (json!(101), Value::Null),
        (json!(0), Value::Null),
        (json!(2), json!("bm90LWEtY3Vyc29y")),
    ] {
        let refused = stack
            .graphql(
                None,
                page_query,
                json!({ "id": ann_id, "first": first, "after": after }),
            )
            .await;
        assert_eq!(
            codes(&refused),
            vec!["BAD_USER_INPUT"],
            "{:#}",
            refused.body
        );
    }
}

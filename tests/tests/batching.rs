//! Entity references are resolved through DataLoaders: a batch of N `_entities`
//! representations costs one SQL statement, whatever N is.

use nova_e2e::{Response, Stack};
use serde_json::json;

async fn entities(stack: &Stack, base_url: &str, ids: &[String], selection: &str) -> Response {
    let representations: Vec<_> = ids
        .iter()
        .map(|id| json!({ "__typename": "User", "id": id }))
        .collect();
    let body = json!({
        "query": format!("query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on User {{ {selection} }} }} }}"),
        "variables": { "r": representations },
    });
    let response = stack
        .http
        .post(format!("{base_url}/graphql"))
        .header("x-nova-router-secret", &stack.router_secret)
        .json(&body)
        .send()
        .await
        .unwrap();
    Response::from(response).await
}

#[tokio::test]
async fn an_entities_batch_is_one_sql_statement_per_subgraph() {
    let stack = Stack::start().await.expect("stack starts");
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(stack.register(&format!("user{i}")).await);
    }

    for n in [1usize, 25] {
        // Known ids plus unknown ones: still one statement.
        let mut batch: Vec<String> = ids.iter().cycle().take(n.min(3)).cloned().collect();
        while batch.len() < n {
            batch.push(uuid::Uuid::now_v7().to_string());
        }

        let before = stack.sql_statements("users").await;
        let response = entities(
            &stack,
            stack.subgraph_url("users"),
            &batch,
            "id displayName bio",
        )
        .await;
        let data = response.expect_ok();
        assert_eq!(data["_entities"].as_array().unwrap().len(), n);
        assert_eq!(data["_entities"][0]["bio"], "");
        assert_eq!(
            stack.sql_statements("users").await - before,
            1,
            "users, n = {n}"
        );

        let before = stack.sql_statements("identity").await;
        let response = entities(
            &stack,
            stack.subgraph_url("identity"),
            &batch,
            "id username",
        )
        .await;
        let data = response.expect_ok();
        assert_eq!(data["_entities"][0]["username"], "user0");
        if n > 3 {
            assert!(
                data["_entities"][n - 1].is_null(),
                "an unknown id resolves to null"
            );
        }
        assert_eq!(
            stack.sql_statements("identity").await - before,
            1,
            "identity, n = {n}"
        );
    }
}

/// A post page as a client ships it: posts with author profile, like count, viewer
/// state and three comments each with their authors.
const POST_PAGE: &str = "query($id: ID!, $n: Int!) {
  user(id: $id) {
    posts(first: $n) {
      edges { node {
        id body
        author { username displayName }
        likeCount viewerHasLiked
        comments(first: 3) { edges { node { body author { username displayName } } } }
      } }
    }
  }
}";

#[tokio::test]
async fn a_page_costs_the_same_sql_statements_for_5_or_20_posts() {
    let stack = Stack::start().await.expect("stack starts");
    let (author_id, author) = stack.sign_up("author").await;
    let mut readers = Vec::new();
    for name in ["reader1", "reader2", "reader3"] {
        let (_, token) = stack.sign_up(name).await;
        stack
            .graphql(
                Some(&token),
                "mutation($n: String!) { updateProfile(input: { displayName: $n }) { id } }",
                json!({ "n": format!("Reader {name}") }),
            )
            .await
            .expect_ok();
        readers.push(token);
    }
    for i in 0..20 {
        let post = stack
            .graphql(
                Some(&author),
                "mutation($b: String!) { createPost(body: $b) { id } }",
                json!({ "b": format!("post {i}") }),
            )
            .await;
        let post_id = post.expect_ok()["createPost"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        for reader in &readers {
            stack
                .graphql(
                    Some(reader),
                    "mutation($p: ID!) { addComment(postId: $p, body: \"hi\") { id } likePost(postId: $p) { id } }",
                    json!({ "p": post_id }),
                )
                .await
                .expect_ok();
        }
    }

    // The writes above sent 80 content events (20 posts, 60 comments) that
    // social's and search's consumers read, and 60 likes more that the feed's
    // reads; let that settle first, so the measured page does not share the CPU with them (a
    // DataLoader batch can split when its resolvers are slow to run, and the
    // counts would measure the machine's load).
    let social_seen =
        "nova_events_consumed_total{consumer=\"social.post-cleanup\",outcome=\"ignored\"}";
    let feed_applied =
        "nova_events_consumed_total{consumer=\"feed.timelines\",outcome=\"applied\"}";
    let feed_ignored =
        "nova_events_consumed_total{consumer=\"feed.timelines\",outcome=\"ignored\"}";
    let search_applied =
        "nova_events_consumed_total{consumer=\"search.index.main\",outcome=\"applied\"}";
    let search_ignored =
        "nova_events_consumed_total{consumer=\"search.index.main\",outcome=\"ignored\"}";
    nova_e2e::eventually(
        60,
        "social, feed and search reading the events",
        &stack,
        || async {
            let feed_seen =
                stack.metric("feed", feed_applied).await + stack.metric("feed", feed_ignored).await;
            let search_seen = stack.metric("search", search_applied).await
                + stack.metric("search", search_ignored).await;
            stack.metric("social", social_seen).await >= 80.0
                && feed_seen >= 140.0
                && search_seen >= 80.0
        },
    )
    .await;

    let viewer = &readers[0];
    let mut statements_by_size = Vec::new();
    // The fewest of three runs per size. Batches start when the request is idle
    // (`nova_core::batching`), so a busy machine no longer splits them; this keeps
    // the check about page size rather than about what else the machine is doing.
    for n in [20, 5] {
        let mut fewest: Vec<(&str, u64)> = nova_e2e::subgraphs()
            .iter()
            .map(|s| (s.as_str(), u64::MAX))
            .collect();
        for _ in 0..3 {
            let mut before = Vec::new();
            for subgraph in nova_e2e::subgraphs() {
                before.push(stack.sql_statements(subgraph).await);
            }
            let page = stack
                .graphql(Some(viewer), POST_PAGE, json!({ "id": author_id, "n": n }))
                .await;
            let edges = page.expect_ok()["user"]["posts"]["edges"]
                .as_array()
                .unwrap()
                .clone();
            assert_eq!(edges.len(), n);
            let first = &edges[0]["node"];
            assert_eq!(first["author"]["username"], "author");
            assert_eq!(first["likeCount"], 3);
            assert_eq!(first["viewerHasLiked"], true);
            let comments = first["comments"]["edges"].as_array().unwrap();
            assert_eq!(comments.len(), 3);
            assert!(comments[0]["node"]["author"]["displayName"]
                .as_str()
                .unwrap()
                .starts_with("Reader"));
            for ((subgraph, least), before) in fewest.iter_mut().zip(before) {
                *least = (*least).min(stack.sql_statements(subgraph).await - before);
            }
        }
        eprintln!("SQL statements for a page of {n} posts (fewest of 3): {fewest:?}");
        statements_by_size.push(fewest);
    }
    assert_eq!(
        statements_by_size[0], statements_by_size[1],
        "statements per subgraph must not depend on the page size"
    );
    // And they are few: a handful per subgraph, not one per post.
    for (subgraph, count) in &statements_by_size[0] {
        assert!(*count <= 4, "{subgraph} ran {count} statements");
    }
}

/// A chat page counts each statement once: reading a conversation's messages is
/// the membership check, its members and the page, whatever the page's size; sending a
/// message is counted as the statements its transaction sends.
#[tokio::test]
async fn a_chat_page_costs_an_exact_number_of_sql_statements() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, ada) = stack.sign_up("ada").await;
    let (bob_id, _) = stack.sign_up("bob").await;
    let started = stack
        .graphql(
            Some(&ada),
            "mutation($u: ID!) { startDirectConversation(userId: $u) { id } }",
            json!({ "u": bob_id }),
        )
        .await;
    let conversation = started.expect_ok()["startDirectConversation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..25 {
        stack
            .graphql(
                Some(&ada),
                "mutation($c: ID!, $b: String!, $k: String!) { \
                 sendMessage(conversationId: $c, body: $b, clientMessageId: $k) { id } }",
                json!({ "c": conversation, "b": format!("message {i}"), "k": format!("k-{i}") }),
            )
            .await
            .expect_ok();
    }
    for n in [5, 20] {
        let before = stack.sql_statements("chat").await;
        let page = stack
            .graphql(
                Some(&ada),
                "query($c: ID!, $n: Int) { conversation(id: $c) { \
                 messages(first: $n) { edges { node { id body sender { id username } } } } } }",
                json!({ "c": conversation, "n": n }),
            )
            .await;
        let edges = page.expect_ok()["conversation"]["messages"]["edges"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(edges, n);
        assert_eq!(
            stack.sql_statements("chat").await - before,
            3,
            "chat statements for a page of {n}: the membership check, the members \
             (whose blocks with the reader hide their messages) and the page"
        );
    }
}

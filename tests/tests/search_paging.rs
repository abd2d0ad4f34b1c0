//! Paging through search results: search checks blocks and deleted posts only
//! as far as a page needs, so pages taken a few at a time must list exactly
//! what one big page lists — nothing twice, nothing skipped, nothing hidden.

use nova_e2e::{eventually, Stack};
use serde_json::json;

const PAGE: &str = "query($q: String!, $n: Int, $after: String) {
  search(query: $q, first: $n, after: $after) {
    edges { node {
      __typename
      ... on PostResult { post { id } }
      ... on Hashtag { name postCount }
    } }
    pageInfo { hasNextPage endCursor }
  } }";

/// One page: an id per hit (a post id, or `#name` for a hashtag), and the
/// cursor of the next page when there is one.
async fn page(
    stack: &Stack,
    token: &str,
    first: i64,
    after: Option<String>,
) -> (Vec<String>, Option<String>) {
    let response = stack
        .graphql(
            Some(token),
            PAGE,
            json!({ "q": "zephyrine", "n": first, "after": after }),
        )
        .await;
    let search = &response.expect_ok()["search"];
    let ids = search["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let node = &e["node"];
            match node["post"]["id"].as_str() {
                Some(id) => id.to_string(),
                None => format!("#{}", node["name"].as_str().unwrap()),
            }
        })
        .collect();
    let next = search["pageInfo"]["hasNextPage"]
        .as_bool()
        .unwrap()
        .then(|| {
            search["pageInfo"]["endCursor"]
                .as_str()
                .unwrap()
                .to_string()
        });
    (ids, next)
}

#[tokio::test]
async fn pages_list_every_visible_hit_once() {
    let stack = Stack::start().await.expect("stack starts");
    let (reader_id, reader) = stack.sign_up("reader").await;
    let (_, pager) = stack.sign_up("pager").await;
    let (_, blocker) = stack.sign_up("blocker").await;

    let mut live = Vec::new();
    let mut deleted = Vec::new();
    for i in 0..12 {
        let tag = if i % 4 == 0 { " #zephyrine" } else { "" };
        let id = stack
            .create_post(&pager, &format!("zephyrine number {i}{tag}"))
            .await;
        if i % 5 == 2 {
            deleted.push(id);
        } else {
            live.push(id);
        }
    }
    // The blocker's posts are the shortest, so they rank first: the first
    // candidates checked are all hidden and search has to look further.
    for _ in 0..12 {
        stack.create_post(&blocker, "zephyrine").await;
    }
    stack
        .graphql(
            Some(&blocker),
            "mutation($u: ID!) { blockUser(userId: $u) { id } }",
            json!({ "u": reader_id }),
        )
        .await
        .expect_ok();
    for id in &deleted {
        stack
            .graphql(
                Some(&pager),
                "mutation($id: ID!) { deletePost(id: $id) }",
                json!({ "id": id }),
            )
            .await
            .expect_ok();
    }
    // Every post indexed: the pager, whom nobody blocked, sees the tag, the
    // live posts and the blocker's.
    eventually(30, "every post reaching search", &stack, || async {
        let (ids, next) = page(&stack, &pager, 50, None).await;
        next.is_none() && ids.len() == 1 + live.len() + 12
    })
    .await;
    // The block holds at once (search asks social): the blocker's posts and
    // the deleted ones leave one page holding the live posts and the tag.
    let (whole, next) = page(&stack, &reader, 50, None).await;
    assert_eq!(next, None, "one page of 50 holds every hit");
    let mut expected: Vec<String> = live.clone();
    expected.push("#zephyrine".into());
    expected.sort();
    let mut found = whole.clone();
    found.sort();
    assert_eq!(found, expected, "the reader's hits");

    // Three at a time, through every page.
    let mut paged = Vec::new();
    let mut after = None;
    for _ in 0..20 {
        let (ids, next) = page(&stack, &reader, 3, after).await;
        assert!(ids.len() <= 3, "a page longer than asked: {ids:?}");
        paged.extend(ids);
        after = next;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(after, None, "paging never ended");
    assert_eq!(paged, whole, "pages of 3 differ from one page");
}

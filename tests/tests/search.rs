//! Search through the router, as people type: typos, transpositions, prefixes,
//! accents, highlights, hashtags, blocks both ways, deleted posts, bad input;
//! and as operators run it: a reindex under queries, a corrupt index at start,
//! a crash before an index write, two instances with their own indexes.

use std::time::Duration;

use nova_e2e::{eventually, Stack};
use serde_json::{json, Value};

const SEARCH: &str = "query($q: String!, $types: [SearchType!], $n: Int) {
  search(query: $q, types: $types, first: $n) { edges { node {
    __typename
    ... on UserResult { highlight user { id username displayName } }
    ... on PostResult { highlight post { id body author { username } } }
    ... on Hashtag { name postCount }
  } } } }";
const DELETE_POST: &str = "mutation($id: ID!) { deletePost(id: $id) }";
const PROFILE: &str =
    "mutation($name: String!) { updateProfile(input: { displayName: $name }) { id } }";
const BLOCK: &str = "mutation($u: ID!) { blockUser(userId: $u) { id } }";

async fn search_with(
    stack: &Stack,
    router: &str,
    token: Option<&str>,
    q: &str,
    types: Value,
) -> Vec<Value> {
    let mut request = stack
        .http
        .post(router)
        .json(&json!({ "query": SEARCH, "variables": { "q": q, "types": types, "n": 50 } }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let body: Value = request.send().await.unwrap().json().await.unwrap();
    assert!(body.get("errors").is_none(), "search {q:?}: {body:#}");
    body["data"]["search"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

async fn search(stack: &Stack, token: Option<&str>, q: &str) -> Vec<Value> {
    search_with(stack, &stack.router_url, token, q, Value::Null).await
}

fn usernames(hits: &[Value]) -> Vec<String> {
    hits.iter()
        .filter_map(|h| h["user"]["username"].as_str().map(str::to_string))
        .collect()
}

fn post_ids(hits: &[Value]) -> Vec<String> {
    hits.iter()
        .filter_map(|h| h["post"]["id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn people_and_posts_are_found_the_way_people_type() {
    let stack = Stack::start().await.expect("stack starts");
    let (gregory_id, gregory) = stack.sign_up("gregory").await;
    let (_, bob) = stack.sign_up("bob").await;
    stack
        .graphql(
            Some(&gregory),
            PROFILE,
            json!({ "name": "Grégory Hâlvorsen" }),
        )
        .await
        .expect_ok();
    let cafe = stack.create_post(&gregory, "Café in Zürich #Travel").await;
    let bobs = stack.create_post(&bob, "bob likes #travel too").await;
    eventually(30, "the profile and posts indexed", &stack, || async {
        let hits = search(&stack, None, "halvorsen").await;
        !hits.is_empty() && post_ids(&search(&stack, None, "zurich").await) == [cafe.clone()]
    })
    .await;

    // The exact username first; one typo, a transposition, a prefix all find him.
    for (typed, why) in [
        ("gregory", "exact"),
        ("gregroy", "transposition"),
        ("gregary", "one typo"),
        ("greg", "prefix"),
    ] {
        let hits = search(&stack, None, typed).await;
        assert_eq!(
            usernames(&hits).first().map(String::as_str),
            Some("gregory"),
            "{why}: {hits:#?}"
        );
    }
    // Four letters allow no typo.
    assert!(usernames(&search(&stack, None, "gxeg").await).is_empty());
    // Accents fold both ways, and highlights mark what matched, misspelled too.
    let hits = search(&stack, None, "Halvorsen").await;
    assert_eq!(
        hits[0]["highlight"], "Grégory <em>Hâlvorsen</em>",
        "{hits:#?}"
    );
    let hits = search(&stack, None, "cafe zurihc").await;
    assert_eq!(post_ids(&hits), std::slice::from_ref(&cafe));
    assert_eq!(
        hits[0]["highlight"],
        "<em>Café</em> in <em>Zürich</em> #Travel"
    );
    assert_eq!(hits[0]["post"]["author"]["username"], "gregory");

    // Hashtags: as results, their page, trending.
    let travel = [json!({ "__typename": "Hashtag", "name": "travel", "postCount": 2 })];
    for typed in ["trav", "travle", "#Travel"] {
        let tags = search_with(&stack, &stack.router_url, None, typed, json!(["HASHTAG"])).await;
        assert_eq!(tags, travel, "hashtags for {typed:?}");
    }
    let tag = stack
        .graphql(None, "{ hashtag(name: \"#Travel\") { postCount posts(first: 5) { edges { node { id body } } } } }", json!({}))
        .await;
    let tag = &tag.expect_ok()["hashtag"];
    assert_eq!(tag["postCount"], 2);
    assert_eq!(
        tag["posts"]["edges"][0]["node"]["id"],
        bobs.as_str(),
        "newest first"
    );
    let trending = stack
        .graphql(
            None,
            "{ trendingHashtags(window: DAY) { name postCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        trending.expect_ok()["trendingHashtags"][0],
        json!({ "name": "travel", "postCount": 2 })
    );

    // An edit is searchable by its new words.
    stack
        .graphql(
            Some(&gregory),
            "mutation($id: ID!, $b: String!) { editPost(id: $id, body: $b) { id } }",
            json!({ "id": cafe, "b": "Café in Zürich with fondue #Travel" }),
        )
        .await
        .expect_ok();
    eventually(30, "the edit indexed", &stack, || async {
        post_ids(&search(&stack, None, "fondue").await) == [cafe.clone()]
    })
    .await;

    // Bad input is plain text or a clear error, never a failure.
    for odd in ["", "   ", "\"café*\" AND (zurich:", "*", &"x".repeat(1000)] {
        search(&stack, None, odd).await;
    }
    let too_long = stack
        .graphql(None, SEARCH, json!({ "q": "x".repeat(1001) }))
        .await;
    assert_eq!(too_long.error_codes(), ["BAD_USER_INPUT"]);
    let too_many = stack
        .graphql(None, SEARCH, json!({ "q": "gregory", "n": 101 }))
        .await;
    assert_eq!(too_many.error_codes(), ["BAD_USER_INPUT"]);

    // Blocks hide both ways: people and their posts.
    assert!(usernames(&search(&stack, Some(&gregory), "bob").await).contains(&"bob".to_string()));
    stack
        .graphql(Some(&bob), BLOCK, json!({ "u": gregory_id }))
        .await
        .expect_ok();
    // At once: search asks social, the owner of blocks.
    assert!(
        search(&stack, Some(&gregory), "bob").await.is_empty(),
        "the blocked user still finds the blocker"
    );
    assert!(
        search(&stack, Some(&bob), "gregory").await.is_empty(),
        "the blocker still finds him"
    );
    assert!(post_ids(&search(&stack, Some(&gregory), "travel").await) == [cafe.clone()]);
    assert_eq!(
        usernames(&search(&stack, None, "bob").await),
        ["bob"],
        "anonymous viewers are not filtered"
    );

    // A deleted post is gone at once (the owner is asked) and leaves the index.
    stack
        .graphql(Some(&gregory), DELETE_POST, json!({ "id": cafe }))
        .await
        .expect_ok();
    assert!(post_ids(&search(&stack, None, "zurich").await).is_empty());
    eventually(30, "the deletion reaching search", &stack, || async {
        let mut search_db = stack.connect("search").await.unwrap();
        sqlx::query_scalar::<_, bool>("SELECT deleted FROM posts WHERE post_id = $1::uuid")
            .bind(&cafe)
            .fetch_one(&mut search_db)
            .await
            .unwrap()
    })
    .await;
}

/// POST search's reindex route as `cargo xtask search reindex` does.
async fn reindex(stack: &Stack) -> Value {
    let url = format!("{}/internal/reindex", stack.subgraph_url("search"));
    let response = stack
        .http
        .post(url)
        .header("x-nova-router-secret", &stack.router_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn reindex_under_queries_corrupt_index_crash_and_two_instances() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    let mut posts = Vec::new();
    for i in 0..30 {
        posts.push(
            stack
                .create_post(&ann, &format!("reindex probe number {i}"))
                .await,
        );
    }
    posts.sort();
    let all_found = |hits: Vec<Value>| {
        let mut ids = post_ids(&hits);
        ids.sort();
        ids
    };
    eventually(30, "30 posts indexed", &stack, || async {
        all_found(search(&stack, None, "probe").await) == posts
    })
    .await;

    // Without the secret the route is closed.
    let refused = stack
        .http
        .post(format!("{}/internal/reindex", stack.subgraph_url("search")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // Reindex while queries run: every query answers, with every post.
    let queries = async {
        let mut answered = 0;
        for _ in 0..40 {
            assert_eq!(
                all_found(search(&stack, None, "probe").await),
                posts,
                "a query during the reindex"
            );
            answered += 1;
        }
        answered
    };
    let (answered, reindexed) = tokio::join!(queries, reindex(&stack));
    assert_eq!(answered, 40);
    assert_eq!(reindexed["documents"], 31, "30 posts and ann");

    // A corrupt index at start is rebuilt before search is ready.
    stack.terminate("search");
    let root = stack.state_dir().join("search-index");
    let current = std::fs::read_to_string(root.join("current")).unwrap();
    std::fs::write(root.join(current.trim()).join("meta.json"), "not an index").unwrap();
    stack.restart_subgraph("search", &[]).await.unwrap();
    assert_eq!(
        all_found(search(&stack, None, "probe").await),
        posts,
        "after the rebuild"
    );

    // A second instance keeps its own index and consumer group, and agrees.
    let second_index = stack
        .state_dir()
        .join("search-index-2")
        .display()
        .to_string();
    let second = stack
        .start_subgraph_instance_with(
            "search",
            "search-2",
            &[
                ("SEARCH_INSTANCE", "second"),
                ("SEARCH_INDEX_PATH", &second_index),
            ],
        )
        .await
        .unwrap();
    let second_router = stack
        .start_router_replica(
            "router-search-2",
            &[("NOVA_SEARCH_URL", &format!("{second}/graphql"))],
        )
        .await
        .unwrap();
    let late = stack.create_post(&ann, "a late probe for both").await;
    for router in [stack.router_url.clone(), second_router] {
        eventually(30, "the late post in each instance", &stack, || async {
            post_ids(&search_with(&stack, &router, None, "late probe", Value::Null).await)
                == [late.clone()]
        })
        .await;
    }

    // Last, as no consumer is needed after it: a crash after the event was
    // applied but before the index write. The queued document is written after
    // the restart from the queue (a redelivery, if the offset had not been
    // committed yet, is a duplicate that changes nothing).
    stack
        .restart_subgraph("search", &[("NOVA_FAULT_EXIT_BEFORE_INDEX_WRITE", "1")])
        .await
        .unwrap();
    let crashed = stack
        .create_post(&ann, "written while search crashed")
        .await;
    let exit = stack.wait_for_exit("search", Duration::from_secs(90)).await;
    assert_eq!(exit, Some(88), "{}", stack.logs());
    stack.restart_subgraph("search", &[]).await.unwrap();
    eventually(
        30,
        "the post queued before the crash indexed",
        &stack,
        || async { post_ids(&search(&stack, None, "crashed").await) == [crashed.clone()] },
    )
    .await;
}

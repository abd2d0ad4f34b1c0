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
        let registered = stack
            .graphql(
                None,
                "mutation($e: String!, $u: String!) { register(email: $e, username: $u, password: \"long enough password\") { id } }",
                json!({ "e": format!("u{i}@example.com"), "u": format!("user{i}") }),
            )
            .await;
        ids.push(
            registered.expect_ok()["register"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    for n in [1usize, 25] {
        // Known ids plus unknown ones: still one statement.
        let mut batch: Vec<String> = ids.iter().cycle().take(n.min(3)).cloned().collect();
        while batch.len() < n {
            batch.push(uuid::Uuid::now_v7().to_string());
        }

        let before = stack.sql_statements("users").await;
        let response = entities(&stack, &stack.users_url, &batch, "id displayName bio").await;
        let data = response.expect_ok();
        assert_eq!(data["_entities"].as_array().unwrap().len(), n);
        assert_eq!(data["_entities"][0]["bio"], "");
        assert_eq!(
            stack.sql_statements("users").await - before,
            1,
            "users, n = {n}"
        );

        let before = stack.sql_statements("identity").await;
        let response = entities(&stack, &stack.identity_url, &batch, "id username").await;
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

//! GraphQL over HTTP as clients and tools expect it from the router: statuses,
//! codes from the common set, messages in GraphQL's terms.

use nova_e2e::{Response, Stack};
use serde_json::{json, Value};

async fn post_json(stack: &Stack, body: Value) -> Response {
    let response = stack
        .http
        .post(&stack.router_url)
        .header("accept", "application/graphql-response+json")
        .json(&body)
        .send()
        .await
        .expect("the router answers");
    Response::from(response).await
}

#[tokio::test]
async fn the_router_answers_in_graphql_over_http_terms() {
    let stack = Stack::start().await.expect("stack starts");

    // Several operations and no operationName: which one? (Hive ran the first.)
    let ambiguous = "query A { __typename } query B { __typename }";
    let refused = post_json(&stack, json!({ "query": ambiguous })).await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(refused.error_codes(), ["OPERATION_RESOLUTION_FAILURE"]);
    let named = post_json(&stack, json!({ "query": ambiguous, "operationName": "B" })).await;
    assert_eq!(named.expect_ok()["__typename"], "Query");

    // A POST without a content type is told what to send, not called a CSRF attempt.
    let bare = stack
        .http
        .post(&stack.router_url)
        .body(json!({ "query": "{ __typename }" }).to_string())
        .send()
        .await
        .expect("the router answers");
    let bare = Response::from(bare).await;
    assert_eq!(bare.status, 415, "{:?}", bare.body);
    assert_eq!(bare.error_codes(), ["UNSUPPORTED_CONTENT_TYPE"]);
    let message = bare.body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("Content-Type: application/json"),
        "{message}"
    );

    // A path the router does not serve is 404, not a landing page.
    let base = stack.router_url.trim_end_matches("/graphql");
    let (status, body) = stack.get(&format!("{base}/no-such-path")).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = stack.get(&format!("{base}/health/nova")).await;
    assert_eq!(status, 200);

    // A subscription POSTed by a client that accepts only one response is told
    // how to subscribe.
    let subscription = post_json(
        &stack,
        json!({ "query": "subscription { notificationAdded { id } }" }),
    )
    .await;
    assert_eq!(subscription.status, 406, "{}", subscription.body);
    assert_eq!(subscription.error_codes(), ["SUBSCRIPTIONS_NOT_SUPPORTED"]);
    let message = subscription.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("text/event-stream"), "{message}");

    // A validation error carries the common code, its rule beside it.
    let invalid = post_json(&stack, json!({ "query": "{ noSuchField }" })).await;
    assert_eq!(invalid.status, 400, "{:?}", invalid.body);
    assert_eq!(invalid.error_codes(), ["GRAPHQL_VALIDATION_FAILED"]);
    assert_eq!(
        invalid.body["errors"][0]["extensions"]["rule"],
        "FieldsOnCorrectType"
    );

    // A variable of the wrong type is described in GraphQL's terms.
    let wrong_type = post_json(
        &stack,
        json!({
            "query": "query($u: String!) { userByUsername(username: $u) { id } }",
            "variables": { "u": 5 }
        }),
    )
    .await;
    assert_eq!(wrong_type.status, 400, "{:?}", wrong_type.body);
    assert_eq!(wrong_type.error_codes(), ["BAD_USER_INPUT"]);
    assert_eq!(
        wrong_type.body["errors"][0]["message"],
        "String cannot represent a non string value; a number was given."
    );

    // An error raised in another subgraph's entity field points into the client's
    // response, not into the router's internal `_entities` request.
    stack.register("ann").await;
    let entity_error = post_json(
        &stack,
        json!({ "query": "{ userByUsername(username: \"ann\") { username followers(first: 100000) { edges { cursor } } } }" }),
    )
    .await;
    assert_eq!(
        entity_error.error_codes(),
        ["BAD_USER_INPUT"],
        "{}",
        entity_error.body
    );
    let error = &entity_error.body["errors"][0];
    assert_eq!(
        error["path"],
        json!(["userByUsername", "followers"]),
        "{error}"
    );
    assert!(error.get("locations").is_none(), "{error}");
    assert_eq!(error["extensions"]["field"], "first");
}

//! A deleted account's access token, still valid by its expiry, is refused on
//! every door from the moment `deleteAccount` returns: HTTP, a new
//! subscription on a WebSocket opened before, SSE; its open stream ends; its
//! refresh token and its password sign nobody in (docs/deletion.md).

use nova_e2e::live::LiveClient;
use nova_e2e::realtime::{error_codes_of, sse, wait_for_subscribers, NOTIFICATION_ADDED};
use nova_e2e::{Stack, TEST_PASSWORD};
use serde_json::{json, Value};
use std::time::Duration;

fn deleted_error(body: &Value) {
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "UNAUTHENTICATED", "{body}");
    assert_eq!(error["extensions"]["reason"], "ACCOUNT_DELETED", "{body}");
}

#[tokio::test]
async fn a_deleted_accounts_token_is_refused_on_every_door() {
    let stack = Stack::start().await.expect("stack starts");
    stack.sign_up("leaver").await;
    let session = stack.log_in("leaver").await;
    let token = session.expect_ok()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let refresh = session.expect_ok()["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();

    let mut socket = LiveClient::connect(&stack.router_url, Some(&token))
        .await
        .expect("the connection is acknowledged");
    socket
        .subscribe("open", NOTIFICATION_ADDED, json!({}))
        .await
        .unwrap();
    wait_for_subscribers(&stack, "notifications", 1.0).await;

    let deleted = stack
        .graphql(
            Some(&token),
            "mutation($p: String!) { deleteAccount(password: $p) }",
            json!({ "p": TEST_PASSWORD }),
        )
        .await;
    assert_eq!(deleted.expect_ok()["deleteAccount"], true);

    // The open stream ends, served by notifications, with the reason.
    let ended = socket
        .next_message(Duration::from_secs(10))
        .await
        .expect("the stream ends");
    assert_eq!(ended["id"], "open", "{ended}");
    deleted_error(&ended["payload"]);
    let complete = socket
        .next_message(Duration::from_secs(10))
        .await
        .expect("then completes");
    assert_eq!(complete, json!({ "type": "complete", "id": "open" }));

    // HTTP,
    let write = stack
        .graphql(
            Some(&token),
            "mutation { createPost(body: \"from beyond\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(write.status, 401);
    deleted_error(&write.body);
    // a new subscription on the socket opened before,
    socket
        .subscribe("again", NOTIFICATION_ADDED, json!({}))
        .await
        .unwrap();
    let message = socket
        .next_message(Duration::from_secs(10))
        .await
        .expect("an answer");
    assert_eq!(error_codes_of(&message), ["UNAUTHENTICATED"], "{message}");
    // SSE,
    let streaming = sse(&stack, &token, &json!({ "query": NOTIFICATION_ADDED })).await;
    assert_eq!(streaming.status(), 401);
    let body: Value = streaming.json().await.expect("a JSON refusal");
    deleted_error(&body);
    // the refresh token and the password.
    let refreshed = stack
        .graphql(
            None,
            "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
            json!({ "t": refresh }),
        )
        .await;
    assert_eq!(refreshed.error_codes(), ["UNAUTHENTICATED"]);
    assert_eq!(
        stack.log_in("leaver").await.error_codes(),
        ["UNAUTHENTICATED"]
    );
}

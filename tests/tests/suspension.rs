//! Suspension through the router, as clients: from the moment `suspendUser`
//! returns, the account's still-valid access token is refused on every door
//! (HTTP, a WebSocket subscription, SSE), its open stream ends, it cannot sign
//! in, its refresh token is revoked; lifting lets it back in. Only moderators suspend; bad input is
//! refused; the log keeps both actions.

use nova_e2e::live::LiveClient;
use nova_e2e::realtime::{error_codes_of, sse, wait_for_subscribers, NOTIFICATION_ADDED};
use nova_e2e::Stack;
use serde_json::{json, Value};
use std::time::Duration;

const SUSPEND: &str = "mutation($u: ID!, $until: DateTime!, $r: String!) {
  suspendUser(userId: $u, until: $until, reason: $r) { action userId until reason moderatorId } }";
const LIFT: &str =
    "mutation($u: ID!) { liftSuspension(userId: $u, reason: \"appeal\") { action } }";
const POST: &str = "mutation { createPost(body: \"still here\") { id } }";

fn suspended_error(body: &Value) -> &Value {
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{body}");
    assert_eq!(error["extensions"]["reason"], "ACCOUNT_SUSPENDED", "{body}");
    error
}

#[tokio::test]
async fn a_suspended_account_is_refused_on_every_door_until_lifted() {
    let stack = Stack::start().await.expect("stack starts");
    let (troll_id, _) = stack.sign_up("troll").await;
    let (moderator_id, plain) = stack.sign_up("warden").await;
    stack.grant_moderator("warden");
    let moderator = stack.access_token("warden").await;
    let session = stack.log_in("troll").await;
    let troll = session.expect_ok()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let refresh = session.expect_ok()["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    stack
        .graphql(Some(&troll), POST, json!({}))
        .await
        .expect_ok();

    // Only moderators; a past end, an unknown account and oneself are refused.
    let until = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let vars = json!({ "u": troll_id, "until": until, "r": "spam" });
    let refused = stack.graphql(Some(&plain), SUSPEND, vars.clone()).await;
    assert_eq!(refused.error_codes(), ["FORBIDDEN"]);
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    let bad = stack
        .graphql(
            Some(&moderator),
            SUSPEND,
            json!({ "u": troll_id, "until": past.to_rfc3339(), "r": "spam" }),
        )
        .await;
    assert_eq!(bad.error_codes(), ["BAD_USER_INPUT"]);
    let nobody = stack
        .graphql(
            Some(&moderator),
            SUSPEND,
            json!({ "u": uuid::Uuid::now_v7(), "until": until, "r": "spam" }),
        )
        .await;
    assert_eq!(nobody.error_codes(), ["NOT_FOUND"]);
    let oneself = stack
        .graphql(
            Some(&moderator),
            SUSPEND,
            json!({ "u": moderator_id, "until": until, "r": "spam" }),
        )
        .await;
    assert_eq!(oneself.error_codes(), ["BAD_USER_INPUT"]);

    // A WebSocket with a live subscription, opened before the suspension.
    let mut socket = LiveClient::connect(&stack.router_url, Some(&troll))
        .await
        .expect("the connection is acknowledged");
    socket
        .subscribe("open", NOTIFICATION_ADDED, json!({}))
        .await
        .unwrap();
    wait_for_subscribers(&stack, "notifications", 1.0).await;

    let suspended = stack.graphql(Some(&moderator), SUSPEND, vars).await;
    assert_eq!(
        suspended.expect_ok()["suspendUser"],
        json!({ "action": "SUSPEND", "userId": troll_id, "until": suspended.body["data"]["suspendUser"]["until"],
                "reason": "spam", "moderatorId": moderator_id })
    );

    // The open stream ends, served by notifications, with the reason.
    let ended = socket
        .next_message(Duration::from_secs(10))
        .await
        .expect("the stream ends");
    assert_eq!(ended["id"], "open", "{ended}");
    suspended_error(&ended["payload"]);
    let complete = socket
        .next_message(Duration::from_secs(10))
        .await
        .expect("then completes");
    assert_eq!(complete, json!({ "type": "complete", "id": "open" }));

    // At once, with the token issued before: HTTP writes and reads,
    let write = stack.graphql(Some(&troll), POST, json!({})).await;
    suspended_error(&write.body);
    assert_eq!(write.status, 403);
    let read = stack
        .graphql(Some(&troll), "{ me { id } }", json!({}))
        .await;
    suspended_error(&read.body);
    // a subscription on the socket opened before,
    socket
        .subscribe("n", NOTIFICATION_ADDED, json!({}))
        .await
        .unwrap();
    let message = socket
        .next_message(Duration::from_secs(10))
        .await
        .expect("an answer");
    assert_eq!(error_codes_of(&message), ["FORBIDDEN"], "{message}");
    // SSE,
    let streaming = sse(&stack, &troll, &json!({ "query": NOTIFICATION_ADDED })).await;
    assert_eq!(streaming.status(), 403);
    let body: Value = streaming.json().await.expect("a JSON refusal");
    suspended_error(&body);
    // signing in, and refreshing.
    let signing_in = stack.log_in("troll").await;
    let error = suspended_error(&signing_in.body);
    assert!(
        error["extensions"]["until"].is_string(),
        "{:?}",
        signing_in.body
    );
    let refreshed = stack
        .graphql(
            None,
            "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
            json!({ "t": refresh }),
        )
        .await;
    assert_eq!(refreshed.error_codes(), ["UNAUTHENTICATED"]);

    // Lifted: signing in and writing work again.
    stack
        .graphql(Some(&moderator), LIFT, json!({ "u": troll_id }))
        .await
        .expect_ok();
    let back = stack.access_token("troll").await;
    stack
        .graphql(Some(&back), POST, json!({}))
        .await
        .expect_ok();

    let log = stack
        .graphql(
            Some(&moderator),
            "{ suspensionLog(first: 5) { edges { node { action userId reason } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        log.expect_ok()["suspensionLog"]["edges"],
        json!([
            { "node": { "action": "LIFT", "userId": troll_id, "reason": "appeal" } },
            { "node": { "action": "SUSPEND", "userId": troll_id, "reason": "spam" } },
        ])
    );
}

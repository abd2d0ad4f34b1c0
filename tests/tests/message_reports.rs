//! Reporting a chat message, as clients: only someone who received it may;
//! the moderator reads the body in the queue; the body is never stored in
//! clear (content keeps no body, chat's copy is sealed); a message is
//! dismissed, never taken down.

use nova_e2e::realtime::{send, start_direct};
use nova_e2e::Stack;
use serde_json::{json, Value};
use sqlx::Row;

const BODY: &str = "buy my miracle pills";
const REPORT: &str = "mutation($id: ID!) {
  reportContent(subject: { kind: MESSAGE, id: $id }, reason: SPAM) { reason } }";

fn subject(id: &str) -> Value {
    json!({ "s": { "kind": "MESSAGE", "id": id } })
}

#[tokio::test]
async fn a_received_message_is_reported_read_by_moderators_and_kept_sealed() {
    let stack = Stack::start().await.expect("stack starts");
    let (alice_id, alice) = stack.sign_up("alice").await;
    let (bob_id, bob) = stack.sign_up("bob").await;
    let (_, carol) = stack.sign_up("carol").await;
    stack.sign_up("judge").await;
    stack.grant_moderator("judge");
    let moderator = stack.access_token("judge").await;

    let conversation = start_direct(&stack, &alice, &bob_id).await;
    let sent = send(&stack, &alice, &conversation, BODY, "k1").await;
    let message = sent.expect_ok()["sendMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Someone who did not receive it, and its sender, cannot report it.
    let stranger = stack
        .graphql(Some(&carol), REPORT, json!({ "id": message }))
        .await;
    assert_eq!(stranger.error_codes(), ["NOT_FOUND"]);
    let own = stack
        .graphql(Some(&alice), REPORT, json!({ "id": message }))
        .await;
    assert_eq!(own.error_codes(), ["BAD_USER_INPUT"]);
    stack
        .graphql(Some(&bob), REPORT, json!({ "id": message }))
        .await
        .expect_ok();

    // The moderator reads what was received.
    let queue = stack
        .graphql(
            Some(&moderator),
            "{ moderationQueue { kind id message { sender { id } body } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        queue.expect_ok()["moderationQueue"],
        json!([{ "kind": "MESSAGE", "id": message,
                 "message": { "sender": { "id": alice_id }, "body": BODY } }])
    );

    // Nowhere in clear: content keeps no body, chat's copy is sealed.
    let mut content = stack.connect("content").await.unwrap();
    let reports = sqlx::query("SELECT count(*) AS n FROM reports r WHERE r::text LIKE '%pills%'")
        .fetch_one(&mut content)
        .await
        .unwrap();
    assert_eq!(reports.get::<i64, _>("n"), 0);
    let mut chat = stack.connect("chat").await.unwrap();
    let copy = sqlx::query("SELECT body_ciphertext FROM reported_messages WHERE message_id = $1")
        .bind(uuid::Uuid::parse_str(&message).unwrap())
        .fetch_one(&mut chat)
        .await
        .unwrap();
    let sealed: Vec<u8> = copy.get("body_ciphertext");
    assert!(!sealed.is_empty());
    assert!(
        !sealed.windows(5).any(|w| w == b"pills"),
        "the copy is ciphertext"
    );

    // Not taken down; dismissed, with the sender as the subject's author.
    let taken = stack
        .graphql(
            Some(&moderator),
            "mutation($s: ReportSubject!) { takeDown(subject: $s, reason: \"spam\") { action } }",
            subject(&message),
        )
        .await;
    assert_eq!(taken.error_codes(), ["BAD_USER_INPUT"]);
    let dismissed = stack
        .graphql(
            Some(&moderator),
            "mutation($s: ReportSubject!) { dismissReport(subject: $s, reason: \"a joke between friends\") { action author { id } } }",
            subject(&message),
        )
        .await;
    assert_eq!(
        dismissed.expect_ok()["dismissReport"],
        json!({ "action": "DISMISS", "author": { "id": alice_id } })
    );
    let queue = stack
        .graphql(Some(&moderator), "{ moderationQueue { id } }", json!({}))
        .await;
    assert_eq!(queue.expect_ok()["moderationQueue"], json!([]));
}

//! Reports and moderation through the router, as clients: a role granted only
//! by the operator command, `@requiresScopes` refusing others with
//! `FORBIDDEN` (signed out: `UNAUTHENTICATED`), report → queue → takedown
//! (hidden at once, the author told why) → restore, dismissal, the log, the
//! report limit.

use nova_e2e::Stack;
use serde_json::{json, Value};

const REPORT: &str = "mutation($k: ReportSubjectKind!, $id: ID!, $r: ReportReason!, $d: String) {
  reportContent(subject: { kind: $k, id: $id }, reason: $r, details: $d) { id reason } }";
const QUEUE: &str = "{ moderationQueue { kind id reports reasons details } }";
const QUEUE_BODIES: &str = "{ moderationQueue { post { body } comment { body } } }";
const TAKE_DOWN: &str = "mutation($id: ID!, $r: String!) {
  takeDown(subject: { kind: POST, id: $id }, reason: $r) { action subjectId reason moderator { id } author { id } } }";
const RESTORE: &str = "mutation($id: ID!) {
  restore(subject: { kind: POST, id: $id }, reason: \"appeal upheld\") { action } }";
const DISMISS: &str = "mutation($id: ID!) {
  dismissReport(subject: { kind: COMMENT, id: $id }, reason: \"not abusive\") { action } }";
const LOG: &str =
    "{ moderationLog(first: 10) { edges { node { action subjectId reason moderator { id } } } } }";
const POST: &str = "query($id: ID!) { post(id: $id) { id } }";

/// `nova admin <args>` on the stack's identity database.
fn admin(stack: &Stack, args: &[&str]) -> std::process::Output {
    stack.nova_admin().args(args).output().expect("nova runs")
}

fn actions(log: &Value) -> Vec<(String, String)> {
    log["moderationLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let node = &e["node"];
            (
                node["action"].as_str().unwrap().to_string(),
                node["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn report_take_down_restore_dismiss_and_the_log() {
    let stack = Stack::start().await.expect("stack starts");
    let (author_id, author) = stack.sign_up("author").await;
    let (_, reporter) = stack.sign_up("reporter").await;
    let (moderator_id, _) = stack.sign_up("mod").await;

    // Only the operator command grants the role; a bad role or a missing
    // account is refused with its exit code.
    let bad_role = admin(&stack, &["grant-role", "--user", "mod", "--role", "admin"]);
    assert_eq!(
        bad_role.status.code(),
        Some(2),
        "a role that does not exist"
    );
    let nobody = admin(
        &stack,
        &["grant-role", "--user", "nobody", "--role", "moderator"],
    );
    assert_eq!(
        nobody.status.code(),
        Some(1),
        "an account that does not exist"
    );
    stack.grant_moderator("mod");
    // The scope is in tokens issued from now on.
    let moderator = stack.access_token("mod").await;

    let post_id = stack.create_post(&author, "a post someone reports").await;
    let comment = stack
        .graphql(
            Some(&author),
            "mutation($p: ID!) { addComment(postId: $p, body: \"a comment\") { id } }",
            json!({ "p": post_id }),
        )
        .await;
    let comment_id = comment.expect_ok()["addComment"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Reports: a missing subject and one's own content are refused.
    let missing = stack
        .graphql(
            Some(&reporter),
            REPORT,
            json!({ "k": "POST", "id": uuid::Uuid::now_v7(), "r": "SPAM" }),
        )
        .await;
    assert_eq!(missing.error_codes(), ["NOT_FOUND"]);
    let own = stack
        .graphql(
            Some(&author),
            REPORT,
            json!({ "k": "POST", "id": post_id, "r": "SPAM" }),
        )
        .await;
    assert_eq!(own.error_codes(), ["BAD_USER_INPUT"]);
    for (kind, id, reason, details) in [
        ("POST", &post_id, "SPAM", "sells pills"),
        ("COMMENT", &comment_id, "HARASSMENT", ""),
    ] {
        stack
            .graphql(
                Some(&reporter),
                REPORT,
                json!({ "k": kind, "id": id, "r": reason, "d": details }),
            )
            .await
            .expect_ok();
    }

    // The moderator's fields refuse everyone else: signed out, unauthenticated;
    // signed in without the role, forbidden.
    let anonymous = stack.graphql(None, QUEUE, json!({})).await;
    assert_eq!(anonymous.error_codes(), ["UNAUTHENTICATED"]);
    let plain = stack.graphql(Some(&reporter), QUEUE, json!({})).await;
    assert_eq!(plain.error_codes(), ["FORBIDDEN"]);
    let plain_take_down = stack
        .graphql(
            Some(&reporter),
            TAKE_DOWN,
            json!({ "id": post_id, "r": "x" }),
        )
        .await;
    assert_eq!(plain_take_down.error_codes(), ["FORBIDDEN"]);
    assert_eq!(
        stack
            .graphql(Some(&reporter), POST, json!({ "id": post_id }))
            .await
            .expect_ok()["post"]["id"],
        post_id.as_str(),
        "a refused takedown changes nothing"
    );

    // The queue: grouped by subject, the longest waiting first.
    let queue = stack.graphql(Some(&moderator), QUEUE, json!({})).await;
    assert_eq!(
        queue.expect_ok()["moderationQueue"],
        json!([
            { "kind": "POST", "id": post_id, "reports": 1, "reasons": ["SPAM"], "details": ["sells pills"] },
            { "kind": "COMMENT", "id": comment_id, "reports": 1, "reasons": ["HARASSMENT"], "details": [] },
        ])
    );

    // The moderator sees what was reported.
    let bodies = stack
        .graphql(Some(&moderator), QUEUE_BODIES, json!({}))
        .await;
    assert_eq!(
        bodies.expect_ok()["moderationQueue"],
        json!([
            { "post": { "body": "a post someone reports" }, "comment": null },
            { "post": null, "comment": { "body": "a comment" } },
        ])
    );

    // A takedown: gone at once for everyone, the author included; the author
    // is told why; it cannot be reported again.
    let taken_down = stack
        .graphql(
            Some(&moderator),
            TAKE_DOWN,
            json!({ "id": post_id, "r": "spam: selling pills" }),
        )
        .await;
    assert_eq!(
        taken_down.expect_ok()["takeDown"],
        json!({ "action": "TAKE_DOWN", "subjectId": post_id, "reason": "spam: selling pills",
                "moderator": { "id": moderator_id }, "author": { "id": author_id } })
    );
    for viewer in [&reporter, &author] {
        let seen = stack
            .graphql(Some(viewer), POST, json!({ "id": post_id }))
            .await;
        assert_eq!(seen.expect_ok()["post"], Value::Null);
    }
    let posts = stack
        .graphql(
            Some(&author),
            "query($u: ID!) { user(id: $u) { posts(first: 10) { edges { node { id } } } } }",
            json!({ "u": author_id }),
        )
        .await;
    assert_eq!(
        posts.expect_ok()["user"]["posts"]["edges"],
        json!([]),
        "the author's own list leaves it out"
    );
    let notices = stack
        .graphql(
            Some(&author),
            "{ myModerationNotices { takenDown subjectKind subjectId reason } }",
            json!({}),
        )
        .await;
    assert_eq!(
        notices.expect_ok()["myModerationNotices"],
        json!([{ "takenDown": true, "subjectKind": "POST", "subjectId": post_id, "reason": "spam: selling pills" }])
    );
    let again = stack
        .graphql(
            Some(&reporter),
            REPORT,
            json!({ "k": "POST", "id": post_id, "r": "SPAM" }),
        )
        .await;
    assert_eq!(again.error_codes(), ["NOT_FOUND"]);

    // Restored: served again. The comment's reports dismissed: the queue is empty.
    stack
        .graphql(Some(&moderator), RESTORE, json!({ "id": post_id }))
        .await
        .expect_ok();
    let seen = stack
        .graphql(Some(&reporter), POST, json!({ "id": post_id }))
        .await;
    assert_eq!(seen.expect_ok()["post"]["id"], post_id.as_str());
    stack
        .graphql(Some(&moderator), DISMISS, json!({ "id": comment_id }))
        .await
        .expect_ok();
    let queue = stack.graphql(Some(&moderator), QUEUE, json!({})).await;
    assert_eq!(queue.expect_ok()["moderationQueue"], json!([]));

    // The log, newest first, for moderators only.
    let log = stack.graphql(Some(&moderator), LOG, json!({})).await;
    assert_eq!(
        actions(log.expect_ok()),
        [
            ("DISMISS".to_string(), "not abusive".to_string()),
            ("RESTORE".to_string(), "appeal upheld".to_string()),
            ("TAKE_DOWN".to_string(), "spam: selling pills".to_string()),
        ]
    );
    let plain_log = stack.graphql(Some(&author), LOG, json!({})).await;
    assert_eq!(plain_log.error_codes(), ["FORBIDDEN"]);

    // Users are reported too: a moderator dismisses the reports or suspends
    // the account (identity), but never takes it down.
    for (id, code) in [
        (uuid::Uuid::now_v7().to_string(), "NOT_FOUND"),
        (author_id.clone(), ""),
    ] {
        let reported = stack
            .graphql(
                Some(&reporter),
                REPORT,
                json!({ "k": "USER", "id": id, "r": "HARASSMENT" }),
            )
            .await;
        let expected: Vec<&str> = if code.is_empty() { vec![] } else { vec![code] };
        assert_eq!(reported.error_codes(), expected);
    }
    let oneself = stack
        .graphql(
            Some(&author),
            REPORT,
            json!({ "k": "USER", "id": author_id, "r": "SPAM" }),
        )
        .await;
    assert_eq!(oneself.error_codes(), ["BAD_USER_INPUT"]);
    let queue = stack
        .graphql(
            Some(&moderator),
            "{ moderationQueue { kind id user { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        queue.expect_ok()["moderationQueue"],
        json!([{ "kind": "USER", "id": author_id, "user": { "id": author_id } }])
    );
    let user_subject = json!({ "s": { "kind": "USER", "id": author_id } });
    let taken = stack
        .graphql(
            Some(&moderator),
            "mutation($s: ReportSubject!) { takeDown(subject: $s, reason: \"no\") { action } }",
            user_subject.clone(),
        )
        .await;
    assert_eq!(taken.error_codes(), ["BAD_USER_INPUT"]);
    stack
        .graphql(
            Some(&moderator),
            "mutation($s: ReportSubject!) { dismissReport(subject: $s, reason: \"banter\") { action } }",
            user_subject,
        )
        .await
        .expect_ok();
    let queue = stack.graphql(Some(&moderator), QUEUE, json!({})).await;
    assert_eq!(queue.expect_ok()["moderationQueue"], json!([]));

    // A revoked role leaves tokens issued after it without the scope.
    let revoked = admin(
        &stack,
        &["revoke-role", "--user", "mod", "--role", "moderator"],
    );
    assert!(revoked.status.success());
    let after_revoke = stack.access_token("mod").await;
    let refused = stack.graphql(Some(&after_revoke), QUEUE, json!({})).await;
    assert_eq!(refused.error_codes(), ["FORBIDDEN"]);

    // At most 20 reports an hour per user: the 21st is refused and not stored.
    let (_, eager) = stack.sign_up("eager").await;
    for _ in 0..20 {
        stack
            .graphql(
                Some(&eager),
                REPORT,
                json!({ "k": "POST", "id": post_id, "r": "OTHER" }),
            )
            .await
            .expect_ok();
    }
    let limited = stack
        .graphql(
            Some(&eager),
            REPORT,
            json!({ "k": "POST", "id": post_id, "r": "OTHER" }),
        )
        .await;
    assert_eq!(limited.error_codes(), ["RATE_LIMITED"]);
    stack.grant_moderator("mod");
    let moderator = stack.access_token("mod").await;
    let queue = stack.graphql(Some(&moderator), QUEUE, json!({})).await;
    assert_eq!(
        queue.expect_ok()["moderationQueue"][0]["reports"],
        20,
        "the refused report was not stored"
    );
}

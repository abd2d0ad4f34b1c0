//! Password reset by e-mail, as a user goes through it: the mail arrives at the
//! stack's real SMTP server, its code works once and only until it expires, and
//! every session of the account is signed out.

use nova_e2e::{eventually, reset_token_in, Response, Stack};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const REQUEST: &str = "mutation($email: String!) { requestPasswordReset(email: $email) }";
const RESET: &str = "mutation($token: String!, $new: String!) {
  resetPassword(token: $token, newPassword: $new)
}";
const LOGIN: &str = "mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}";
const REFRESH: &str = "mutation($token: String!) {
  refreshSession(refreshToken: $token) { accessToken }
}";

fn field_of_first_error(response: &Response) -> Value {
    response.body["errors"][0]["extensions"]["field"].clone()
}

async fn ask_for_reset(stack: &Stack, email: &str) {
    let asked = stack
        .graphql(None, REQUEST, json!({ "email": email }))
        .await;
    assert_eq!(asked.expect_ok()["requestPasswordReset"], true, "{email}");
}

async fn reset(stack: &Stack, token: &str, new_password: &str) -> Response {
    stack
        .graphql(None, RESET, json!({ "token": token, "new": new_password }))
        .await
}

async fn login(stack: &Stack, password: &str) -> Response {
    stack
        .graphql(
            None,
            LOGIN,
            json!({ "email": "dee@example.com", "password": password }),
        )
        .await
}

fn assert_token_refused(response: &Response, what: &str) {
    assert_eq!(response.error_codes(), vec!["BAD_USER_INPUT"], "{what}");
    assert_eq!(field_of_first_error(response), "token", "{what}");
}

#[tokio::test]
async fn a_reset_code_arrives_by_mail_works_once_and_signs_out_every_session() {
    let stack = Stack::start().await.expect("stack starts");
    let old_password = "correct horse battery";
    let new_password = "a brand new password";
    let signed_up = stack
        .graphql(
            None,
            "mutation($e: String!, $u: String!, $p: String!) {
              signUp(email: $e, username: $u, password: $p) { refreshToken }
            }",
            json!({ "e": "dee@example.com", "u": "dee", "p": old_password }),
        )
        .await;
    let session = signed_up.expect_ok()["signUp"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();

    // An address without an account gets the same answer and no mail.
    ask_for_reset(&stack, "nobody@example.com").await;
    // The address as the user types it, whatever its case.
    ask_for_reset(&stack, "DEE@example.com").await;
    let first_mail = stack.wait_for_mail("dee@example.com", 1).await;
    assert!(
        first_mail.contains("Subject: Reset your Nova password"),
        "{first_mail}"
    );
    let first_code = reset_token_in(&first_mail).expect("a code in the mail");
    assert!(first_code.starts_with("npr_"), "{first_code}");

    // Asking again sends a new code and voids the first.
    ask_for_reset(&stack, "dee@example.com").await;
    let second_mail = stack.wait_for_mail("dee@example.com", 2).await;
    let second_code = reset_token_in(&second_mail).expect("a code in the mail");
    assert_ne!(second_code, first_code);
    assert_token_refused(&reset(&stack, &first_code, new_password).await, "voided");
    assert!(
        stack.mail_to("nobody@example.com").is_empty(),
        "no mail for an address without an account"
    );

    // A too short password is refused without using up the code.
    let short = reset(&stack, &second_code, "short").await;
    assert_eq!(short.error_codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(field_of_first_error(&short), "newPassword");
    assert_token_refused(&reset(&stack, "npr_made_up", new_password).await, "made up");

    let done = reset(&stack, &second_code, new_password).await;
    assert_eq!(done.expect_ok()["resetPassword"], true);
    assert_token_refused(
        &reset(&stack, &second_code, "yet another one").await,
        "reused",
    );

    // The old password and the old session are gone; the new password signs in.
    assert_eq!(
        login(&stack, old_password).await.error_codes(),
        vec!["UNAUTHENTICATED"]
    );
    let refreshed = stack
        .graphql(None, REFRESH, json!({ "token": session }))
        .await;
    assert_eq!(refreshed.error_codes(), vec!["UNAUTHENTICATED"]);
    assert!(login(&stack, new_password).await.expect_ok()["login"]["accessToken"].is_string());

    // A code past its lifetime is refused and changes nothing.
    ask_for_reset(&stack, "dee@example.com").await;
    let third_code =
        reset_token_in(&stack.wait_for_mail("dee@example.com", 3).await).expect("a code");
    let mut identity = stack.connect("identity").await.expect("identity database");
    sqlx::query(
        "UPDATE password_reset_tokens SET expires_at = now() - interval '1 second' \
         WHERE used_at IS NULL",
    )
    .execute(&mut identity)
    .await
    .expect("expire the code");
    assert_token_refused(
        &reset(&stack, &third_code, "yet another one").await,
        "expired",
    );
    assert!(login(&stack, new_password).await.expect_ok()["login"]["accessToken"].is_string());

    // Codes are stored as their SHA-256 only.
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM password_reset_tokens")
        .fetch_all(&mut identity)
        .await
        .expect("read the stored tokens");
    assert_eq!(stored.len(), 3);
    for code in [&first_code, &second_code, &third_code] {
        let hash = Sha256::digest(code.as_bytes()).to_vec();
        assert!(stored.contains(&hash), "{code} is stored by its hash");
    }
    eventually(10, "three mails counted as sent", &stack, || async {
        stack
            .metric("identity", "nova_mail_sent_total{outcome=\"sent\"}")
            .await
            == 3.0
    })
    .await;
}

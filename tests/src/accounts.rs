//! Accounts for tests, made the way a client makes them.

use serde_json::json;

use crate::response::Response;
use crate::{Stack, TEST_PASSWORD};

const LOGIN: &str = "mutation($u: String!, $p: String!) {
  login(username: $u, password: $p) { accessToken refreshToken } }";

impl Stack {
    /// Register `username` (email `<username>@example.com`); returns the user id.
    pub async fn register(&self, username: &str) -> String {
        let registered = self
            .graphql(
                None,
                "mutation($e: String!, $u: String!, $p: String!) { register(email: $e, username: $u, password: $p) { id } }",
                json!({ "e": format!("{username}@example.com"), "u": username, "p": TEST_PASSWORD }),
            )
            .await;
        registered.expect_ok()["register"]["id"]
            .as_str()
            .expect("an id")
            .to_string()
    }

    /// Sign up a user named `username` (email `<username>@example.com`): one
    /// password hash, not two; returns (user id, access token).
    pub async fn sign_up(&self, username: &str) -> (String, String) {
        let signed_up = self
            .graphql(
                None,
                "mutation($e: String!, $u: String!, $p: String!) { signUp(email: $e, username: $u, password: $p) { accessToken user { id } } }",
                json!({ "e": format!("{username}@example.com"), "u": username, "p": TEST_PASSWORD }),
            )
            .await;
        let session = &signed_up.expect_ok()["signUp"];
        let id = session["user"]["id"].as_str().expect("an id").to_string();
        let token = session["accessToken"]
            .as_str()
            .expect("a token")
            .to_string();
        (id, token)
    }

    /// Sign in as `username` with the test password: the whole answer (a
    /// session, or the refusal).
    pub async fn log_in(&self, username: &str) -> Response {
        self.graphql(None, LOGIN, json!({ "u": username, "p": TEST_PASSWORD }))
            .await
    }

    /// A fresh access token of `username` (one issued now carries the roles
    /// granted so far).
    pub async fn access_token(&self, username: &str) -> String {
        self.log_in(username).await.expect_ok()["login"]["accessToken"]
            .as_str()
            .expect("a token")
            .to_string()
    }

    /// Make `username` a moderator with the operator command.
    pub fn grant_moderator(&self, username: &str) {
        let granted = self
            .nova_admin()
            .args(["grant-role", "--user", username, "--role", "moderator"])
            .output()
            .expect("nova runs");
        assert!(
            granted.status.success(),
            "{}",
            String::from_utf8_lossy(&granted.stderr)
        );
    }
}

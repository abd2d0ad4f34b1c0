//! Accounts for tests, made the way a client makes them.

use serde_json::json;

use crate::{Stack, TEST_PASSWORD};

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
}

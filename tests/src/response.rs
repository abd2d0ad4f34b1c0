//! Waiting for a condition and reading GraphQL responses.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Stack;

/// Poll `check` until it holds or `seconds` pass.
pub async fn eventually<F, Fut>(seconds: u64, what: &str, stack: &Stack, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what} did not happen within {seconds}s\n{}", stack.logs());
}

/// The `extensions.code` of each error of a GraphQL `errors` list, in order.
pub fn error_codes(errors: &Value) -> Vec<String> {
    errors
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// An HTTP status and the GraphQL response body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Value,
}

impl Response {
    pub async fn from(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Self { status, body }
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The `extensions.code` of every error, in order.
    pub fn error_codes(&self) -> Vec<String> {
        error_codes(&self.body["errors"])
    }

    /// Panics with the whole body unless there are no errors.
    pub fn expect_ok(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none_or(|e| e.is_null()),
            "unexpected errors: {:#}",
            self.body
        );
        self.data()
    }
}

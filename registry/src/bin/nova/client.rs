//! Talking to the registry: the bearer token, requests, and what a failed
//! answer means for the exit code.

use std::time::Duration;

use serde_json::Value;

/// Why a command did not succeed; each is its own exit code (`main.rs`).
pub enum Failure {
    Usage(String),
    Rejected(String),
    Unreachable(String),
    Unauthorized(String),
}

pub type Outcome = Result<(), Failure>;

pub struct Client {
    pub base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn from_env() -> Self {
        Self {
            base: std::env::var("NOVA_REGISTRY_URL")
                .unwrap_or_else(|_| "http://127.0.0.1:4100".into())
                .trim_end_matches('/')
                .to_string(),
            token: std::env::var("NOVA_REGISTRY_TOKEN").ok(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
        }
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, Failure> {
        let token = self
            .token
            .as_deref()
            .ok_or_else(|| Failure::Usage("NOVA_REGISTRY_TOKEN is not set".into()))?;
        Ok(self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token))
    }

    /// Send; the status and the JSON body (or the text as a JSON string).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, Value), Failure> {
        let response = request
            .send()
            .await
            .map_err(|e| Failure::Unreachable(format!("{}: {e}", self.base)))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }

    /// GET `path`; its JSON body when the answer is 200.
    pub async fn get(&self, path: &str) -> Result<Value, Failure> {
        let (status, answer) = self.send(self.request(reqwest::Method::GET, path)?).await?;
        if status != 200 {
            return Err(refused(status, &answer));
        }
        Ok(answer)
    }
}

/// A 4xx/5xx answer as the right failure. The registry answers JSON with
/// `error`; anything in between (a proxy) may answer text, shown as it is.
pub fn refused(status: u16, body: &Value) -> Failure {
    let message = match (body["error"].as_str(), body.as_str()) {
        (Some(error), _) => error.to_string(),
        (None, Some(text)) if !text.trim().is_empty() => text.trim().to_string(),
        _ => "no reason given".to_string(),
    };
    match status {
        401 | 403 => Failure::Unauthorized(format!("refused ({status}): {message}")),
        500.. => Failure::Unreachable(format!("registry error ({status}): {message}")),
        _ => Failure::Rejected(format!("({status}) {message}")),
    }
}

//! A client of one Nova router: persisted operations over HTTP, subscriptions
//! over graphql-transport-ws.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The persisted-query manifest of this build: the operations the router it
/// ships with serves in safelist mode.
const MANIFEST: &str = include_str!("../../../persisted-queries/manifest.json");

pub struct Client {
    http: reqwest::Client,
    /// The router's base URL, e.g. `http://127.0.0.1:4000`.
    base: String,
    manifest: Value,
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Client {
    pub fn new(base_url: &str) -> Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            base: base_url.trim_end_matches('/').to_string(),
            manifest: serde_json::from_str(MANIFEST).context("the persisted-query manifest")?,
        })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn document_id(&self, operation: &str) -> Result<&str> {
        self.manifest["operations"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["name"] == operation)
            .and_then(|o| o["id"].as_str())
            .with_context(|| format!("{operation} is not in the persisted-query manifest"))
    }

    /// Run `operation` by its persisted id as the holder of `token`: its `data`,
    /// or an error with the status and the answer.
    pub async fn run(
        &self,
        operation: &str,
        variables: Value,
        token: Option<&str>,
    ) -> Result<Value> {
        let body = json!({
            "operationName": operation,
            "variables": variables,
            "extensions": { "persistedQuery": { "version": 1, "sha256Hash": self.document_id(operation)? } }
        });
        let mut request = self.http.post(format!("{}/graphql", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{operation}: the router at {} does not answer", self.base))?;
        let status = response.status();
        let mut answer: Value = response
            .json()
            .await
            .with_context(|| format!("{operation}: the answer is not JSON ({status})"))?;
        if !status.is_success() || answer.get("errors").is_some() {
            bail!("{operation}: {status} {answer}");
        }
        Ok(answer["data"].take())
    }

    /// Open a graphql-transport-ws connection as the holder of `token` and start
    /// `operation` on it (subscription id "1"), acknowledged.
    pub async fn subscribe(
        &self,
        operation: &str,
        variables: Value,
        token: &str,
    ) -> Result<Socket> {
        let ws = self.base.replacen("http", "ws", 1);
        let mut request = format!("{ws}/ws").into_client_request()?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .with_context(|| format!("WebSocket to {ws}/ws"))?;
        let init = json!({ "type": "connection_init",
            "payload": { "headers": { "authorization": format!("Bearer {token}") } } });
        socket.send(Message::text(init.to_string())).await?;
        let ack = next_message(&mut socket, Duration::from_secs(10)).await?;
        if ack["type"] != "connection_ack" {
            bail!("{operation}: the connection was not acknowledged: {ack}");
        }
        let subscribe = json!({
            "id": "1",
            "type": "subscribe",
            "payload": {
                "operationName": operation,
                "variables": variables,
                "extensions": { "persistedQuery": { "version": 1, "sha256Hash": self.document_id(operation)? } }
            }
        });
        socket.send(Message::text(subscribe.to_string())).await?;
        Ok(socket)
    }
}

/// The next protocol message other than ping/pong (answered), within `wait`.
pub async fn next_message(socket: &mut Socket, wait: Duration) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .with_context(|| format!("nothing arrived on the WebSocket within {wait:?}"))?
            .context("the WebSocket closed")??;
        let Message::Text(text) = frame else { continue };
        let message: Value = serde_json::from_str(&text)?;
        if !answer_ping(socket, &message).await? && message["type"] != "pong" {
            return Ok(message);
        }
    }
}

/// Answer a graphql-transport-ws `ping` with a `pong` (the server closes a
/// connection that does not): true when `message` was a ping.
pub async fn answer_ping(socket: &mut Socket, message: &Value) -> Result<bool> {
    if message["type"] != "ping" {
        return Ok(false);
    }
    socket
        .send(Message::text(json!({ "type": "pong" }).to_string()))
        .await?;
    Ok(true)
}

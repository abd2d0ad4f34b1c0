//! A graphql-transport-ws client of the router's `/ws`, as an app would use it.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The router's WebSocket URL for its `/graphql` URL.
pub fn websocket_url(router_url: &str) -> String {
    router_url
        .replace("http://", "ws://")
        .replace("/graphql", "/ws")
}

pub struct LiveClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl LiveClient {
    /// Open a connection; the token (if any) goes in the `connection_init`
    /// payload as `headers.authorization`. Fails unless the server acknowledges
    /// the init with `connection_ack`.
    pub async fn connect(router_url: &str, token: Option<&str>) -> Result<Self> {
        let payload = match token {
            Some(token) => json!({ "headers": { "authorization": format!("Bearer {token}") } }),
            None => json!({}),
        };
        Self::connect_with_init(router_url, payload).await
    }

    /// Open a connection with this `connection_init` payload.
    pub async fn connect_with_init(router_url: &str, payload: Value) -> Result<Self> {
        Self::connect_with_headers(router_url, &[], payload).await
    }

    /// Open an anonymous connection as a load balancer would pass it on: the
    /// upgrade request carries `X-Forwarded-For: <forwarded_for>`.
    pub async fn connect_forwarded_for(router_url: &str, forwarded_for: &str) -> Result<Self> {
        let headers = [("x-forwarded-for", forwarded_for)];
        Self::connect_with_headers(router_url, &headers, json!({})).await
    }

    /// Open a connection whose upgrade request carries `headers`.
    async fn connect_with_headers(
        router_url: &str,
        headers: &[(&'static str, &str)],
        payload: Value,
    ) -> Result<Self> {
        let mut request = websocket_url(router_url).into_client_request()?;
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("a valid header"),
        );
        for (name, value) in headers {
            request.headers_mut().insert(*name, value.parse()?);
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        let mut client = Self { socket };
        client
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await?;
        let ack = client.next_message(Duration::from_secs(10)).await?;
        if ack["type"] != "connection_ack" {
            bail!("the router did not acknowledge the connection: {ack}");
        }
        Ok(client)
    }

    async fn send(&mut self, message: Value) -> Result<()> {
        self.socket.send(Message::text(message.to_string())).await?;
        Ok(())
    }

    /// Start subscription `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) -> Result<()> {
        self.send(json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": query, "variables": variables }
        }))
        .await
    }

    /// Stop subscription `id`.
    pub async fn complete(&mut self, id: &str) -> Result<()> {
        self.send(json!({ "id": id, "type": "complete" })).await
    }

    /// The next protocol message (pings are answered and skipped).
    pub async fn next_message(&mut self, timeout: Duration) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .map_err(|_| anyhow!("nothing arrived within {timeout:?}"))?
                .ok_or_else(|| anyhow!("the connection closed"))??;
            match frame {
                Message::Text(text) => {
                    let message: Value = serde_json::from_str(&text)?;
                    if message["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await?;
                        continue;
                    }
                    return Ok(message);
                }
                Message::Close(frame) => bail!("the connection closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The `data` of the next `next` message; fails on anything else.
    pub async fn next_data(&mut self, timeout: Duration) -> Result<Value> {
        let message = self.next_message(timeout).await?;
        if message["type"] != "next" || message["payload"].get("errors").is_some() {
            bail!("expected data, got {message}");
        }
        Ok(message["payload"]["data"].clone())
    }

    /// Whether nothing arrives within `wait`.
    pub async fn stays_quiet(&mut self, wait: Duration) -> bool {
        self.next_message(wait).await.is_err()
    }

    /// Drop the TCP connection without a close handshake, as a lost network would.
    pub fn drop_connection(self) {
        drop(self.socket);
    }
}

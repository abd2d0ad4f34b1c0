//! graphql-transport-ws on a subgraph's `/graphql` path: served to the router
//! (its secret on the upgrade, or in the `connection_init` payload as Hive
//! Router sends it), refused to anyone else before any operation runs.

use futures::{SinkExt, StreamExt};
use nova_e2e::Stack;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn upgrade_request(
    stack: &Stack,
    secret: Option<&str>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let url = format!(
        "{}/graphql",
        stack.subgraph_url("identity").replace("http://", "ws://")
    );
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    if let Some(secret) = secret {
        request
            .headers_mut()
            .insert("x-nova-router-secret", secret.parse().unwrap());
    }
    request
}

async fn next_json<S>(socket: &mut S) -> Value
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match socket.next().await.expect("the server answers").unwrap() {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

#[tokio::test]
async fn graphql_transport_ws_on_the_graphql_path() {
    let stack = Stack::start().await.expect("stack starts");

    // Without the router's secret the connection is closed at connection_init,
    // before any operation runs.
    for payload in [
        json!({}),
        json!({ "x-nova-router-secret": "not-the-secret" }),
    ] {
        let (mut socket, _) = tokio_tungstenite::connect_async(upgrade_request(&stack, None))
            .await
            .expect("the upgrade itself is answered");
        socket
            .send(Message::text(
                json!({ "type": "connection_init", "payload": payload }).to_string(),
            ))
            .await
            .unwrap();
        match socket.next().await {
            // async-graphql closes a refused init with 1002 and the reason.
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 1002);
                assert!(frame.reason.contains("only from the Nova router"));
            }
            other => panic!("expected the connection closed, got {other:?}"),
        }
    }

    // The secret in the init payload, as Hive Router sends its subgraph headers.
    let (mut socket, _) = tokio_tungstenite::connect_async(upgrade_request(&stack, None))
        .await
        .unwrap();
    socket
        .send(Message::text(
            json!({ "type": "connection_init", "payload": { "x-nova-router-secret": stack.router_secret } })
                .to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    drop(socket);

    let (mut socket, response) =
        tokio_tungstenite::connect_async(upgrade_request(&stack, Some(&stack.router_secret)))
            .await
            .expect("the upgrade is accepted with the secret");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
        .send(Message::text(
            json!({ "type": "connection_init", "payload": {} }).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    socket
        .send(Message::text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ __typename }" } })
                .to_string(),
        ))
        .await
        .unwrap();
    let next = next_json(&mut socket).await;
    assert_eq!(next["type"], "next");
    assert_eq!(next["payload"]["data"]["__typename"], "Query");
    assert_eq!(next_json(&mut socket).await["type"], "complete");
}

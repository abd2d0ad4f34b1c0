//! Ending the live streams of a suspended account within moments.
//!
//! The router refuses a suspended account's new operations (its rate-limit
//! script reads identity's `nova:suspended:<id>` key), but it has no hook on a
//! stream that is already running (KNOWN.md), so the subgraph serving one ends
//! it, as it does at token expiry. Identity announces each suspension on the
//! Redis channel `nova:accounts:suspended` (the account id as text) after
//! writing the key; each instance of a subgraph with subscriptions listens on
//! it with one connection and ends that account's streams with one
//! `FORBIDDEN` error (reason `ACCOUNT_SUSPENDED`). An announcement made while
//! an instance is reconnecting to Redis is missed: its streams then end at
//! their token's expiry (at most `JWT_ACCESS_TOKEN_TTL_SECONDS`).

use std::time::Duration;

use async_graphql::ErrorExtensions;
use futures::{Stream, StreamExt};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::errors::ErrorCode;

/// The Redis channel identity announces suspensions on.
pub const CHANNEL: &str = "nova:accounts:suspended";

/// Announcements a stream may fall behind by; suspensions are rare.
const BUFFER: usize = 64;

/// Suspensions announced to this instance, for its streams.
#[derive(Clone)]
pub struct SuspensionNotices {
    sender: broadcast::Sender<Uuid>,
}

impl SuspensionNotices {
    /// Listen on `CHANNEL` from now on, reconnecting forever.
    pub fn start(redis_url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(redis_url)
            .map_err(|e| anyhow::anyhow!("REDIS_URL is not a Redis URL: {e}"))?;
        let notices = Self {
            sender: broadcast::channel(BUFFER).0,
        };
        let listener = notices.sender.clone();
        tokio::spawn(async move { listen_forever(client, listener).await });
        Ok(notices)
    }

    /// `events` until `account` is announced suspended; then one `FORBIDDEN`
    /// error (reason `ACCOUNT_SUSPENDED`) ends the stream.
    pub fn until_suspended<S, T>(
        &self,
        account: Uuid,
        events: S,
    ) -> impl Stream<Item = async_graphql::Result<T>> + Send + use<S, T>
    where
        S: Stream<Item = async_graphql::Result<T>> + Send,
        T: Send,
    {
        let mut receiver = self.sender.subscribe();
        let (ended, was_ended) = tokio::sync::oneshot::channel::<()>();
        let suspended = async move {
            loop {
                match receiver.recv().await {
                    Ok(id) if id == account => {
                        let _ = ended.send(());
                        return;
                    }
                    // Another account, or announcements skipped by a slow
                    // stream: keep listening.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        };
        let notice =
            futures::stream::once(
                async move { was_ended.await.ok().map(|()| Err(suspended_error())) },
            )
            .filter_map(std::future::ready);
        events.take_until(suspended).chain(notice)
    }
}

fn suspended_error() -> async_graphql::Error {
    ErrorCode::Forbidden
        .error("this account is suspended")
        .extend_with(|_, ext| ext.set("reason", "ACCOUNT_SUSPENDED"))
}

async fn listen_forever(client: redis::Client, sender: broadcast::Sender<Uuid>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if let Err(error) = listen(&client, &sender, &mut backoff).await {
            tracing::warn!(%error, "the suspension channel failed; reconnecting");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn listen(
    client: &redis::Client,
    sender: &broadcast::Sender<Uuid>,
    backoff: &mut Duration,
) -> redis::RedisResult<()> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(CHANNEL).await?;
    *backoff = Duration::from_millis(100);
    let mut messages = pubsub.into_on_message();
    while let Some(message) = messages.next().await {
        match std::str::from_utf8(message.get_payload_bytes())
            .ok()
            .and_then(|text| Uuid::parse_str(text).ok())
        {
            // An error only means no stream listens right now.
            Some(account) => drop(sender.send(account)),
            None => tracing::warn!("an unreadable suspension notice was dropped"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_notice_for_the_account_ends_its_stream_with_one_error() {
        let notices = SuspensionNotices {
            sender: broadcast::channel(BUFFER).0,
        };
        let account = Uuid::now_v7();
        let events = futures::stream::pending::<async_graphql::Result<u8>>();
        let mut stream = Box::pin(notices.until_suspended(account, events));
        // Another account's notice changes nothing; the account's ends it.
        notices.sender.send(Uuid::now_v7()).unwrap();
        notices.sender.send(account).unwrap();
        let error = stream.next().await.expect("one item").unwrap_err();
        assert_eq!(
            error.extensions.unwrap().get("reason"),
            Some(&async_graphql::Value::from("ACCOUNT_SUSPENDED"))
        );
        assert!(stream.next().await.is_none(), "then the end");
    }
}

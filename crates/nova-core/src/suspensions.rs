//! Ending the live streams of a suspended account within moments.
//!
//! The router refuses a suspended account's new operations (its rate-limit
//! script reads identity's `nova:suspended:<id>` key), but it has no hook on a
//! stream that is already running (KNOWN.md), so the subgraph serving one ends
//! it, as it does at token expiry. Identity announces each suspension on the
//! Redis channel `nova:accounts:suspended` ([`announcement`]: the account id
//! as text, followed by ` deleted` for an account its owner deleted) after
//! writing the key; each instance of a subgraph with subscriptions listens on
//! it with one connection and ends that account's streams with one error:
//! `FORBIDDEN` (reason `ACCOUNT_SUSPENDED`), or `UNAUTHENTICATED` (reason
//! `ACCOUNT_DELETED`). An announcement made while
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

/// Why an account's streams end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Suspended,
    Deleted,
}

/// The text identity publishes on `CHANNEL`.
pub fn announcement(account: Uuid, ending: Ending) -> String {
    match ending {
        Ending::Suspended => account.to_string(),
        Ending::Deleted => format!("{account} deleted"),
    }
}

fn parse_announcement(text: &str) -> Option<(Uuid, Ending)> {
    let (id, ending) = match text.split_once(' ') {
        None => (text, Ending::Suspended),
        Some((id, "deleted")) => (id, Ending::Deleted),
        Some(_) => return None,
    };
    Uuid::parse_str(id).ok().map(|id| (id, ending))
}

/// Suspensions and deletions announced to this instance, for its streams.
#[derive(Clone)]
pub struct SuspensionNotices {
    sender: broadcast::Sender<(Uuid, Ending)>,
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

    /// `events` until `account` is announced suspended or deleted; then one
    /// error saying which ends the stream.
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
        let (ended, was_ended) = tokio::sync::oneshot::channel::<Ending>();
        let suspended = async move {
            loop {
                match receiver.recv().await {
                    Ok((id, ending)) if id == account => {
                        let _ = ended.send(ending);
                        return;
                    }
                    // Another account, or announcements skipped by a slow
                    // stream: keep listening.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        };
        let notice = futures::stream::once(async move {
            was_ended.await.ok().map(|ending| Err(ending_error(ending)))
        })
        .filter_map(std::future::ready);
        events.take_until(suspended).chain(notice)
    }
}

fn ending_error(ending: Ending) -> async_graphql::Error {
    match ending {
        Ending::Suspended => ErrorCode::Forbidden
            .error("this account is suspended")
            .extend_with(|_, ext| ext.set("reason", "ACCOUNT_SUSPENDED")),
        Ending::Deleted => ErrorCode::Unauthenticated
            .error("this account was deleted")
            .extend_with(|_, ext| ext.set("reason", "ACCOUNT_DELETED")),
    }
}

async fn listen_forever(client: redis::Client, sender: broadcast::Sender<(Uuid, Ending)>) {
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
    sender: &broadcast::Sender<(Uuid, Ending)>,
    backoff: &mut Duration,
) -> redis::RedisResult<()> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(CHANNEL).await?;
    *backoff = Duration::from_millis(100);
    let mut messages = pubsub.into_on_message();
    while let Some(message) = messages.next().await {
        match std::str::from_utf8(message.get_payload_bytes())
            .ok()
            .and_then(parse_announcement)
        {
            // An error only means no stream listens right now.
            Some(notice) => drop(sender.send(notice)),
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
        notices
            .sender
            .send((Uuid::now_v7(), Ending::Suspended))
            .unwrap();
        notices.sender.send((account, Ending::Suspended)).unwrap();
        let error = stream.next().await.expect("one item").unwrap_err();
        assert_eq!(
            error.extensions.unwrap().get("reason"),
            Some(&async_graphql::Value::from("ACCOUNT_SUSPENDED"))
        );
        assert!(stream.next().await.is_none(), "then the end");
    }

    #[test]
    fn announcements_read_back_as_written() {
        let account = Uuid::now_v7();
        for ending in [Ending::Suspended, Ending::Deleted] {
            let text = announcement(account, ending);
            assert_eq!(parse_announcement(&text), Some((account, ending)));
        }
        assert_eq!(parse_announcement("not an id"), None);
        assert_eq!(parse_announcement(&format!("{account} banned")), None);
    }
}

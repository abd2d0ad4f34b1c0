//! Views: a post served to a viewer — on a home feed page (feed) or its own
//! page (content's `Query.post`) — is recorded as an event, every one, for
//! analytics' counts. Off the request's path: a resolver hands the page to
//! `ViewRecorder::record` (a channel send, no I/O) and a background task writes
//! what queued to the outbox every `FLUSH_INTERVAL` at most, the pages of one
//! surface as one event of up to `VIEWS_PER_EVENT` views (one statement and
//! one Kafka message for many pages: at 200 pages a second an event per page
//! cost more than the page's own reads); the relay publishes them like any
//! other event. At shutdown what is queued is written before the process
//! exits (`ShutdownHooks`); a crash loses at most the last interval's views.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::db::Db;
use crate::events::envelope::{PostsViewed, View, ViewedPost};
use crate::events::{self, Event};
use crate::shutdown::ShutdownHooks;

/// How long views wait in memory at most before they are written.
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Views (pages) one event carries at most: about 2 KB each for a 20-post
/// page, well under the broker's 1 MB message limit.
const VIEWS_PER_EVENT: usize = 100;
/// Events one transaction writes at most.
const EVENTS_PER_TRANSACTION: usize = 10;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where a view happened: the event it becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    HomeFeed,
    PostPage,
}

#[derive(Clone)]
pub struct ViewRecorder {
    sender: mpsc::UnboundedSender<(Surface, View)>,
}

impl ViewRecorder {
    /// Start the writer; it finishes its queue at shutdown.
    pub fn start(db: Db, hooks: &ShutdownHooks) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        // The background pool, uncounted: view writes are not a request's SQL.
        let pool = db.background_pool().clone();
        let writer = tokio::spawn(write_views(pool, receiver, stopped));
        hooks.add("views", async move {
            let _ = stop.send(());
            let _ = writer.await;
        });
        Self { sender }
    }

    /// `viewer` was served `posts` (post, author) on `surface`.
    pub fn record(
        &self,
        surface: Surface,
        viewer: Option<uuid::Uuid>,
        posts: &[(uuid::Uuid, uuid::Uuid)],
    ) {
        if posts.is_empty() {
            return;
        }
        let view = View {
            viewer_id: viewer,
            posts: posts
                .iter()
                .map(|&(post_id, author_id)| ViewedPost { post_id, author_id })
                .collect(),
        };
        if self.sender.send((surface, view)).is_err() {
            tracing::error!("view not recorded: the writer has stopped");
        }
    }
}

async fn write_views(
    db: PgPool,
    mut queue: mpsc::UnboundedReceiver<(Surface, View)>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(FLUSH_INTERVAL) => false,
            _ = &mut stop => true,
        };
        loop {
            let mut queued = Vec::new();
            while queued.len() < VIEWS_PER_EVENT * EVENTS_PER_TRANSACTION {
                match queue.try_recv() {
                    Ok(view) => queued.push(view),
                    Err(_) => break,
                }
            }
            if queued.is_empty() {
                break;
            }
            write_until_done(&db, &events_of(queued)).await;
        }
        if stopping {
            return;
        }
    }
}

/// The queued views as events: one per surface and `VIEWS_PER_EVENT` views,
/// in ascending key order (the order a transaction enqueues several keys in).
fn events_of(queued: Vec<(Surface, View)>) -> Vec<Event> {
    let (home_feed, post_page): (Vec<_>, Vec<_>) = queued
        .into_iter()
        .partition(|(surface, _)| *surface == Surface::HomeFeed);
    let mut events = Vec::new();
    for chunk in batches(home_feed) {
        events.push(Event::FeedPostsViewed(chunk));
    }
    for chunk in batches(post_page) {
        events.push(Event::PostPageViewed(chunk));
    }
    events.sort_by_key(Event::key);
    events
}

/// `queued` in payloads of `VIEWS_PER_EVENT` views at most.
fn batches(queued: Vec<(Surface, View)>) -> Vec<PostsViewed> {
    let mut views = queued.into_iter().map(|(_, view)| view).peekable();
    let mut batches = Vec::new();
    while views.peek().is_some() {
        let chunk = views.by_ref().take(VIEWS_PER_EVENT).collect();
        batches.push(PostsViewed { views: chunk });
    }
    batches
}

/// One transaction for the batch, retried until it commits (Postgres down:
/// the views wait in memory).
async fn write_until_done(db: &PgPool, batch: &[Event]) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match write(db, batch).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, events = batch.len(), "views not written; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn write(pool: &PgPool, batch: &[Event]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for event in batch {
        events::enqueue_on(&mut tx, event).await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn view() -> View {
        View {
            viewer_id: Some(Uuid::new_v4()),
            posts: vec![ViewedPost {
                post_id: Uuid::now_v7(),
                author_id: Uuid::now_v7(),
            }],
        }
    }

    #[test]
    fn queued_views_become_an_event_per_surface_and_hundred_views_in_key_order() {
        let mut queued: Vec<_> = (0..250).map(|_| (Surface::HomeFeed, view())).collect();
        queued.insert(7, (Surface::PostPage, view()));
        let events = events_of(queued);
        let mut sizes: Vec<(&str, usize)> = events
            .iter()
            .map(|event| match event {
                Event::FeedPostsViewed(e) => ("feed", e.views.len()),
                Event::PostPageViewed(e) => ("post page", e.views.len()),
                _ => unreachable!("only view events"),
            })
            .collect();
        sizes.sort();
        assert_eq!(
            sizes,
            [("feed", 50), ("feed", 100), ("feed", 100), ("post page", 1)]
        );
        let keys: Vec<Uuid> = events.iter().map(Event::key).collect();
        assert!(keys.is_sorted(), "enqueued in ascending key order");
    }
}

//! Views: a post served to a viewer — on a home feed page (feed) or its own
//! page (content's `Query.post`) — is recorded as an event, every one, for
//! analytics' counts. Off the request's path: a resolver hands the page to
//! `ViewRecorder::record` (a channel send, no I/O) and a background task writes
//! what queued to the outbox, many events in one transaction, every
//! `FLUSH_INTERVAL` at most; the relay publishes them like any other event.
//! At shutdown what is queued is written before the process exits
//! (`ShutdownHooks`); a crash loses at most the last interval's views.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::db::Db;
use crate::events::envelope::{PostsViewed, ViewedPost};
use crate::events::{self, Event};
use crate::shutdown::ShutdownHooks;

/// How long views wait in memory at most before they are written.
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Events one transaction writes at most.
const MAX_BATCH: usize = 500;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where a view happened: the event it becomes.
#[derive(Clone, Copy, Debug)]
pub enum Surface {
    HomeFeed,
    PostPage,
}

#[derive(Clone)]
pub struct ViewRecorder {
    sender: mpsc::UnboundedSender<Event>,
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
        let viewed = PostsViewed {
            viewer_id: viewer,
            posts: posts
                .iter()
                .map(|&(post_id, author_id)| ViewedPost { post_id, author_id })
                .collect(),
        };
        let event = match surface {
            Surface::HomeFeed => Event::FeedPostsViewed(viewed),
            Surface::PostPage => Event::PostPageViewed(viewed),
        };
        if self.sender.send(event).is_err() {
            tracing::error!("view not recorded: the writer has stopped");
        }
    }
}

async fn write_views(
    db: PgPool,
    mut queue: mpsc::UnboundedReceiver<Event>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(FLUSH_INTERVAL) => false,
            _ = &mut stop => true,
        };
        loop {
            let mut batch = Vec::new();
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                break;
            }
            write_until_done(&db, &batch).await;
        }
        if stopping {
            return;
        }
    }
}

/// One transaction for the batch, retried until it commits (Postgres down:
/// the views wait in memory).
async fn write_until_done(db: &PgPool, batch: &[Event]) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match write(db, batch).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, views = batch.len(), "views not written; retrying");
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

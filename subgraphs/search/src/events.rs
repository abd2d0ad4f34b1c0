//! Events of search.
//!
//! Emits nothing. Consumes (consumer `search.index.<SEARCH_INSTANCE>`: each
//! instance keeps its own index and its own consumer group) `nova.identity`
//! (`identity.user_registered`, `identity.user_deleted`: the account's user
//! document and posts become empty tombstones and leave the index),
//! `nova.users` (`users.profile_changed`),
//! and `nova.content` (`content.post_created`, `post_edited`, `post_restored`,
//! `post_deleted`). Events carry ids, not text: for a user or a post it asks
//! the owner's export for the document as it is now (`backfill::refresh_*`;
//! an owner that does not answer is an outage, retried);
//! blocks are asked of social at each search (`query.rs`). `apply` updates search's
//! tables and, in the same transaction, queues the document for this
//! instance's index; the index writer (`indexing.rs`) writes queued documents
//! in batches. An index write lost in a crash is redone from the queue.

use std::sync::Arc;

use nova_core::events::envelope::{PostCreated, PostEdited, PostModerated};
use nova_core::events::{topic_of, Event, EventHandler};
use sqlx::PgConnection;

use crate::backfill::{self, Owners};
use crate::indexing::IndexSync;
use crate::store::{self, Kind};

pub struct Indexer {
    name: &'static str,
    index: Arc<IndexSync>,
    owners: Arc<Owners>,
}

impl Indexer {
    pub fn new(index: Arc<IndexSync>, owners: Arc<Owners>) -> Self {
        // One name per instance for the process's life: its consumer group.
        let name = format!("search.index.{}", index.instance());
        let name: &'static str = Box::leak(name.into_boxed_str());
        Self {
            name,
            index,
            owners,
        }
    }
}

/// An owner that did not answer: the consumer retries the event, for as long
/// as it takes.
fn outage(error: anyhow::Error) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(format!(
        "an owner did not give the document: {error:#}"
    )))
}

impl EventHandler for Indexer {
    fn name(&self) -> &'static str {
        self.name
    }

    fn topics(&self) -> Vec<String> {
        ["identity", "users", "content"]
            .into_iter()
            .map(topic_of)
            .collect()
    }

    async fn apply(&self, tx: &mut PgConnection, event: &Event) -> Result<bool, sqlx::Error> {
        let owners = &*self.owners;
        let changed = match event {
            Event::UserRegistered(e) => {
                backfill::refresh_username(tx, owners, e.user_id)
                    .await
                    .map_err(outage)?;
                (Kind::User, e.user_id)
            }
            Event::ProfileChanged(e) => {
                backfill::refresh_profile(tx, owners, e.user_id)
                    .await
                    .map_err(outage)?;
                (Kind::User, e.user_id)
            }
            // The post's text as content serves it now.
            Event::PostCreated(PostCreated { post_id, .. })
            | Event::PostEdited(PostEdited { post_id, .. })
            | Event::PostRestored(PostModerated { post_id, .. }) => {
                backfill::refresh_post(tx, owners, *post_id)
                    .await
                    .map_err(outage)?;
                (Kind::Post, *post_id)
            }
            Event::PostDeleted(e) => {
                store::tombstone_post(tx, e.post_id, e.author_id).await?;
                (Kind::Post, e.post_id)
            }
            Event::UserDeleted(e) => {
                let posts = store::erase_user(tx, e.user_id).await?;
                for post in posts {
                    store::enqueue(tx, self.index.instance(), Kind::Post, post).await?;
                }
                (Kind::User, e.user_id)
            }
            _ => return Ok(false),
        };
        let (kind, id) = changed;
        store::enqueue(tx, self.index.instance(), kind, id).await?;
        Ok(true)
    }

    async fn after_commit(&self, event: &Event) {
        if let Event::UserDeleted(_) = event {
            self.index.request_purge();
        }
        self.index.wake();
    }
}

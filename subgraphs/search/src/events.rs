//! Events of search.
//!
//! Emits nothing. Consumes (consumer `search.index.<SEARCH_INSTANCE>`: each
//! instance keeps its own index and its own consumer group) `nova.identity`
//! (`identity.user_registered`, `identity.user_deleted`: the account's user
//! document and posts become empty tombstones and leave the index),
//! `nova.users` (`users.profile_changed`),
//! and `nova.content` (`content.post_created`, `post_edited`, `post_deleted`);
//! blocks are asked of social at each search (`query.rs`). `apply` updates search's
//! tables and, in the same transaction, queues the document for this
//! instance's index; the index writer (`indexing.rs`) writes queued documents
//! in batches. An index write lost in a crash is redone from the queue.

use std::sync::Arc;

use nova_core::events::envelope::{PostCreated, PostEdited};
use nova_core::events::{topic_of, Event, EventHandler};
use sqlx::PgConnection;

use crate::indexing::IndexSync;
use crate::store::{self, Kind};

pub struct Indexer {
    name: &'static str,
    index: Arc<IndexSync>,
}

impl Indexer {
    pub fn new(index: Arc<IndexSync>) -> Self {
        // One name per instance for the process's life: its consumer group.
        let name = format!("search.index.{}", index.instance());
        let name: &'static str = Box::leak(name.into_boxed_str());
        Self { name, index }
    }
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
        let changed = match event {
            Event::UserRegistered(e) => {
                store::upsert_username(tx, e.user_id, &e.username).await?;
                (Kind::User, e.user_id)
            }
            Event::ProfileChanged(e) => {
                store::upsert_profile(tx, e.user_id, e.display_name.as_deref(), &e.bio).await?;
                (Kind::User, e.user_id)
            }
            // A post's text as of its creation or its last edit.
            Event::PostCreated(PostCreated {
                post_id,
                author_id,
                body,
                hashtags,
                created_at: at,
                ..
            })
            | Event::PostEdited(PostEdited {
                post_id,
                author_id,
                body,
                hashtags,
                edited_at: at,
            }) => {
                store::upsert_post(tx, *post_id, *author_id, body, hashtags, *at).await?;
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

    async fn after_commit(&self, _event: &Event) {
        self.index.wake();
    }
}

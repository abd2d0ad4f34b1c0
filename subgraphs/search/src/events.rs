//! Events of search.
//!
//! Emits nothing. Consumes (consumer `search.index.<SEARCH_INSTANCE>`: each
//! instance keeps its own index and its own consumer group) `nova.identity`
//! (`identity.user_registered`), `nova.users` (`users.profile_changed`),
//! `nova.content` (`content.post_created`, `post_edited`, `post_deleted`) and
//! `nova.social` (`social.blocked`, `unblocked`). `apply` updates search's
//! tables; `external_effects` then writes the document as those tables hold it
//! into the index (or removes it) — on a redelivery too, so an index write lost
//! in a crash is redone.

use std::sync::Arc;

use nova_core::events::{topic_of, Event, EventHandler};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::engine::SearchEngine;
use crate::index::TantivyEngine;
use crate::store;

pub struct Indexer {
    name: &'static str,
    pool: PgPool,
    engine: Arc<TantivyEngine>,
}

impl Indexer {
    pub fn new(instance: &str, pool: PgPool, engine: Arc<TantivyEngine>) -> Self {
        // One name per instance for the process's life: its consumer group.
        let name: &'static str = Box::leak(format!("search.index.{instance}").into_boxed_str());
        Self { name, pool, engine }
    }

    async fn reindex_user(&self, user: Uuid) -> anyhow::Result<()> {
        let document = store::user_document(&self.pool, user).await?;
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || match document {
            Some(document) => engine.upsert(&[document]),
            None => Ok(()),
        })
        .await?
    }

    async fn reindex_post(&self, post: Uuid) -> anyhow::Result<()> {
        let document = store::post_document(&self.pool, post).await?;
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || match document {
            Some(document) => engine.upsert(&[document]),
            None => engine.delete(&[post]),
        })
        .await?
    }
}

impl EventHandler for Indexer {
    fn name(&self) -> &'static str {
        self.name
    }

    fn topics(&self) -> Vec<String> {
        ["identity", "users", "content", "social"]
            .into_iter()
            .map(topic_of)
            .collect()
    }

    async fn apply(&self, tx: &mut PgConnection, event: &Event) -> Result<bool, sqlx::Error> {
        match event {
            Event::UserRegistered(e) => store::upsert_username(tx, e.user_id, &e.username).await?,
            Event::ProfileChanged(e) => {
                store::upsert_profile(tx, e.user_id, e.display_name.as_deref(), &e.bio).await?
            }
            Event::PostCreated(e) => {
                store::upsert_post(
                    tx,
                    e.post_id,
                    e.author_id,
                    &e.body,
                    &e.hashtags,
                    e.created_at,
                )
                .await?
            }
            Event::PostEdited(e) => {
                store::upsert_post(
                    tx,
                    e.post_id,
                    e.author_id,
                    &e.body,
                    &e.hashtags,
                    e.edited_at,
                )
                .await?
            }
            Event::PostDeleted(e) => store::tombstone_post(tx, e.post_id, e.author_id).await?,
            Event::Blocked(e) => store::set_block(tx, e.blocker_id, e.blocked_id, true).await?,
            Event::Unblocked(e) => store::set_block(tx, e.blocker_id, e.blocked_id, false).await?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    async fn external_effects(&self, event: &Event) -> anyhow::Result<()> {
        match event {
            Event::UserRegistered(e) => self.reindex_user(e.user_id).await,
            Event::ProfileChanged(e) => self.reindex_user(e.user_id).await,
            Event::PostCreated(e) => self.reindex_post(e.post_id).await,
            Event::PostEdited(e) => self.reindex_post(e.post_id).await,
            Event::PostDeleted(e) => self.reindex_post(e.post_id).await,
            _ => Ok(()),
        }
    }
}

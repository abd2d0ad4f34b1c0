//! Events of media.
//!
//! Emits (topic `nova.media`): `media.uploaded` at `completeUpload`.
//! Consumes (consumer `media.processor`): `media.uploaded` → the upload's
//! variants (`worker.rs`); `content.post_deleted` → the post's media are
//! deleted (hidden at once, objects removed by the next sweep);
//! `content.post_taken_down` / `post_restored` → the post's media are hidden
//! from everyone / shown again, objects kept; `identity.user_deleted` → every
//! media of the account and its data exports are deleted (objects removed by
//! the next sweep). The processing
//! is an external effect: it runs after the event is recorded and again on
//! every redelivery until it has finished.

use nova_core::attachments::post_use;
use nova_core::events::{topic_of, Event, EventHandler};
use sqlx::PgConnection;

use crate::store;
use crate::worker::Worker;

pub struct Processor {
    pub worker: Worker,
}

impl EventHandler for Processor {
    fn name(&self) -> &'static str {
        "media.processor"
    }

    fn topics(&self) -> Vec<String> {
        vec![topic_of("media"), topic_of("content"), topic_of("identity")]
    }

    async fn apply(&self, tx: &mut PgConnection, event: &Event) -> Result<bool, sqlx::Error> {
        match event {
            Event::MediaUploaded(_) => Ok(true),
            Event::PostDeleted(deleted) => {
                let used_by = post_use(deleted.post_id);
                store::delete_others_used_by(tx, &used_by, &[]).await?;
                Ok(true)
            }
            Event::PostTakenDown(post) => {
                store::set_hidden_used_by(tx, &post_use(post.post_id), true).await?;
                Ok(true)
            }
            Event::PostRestored(post) => {
                store::set_hidden_used_by(tx, &post_use(post.post_id), false).await?;
                Ok(true)
            }
            Event::UserDeleted(deleted) => {
                store::delete_owned_by(tx, deleted.user_id).await?;
                store::exports::expire_exports_of(tx, deleted.user_id).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn external_effects(&self, event: &Event) -> anyhow::Result<()> {
        match event {
            Event::MediaUploaded(uploaded) => self.worker.process(uploaded.media_id).await,
            _ => Ok(()),
        }
    }
}

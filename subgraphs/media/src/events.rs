//! Events of media.
//!
//! Emits (topic `nova.media`): `media.uploaded` at `completeUpload`.
//! Consumes (consumer `media.processor`): `media.uploaded` → the upload's
//! variants (`processing`); `content.post_deleted` → the post's media are
//! deleted (hidden at once, objects removed by the next sweep). The work is an external effect: it runs after the
//! event is recorded and again on every redelivery until it has finished, and
//! it starts from the row's status, so a redelivered event finds the media
//! READY (or FAILED) and makes nothing twice. Variant keys are fixed per
//! media, so a run cut short and redone overwrites, never adds.

use nova_core::attachments::post_use;
use nova_core::events::{topic_of, Event, EventHandler};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::processing::process_image;
use crate::settings::Limits;
use crate::storage::ObjectStore;
use crate::store::{self, VariantRow};

/// Content type of every variant.
pub const VARIANT_TYPE: &str = "image/jpeg";

pub struct Processor {
    pub pool: PgPool,
    pub store: ObjectStore,
    pub limits: Limits,
}

impl Processor {
    async fn process(&self, media_id: Uuid) -> anyhow::Result<()> {
        let Some(row) = store::media_for_processing(&self.pool, media_id).await? else {
            return Ok(());
        };
        if row.status != "processing" {
            return Ok(());
        }
        // An outage (store or database) is an error: retried until it passes.
        let max = u64::try_from(self.limits.max_image_bytes).unwrap_or(0);
        let bytes = self.store.read(&row.object_key, max).await?;
        let limits = self.limits.clone();
        let processed = tokio::task::spawn_blocking(move || process_image(&bytes, &limits)).await?;
        let processed = match processed {
            Ok(processed) => processed,
            Err(refused) => {
                tracing::info!(media = %media_id, reason = %refused, "upload refused");
                store::fail(&self.pool, media_id, &refused.0).await?;
                return Ok(());
            }
        };
        let mut variants = Vec::with_capacity(processed.variants.len());
        for variant in processed.variants {
            let key = format!("variants/{media_id}/{}.jpg", variant.name);
            let byte_size = i64::try_from(variant.bytes.len())?;
            self.store.write(&key, VARIANT_TYPE, variant.bytes).await?;
            variants.push(VariantRow {
                media_id,
                name: variant.name,
                width: i32::try_from(variant.width)?,
                height: i32::try_from(variant.height)?,
                content_type: VARIANT_TYPE.into(),
                object_key: key,
                byte_size,
            });
        }
        let size = (
            i32::try_from(processed.width)?,
            i32::try_from(processed.height)?,
        );
        store::finish(&self.pool, media_id, size, None, &variants).await?;
        Ok(())
    }
}

impl EventHandler for Processor {
    fn name(&self) -> &'static str {
        "media.processor"
    }

    fn topics(&self) -> Vec<String> {
        vec![topic_of("media"), topic_of("content")]
    }

    async fn apply(&self, tx: &mut PgConnection, event: &Event) -> Result<bool, sqlx::Error> {
        match event {
            Event::MediaUploaded(_) => Ok(true),
            Event::PostDeleted(deleted) => {
                let used_by = post_use(deleted.post_id);
                store::delete_others_used_by(tx, &used_by, &[]).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn external_effects(&self, event: &Event) -> anyhow::Result<()> {
        match event {
            Event::MediaUploaded(uploaded) => self.process(uploaded.media_id).await,
            _ => Ok(()),
        }
    }
}

//! The processing of one upload, as `media.processor` runs it (events.rs):
//! from the row's status, so a redelivered event finds the media READY (or
//! FAILED) and makes nothing twice. Variant keys are fixed per media, so a run
//! cut short and redone overwrites, never adds. A refusal (the file cannot be
//! read) is FAILED with its reason; an outage (store, database, a tool that
//! cannot start) is an error, and the consumer retries.

use std::path::PathBuf;

use sqlx::PgPool;
use uuid::Uuid;

use crate::kinds::Kind;
use crate::processing::{process_image, ProcessedImage};
use crate::settings::Limits;
use crate::storage::ObjectStore;
use crate::store::{self, MediaRow, VariantRow};
use crate::video::{muxer, process_video, VideoError};

/// Content type of every image variant.
pub const VARIANT_TYPE: &str = "image/jpeg";

#[derive(Clone)]
pub struct Worker {
    pub pool: PgPool,
    pub store: ObjectStore,
    pub limits: Limits,
}

/// A temporary file removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Worker {
    pub async fn process(&self, media_id: Uuid) -> anyhow::Result<()> {
        let Some(row) = store::media_for_processing(&self.pool, media_id).await? else {
            return Ok(());
        };
        if row.status != "processing" {
            return Ok(());
        }
        match Kind::parse(&row.kind) {
            Some(Kind::Video) => self.video(row).await,
            _ => self.image(row).await,
        }
    }

    async fn image(&self, row: MediaRow) -> anyhow::Result<()> {
        let max = u64::try_from(self.limits.max_image_bytes).unwrap_or(0);
        let bytes = self.store.read(&row.object_key, max).await?;
        let limits = self.limits.clone();
        match tokio::task::spawn_blocking(move || process_image(&bytes, &limits)).await? {
            Ok(image) => {
                let variants = self.store_images(row.media_id, "", image.variants).await?;
                let size = (i32::try_from(image.width)?, i32::try_from(image.height)?);
                store::finish(&self.pool, row.media_id, size, None, &variants).await?;
                Ok(())
            }
            Err(refused) => self.refuse(row.media_id, &refused.0).await,
        }
    }

    async fn video(&self, row: MediaRow) -> anyhow::Result<()> {
        let content_type = row.content_type.clone().unwrap_or_default();
        let Some(format) = muxer(&content_type) else {
            return self
                .refuse(row.media_id, "the file is not an accepted video")
                .await;
        };
        let file = TempFile(std::env::temp_dir().join(format!("nova-media-{}", row.media_id)));
        let max = u64::try_from(self.limits.max_video_bytes).unwrap_or(0);
        self.store.download(&row.object_key, &file.0, max).await?;
        let video = match process_video(&file.0, format, &self.limits).await {
            Ok(video) => video,
            Err(VideoError::Refused(refused)) => {
                return self.refuse(row.media_id, &refused.0).await
            }
            Err(VideoError::Outage(error)) => return Err(error),
        };
        let clean = TempFile(video.clean.clone());
        let ProcessedImage {
            variants: poster, ..
        } = video.poster;
        let mut variants = self.store_images(row.media_id, "poster-", poster).await?;
        let key = format!("variants/{}/video", row.media_id);
        self.store.write_file(&key, &content_type, &clean.0).await?;
        variants.push(VariantRow {
            media_id: row.media_id,
            name: "video".into(),
            width: i32::try_from(video.width)?,
            height: i32::try_from(video.height)?,
            content_type,
            object_key: key,
            byte_size: i64::try_from(std::fs::metadata(&clean.0)?.len())?,
        });
        let size = (i32::try_from(video.width)?, i32::try_from(video.height)?);
        store::finish(
            &self.pool,
            row.media_id,
            size,
            Some(video.duration_ms),
            &variants,
        )
        .await?;
        Ok(())
    }

    async fn refuse(&self, media_id: Uuid, reason: &str) -> anyhow::Result<()> {
        tracing::info!(media = %media_id, reason, "upload refused");
        store::fail(&self.pool, media_id, reason).await?;
        Ok(())
    }

    /// Put JPEG variants in the store; their rows.
    async fn store_images(
        &self,
        media_id: Uuid,
        prefix: &str,
        images: Vec<crate::processing::Variant>,
    ) -> anyhow::Result<Vec<VariantRow>> {
        let mut rows = Vec::with_capacity(images.len());
        for image in images {
            let name = format!("{prefix}{}", image.name);
            let key = format!("variants/{media_id}/{name}.jpg");
            let byte_size = i64::try_from(image.bytes.len())?;
            self.store.write(&key, VARIANT_TYPE, image.bytes).await?;
            rows.push(VariantRow {
                media_id,
                name,
                width: i32::try_from(image.width)?,
                height: i32::try_from(image.height)?,
                content_type: VARIANT_TYPE.into(),
                object_key: key,
                byte_size,
            });
        }
        Ok(rows)
    }
}

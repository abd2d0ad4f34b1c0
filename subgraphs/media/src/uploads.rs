//! Upload intents and their completion: what the mutations do. An intent is a
//! row and a presigned PUT; completion checks the stored bytes (size as
//! declared, type read from the bytes) and hands the upload to processing
//! through `media.uploaded`, in the same transaction as its status.

use std::time::Duration;

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use nova_core::errors::{bad_input, ErrorCode, OrInternal};
use nova_core::events::envelope::MediaUploaded;
use nova_core::events::{enqueue, Event};
use uuid::Uuid;

use crate::kinds::{sniff, Kind, SNIFF_BYTES};
use crate::settings::{Limits, MediaSettings};
use crate::storage::{ObjectStore, PresignedUpload};
use crate::store::{self, MediaRow, NewIntent};

#[derive(Clone)]
pub struct Uploads {
    pub db: Db,
    pub store: ObjectStore,
    pub limits: Limits,
    upload_ttl: Duration,
    view_ttl: Duration,
}

pub struct Intent {
    pub row: MediaRow,
    pub upload: PresignedUpload,
    pub expires_at: DateTime<Utc>,
}

/// Where an upload's bytes go: one object per media, named by nothing the
/// client chose.
pub fn upload_key(media_id: Uuid) -> String {
    format!("uploads/{media_id}")
}

impl Uploads {
    pub fn new(db: Db, store: ObjectStore, settings: &MediaSettings) -> Self {
        Self {
            db,
            store,
            limits: settings.limits.clone(),
            upload_ttl: settings.upload_url_ttl,
            view_ttl: settings.view_url_ttl,
        }
    }

    pub async fn create_intent(
        &self,
        owner: Uuid,
        kind: Kind,
        content_type: &str,
        byte_size: i64,
    ) -> async_graphql::Result<Intent> {
        let content_type = content_type.trim().to_ascii_lowercase();
        if !kind.types().contains(&content_type.as_str()) {
            return Err(bad_input(
                "contentType",
                format!(
                    "a {} upload must be one of {}",
                    kind.as_str(),
                    kind.types().join(", ")
                ),
            ));
        }
        let max = kind.max_bytes(&self.limits);
        if !(1..=max).contains(&byte_size) {
            return Err(bad_input(
                "byteSize",
                format!("a {} upload is 1 to {max} bytes", kind.as_str()),
            ));
        }
        let media_id = Uuid::new_v4();
        let key = upload_key(media_id);
        let expires_at = Utc::now() + self.upload_ttl;
        let upload = self
            .store
            .presign_upload(&key, &content_type, byte_size, self.upload_ttl)
            .await
            .or_internal()?;
        let intent = NewIntent {
            media_id,
            owner_id: owner,
            kind: kind.as_str(),
            declared_type: &content_type,
            byte_size,
            object_key: &key,
            upload_expires_at: expires_at,
        };
        store::insert_intent(&self.db, &intent)
            .await
            .or_internal()?;
        let row = MediaRow {
            media_id,
            owner_id: owner,
            kind: kind.as_str().into(),
            declared_type: content_type,
            byte_size,
            status: "awaiting_upload".into(),
            failure: None,
            content_type: None,
            width: None,
            height: None,
            duration_ms: None,
            object_key: key,
        };
        Ok(Intent {
            row,
            upload,
            expires_at,
        })
    }

    /// Check the stored upload and start processing it. A refused upload is
    /// FAILED with its reason and its object removed; nothing stays half-made.
    pub async fn complete(&self, owner: Uuid, media_id: Uuid) -> async_graphql::Result<MediaRow> {
        let Some(mut row) = store::media_rows(&self.db, &[media_id])
            .await
            .or_internal()?
            .pop()
        else {
            return Err(ErrorCode::NotFound.error("no such upload"));
        };
        if row.owner_id != owner {
            return Err(ErrorCode::Forbidden.error("this upload is not yours"));
        }
        if row.status != "awaiting_upload" {
            return Err(bad_input("mediaId", "this upload was completed already"));
        }
        let kind = Kind::parse(&row.kind).unwrap_or(Kind::Image);
        let Some(size) = self.store.size_of(&row.object_key).await.or_internal()? else {
            return Err(bad_input(
                "mediaId",
                "nothing was uploaded: PUT the file to the intent's uploadUrl first",
            ));
        };
        if size != row.byte_size {
            let reason = format!(
                "the upload holds {size} bytes, not the {} declared",
                row.byte_size
            );
            return Err(self.refuse(&row, reason).await);
        }
        let first = self
            .store
            .first_bytes(&row.object_key, SNIFF_BYTES)
            .await
            .or_internal()?;
        let Some(content_type) = sniff(kind, &first) else {
            let reason = format!(
                "the file is not of an accepted {} type ({})",
                kind.as_str(),
                kind.types().join(", ")
            );
            return Err(self.refuse(&row, reason).await);
        };
        let mut tx = self.db.begin().await.or_internal()?;
        if !store::start_processing(&mut tx, media_id, owner, content_type)
            .await
            .or_internal()?
        {
            return Err(bad_input("mediaId", "this upload was completed already"));
        }
        let event = Event::MediaUploaded(MediaUploaded {
            media_id,
            owner_id: owner,
            content_type: content_type.into(),
        });
        enqueue(&self.db, &mut tx, &event).await.or_internal()?;
        tx.commit().await.or_internal()?;
        row.status = "processing".into();
        row.content_type = Some(content_type.into());
        Ok(row)
    }

    /// FAILED with `reason`, the object removed; the error the client gets.
    async fn refuse(&self, row: &MediaRow, reason: String) -> async_graphql::Error {
        if let Err(error) = store::fail(self.db.background_pool(), row.media_id, &reason).await {
            return nova_core::errors::internal(error);
        }
        if let Err(error) = self
            .store
            .delete(std::slice::from_ref(&row.object_key))
            .await
        {
            // The sweep does not see FAILED rows: say so, the object stays.
            tracing::warn!(media = %row.media_id, error = format!("{error:#}"), "refused upload's object not removed");
        }
        bad_input("mediaId", reason)
    }

    /// A short-lived GET URL for one of the media's objects.
    pub async fn view_url(&self, key: &str) -> anyhow::Result<String> {
        self.store.presign_view(key, self.view_ttl).await
    }
}

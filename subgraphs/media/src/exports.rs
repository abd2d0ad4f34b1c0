//! `exportMyData`: a JSON archive of everything Nova holds on the caller.
//! Media asks every owner of personal data for its section
//! (`nova_core::personal_data`, all at once), adds the caller's media (with
//! view URLs), writes the archive to the bucket and hands out a presigned URL
//! that works for `EXPORT_URL_TTL_SECONDS`; the sweep then deletes it.
//! docs/deletion.md ("Export").

use std::time::Duration;

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use nova_core::internal::InternalClient;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::storage::ObjectStore;
use crate::store::exports::{self, OwnedMedia};

/// The archive's format, the first field of every archive.
pub const FORMAT: &str = "nova-export/1";
/// One archive per user per this long.
pub const MIN_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);

/// A made archive.
pub struct Archive {
    pub url: String,
    pub expires_at: DateTime<Utc>,
    pub byte_size: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("an export was made less than a minute ago; try again in {0} s")]
    TooSoon(i64),
    #[error("{0} did not give its part of the export")]
    OwnerUnavailable(&'static str),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

#[derive(Clone)]
pub struct Exporter {
    db: Db,
    objects: ObjectStore,
    /// Each owner's name (its section's key) and its internal client.
    owners: Vec<(&'static str, InternalClient)>,
    ttl: Duration,
}

impl Exporter {
    pub fn new(
        db: Db,
        objects: ObjectStore,
        owners: Vec<(&'static str, InternalClient)>,
        ttl: Duration,
    ) -> Self {
        Self {
            db,
            objects,
            owners,
            ttl,
        }
    }

    /// Make `user`'s archive. Nothing is stored unless every section came.
    pub async fn export(&self, user: Uuid) -> Result<Archive, ExportError> {
        let now = Utc::now();
        if let Some(latest) = exports::latest_export(&self.db, user)
            .await
            .map_err(anyhow::Error::from)?
        {
            let wait = (latest + MIN_INTERVAL - now).num_seconds();
            if wait > 0 {
                return Err(ExportError::TooSoon(wait));
            }
        }
        let asked = self.owners.iter().map(|(name, owner)| async move {
            nova_core::personal_data::section_of(owner, user)
                .await
                .map(|section| (*name, section))
                .map_err(|error| {
                    tracing::warn!(%error, owner = name, "no export section");
                    ExportError::OwnerUnavailable(name)
                })
        });
        let sections = futures::future::try_join_all(asked).await?;
        let mut archive = Map::new();
        archive.insert("format".into(), json!(FORMAT));
        archive.insert("userId".into(), json!(user));
        archive.insert("exportedAt".into(), json!(now));
        for (name, section) in sections {
            archive.insert(name.into(), section);
        }
        archive.insert("media".into(), self.media_section(user).await?);
        let bytes =
            serde_json::to_vec_pretty(&Value::Object(archive)).map_err(anyhow::Error::from)?;
        let byte_size = bytes.len() as i64;
        let export_id = Uuid::now_v7();
        let key = format!("exports/{user}/{export_id}.json");
        self.objects.write(&key, "application/json", bytes).await?;
        let expires_at = now + chrono::Duration::from_std(self.ttl).map_err(anyhow::Error::from)?;
        exports::record_export(&self.db, export_id, user, &key, byte_size, expires_at)
            .await
            .map_err(anyhow::Error::from)?;
        let url = self.objects.presign_view(&key, self.ttl).await?;
        Ok(Archive {
            url,
            expires_at,
            byte_size,
        })
    }

    /// The caller's media: what is stored, and a URL to each original that
    /// works as long as the archive's.
    async fn media_section(&self, user: Uuid) -> Result<Value, ExportError> {
        let owned = exports::owned_media(&self.db, user)
            .await
            .map_err(anyhow::Error::from)?;
        let mut media = Vec::with_capacity(owned.len());
        for item in owned {
            let url = if item.status == "ready" {
                Some(
                    self.objects
                        .presign_view(&item.object_key, self.ttl)
                        .await?,
                )
            } else {
                None
            };
            media.push(media_entry(item, url));
        }
        Ok(json!({ "media": media }))
    }
}

fn media_entry(item: OwnedMedia, url: Option<String>) -> Value {
    json!({
        "id": item.media_id,
        "kind": item.kind,
        "status": item.status,
        "contentType": item.content_type,
        "byteSize": item.byte_size,
        "width": item.width,
        "height": item.height,
        "createdAt": item.created_at,
        "usedBy": item.used_by,
        "url": url,
    })
}

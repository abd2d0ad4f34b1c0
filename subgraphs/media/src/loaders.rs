//! DataLoaders: one SQL statement per batch of media (a feed page of posts
//! with photos asks once for all of them, and once for their variants).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use nova_core::db::Db;
use uuid::Uuid;

use crate::store::{self, MediaRow, VariantRow};

pub struct MediaLoader {
    pub db: Db,
}

impl Loader<Uuid> for MediaLoader {
    type Value = MediaRow;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, MediaRow>, Self::Error> {
        let rows = store::media_rows(&self.db, ids).await.map_err(Arc::new)?;
        Ok(rows.into_iter().map(|r| (r.media_id, r)).collect())
    }
}

pub struct VariantsLoader {
    pub db: Db,
}

impl Loader<Uuid> for VariantsLoader {
    type Value = Vec<VariantRow>;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<VariantRow>>, Self::Error> {
        let rows = store::variants_of(&self.db, ids).await.map_err(Arc::new)?;
        let mut by_media: HashMap<Uuid, Vec<VariantRow>> = HashMap::new();
        for row in rows {
            by_media.entry(row.media_id).or_default().push(row);
        }
        Ok(by_media)
    }
}

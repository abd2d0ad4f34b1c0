//! DataLoaders: one SQL statement per batch of keys.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use nova_core::db::Db;
use uuid::Uuid;

use crate::store::{self, Profile};

/// Profiles by user id. A user without a row gets the default profile, so every
/// requested key is answered.
pub struct ProfileLoader {
    pub db: Db,
}

impl Loader<Uuid> for ProfileLoader {
    type Value = Profile;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Profile>, Self::Error> {
        let mut found: HashMap<Uuid, Profile> = store::profiles_by_user_ids(&self.db, ids)
            .await
            .map_err(Arc::new)?
            .into_iter()
            .collect();
        for id in ids {
            found.entry(*id).or_default();
        }
        Ok(found)
    }
}

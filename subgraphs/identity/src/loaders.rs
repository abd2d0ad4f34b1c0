//! DataLoaders: one SQL statement per batch of keys.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use nova_core::db::Db;
use uuid::Uuid;

use crate::store::{self, Account};

pub struct AccountLoader {
    pub db: Db,
}

impl Loader<Uuid> for AccountLoader {
    type Value = Account;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Account>, Self::Error> {
        let accounts = store::accounts_by_ids(&self.db, ids)
            .await
            .map_err(Arc::new)?;
        Ok(accounts.into_iter().map(|a| (a.id, a)).collect())
    }
}

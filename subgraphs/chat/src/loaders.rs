//! DataLoaders: one SQL statement per batch, so a page of conversations with
//! their members, unread counts and latest messages costs one statement each.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use nova_core::db::Db;
use uuid::Uuid;

use crate::blocks::Blocks;
use crate::store::{self, ChatError, MessageRow, MessageWindow};

pub struct MessageWindowLoader {
    pub db: Db,
    pub blocks: Blocks,
}

impl Loader<MessageWindow> for MessageWindowLoader {
    type Value = Vec<MessageRow>;
    type Error = Arc<ChatError>;

    async fn load(
        &self,
        keys: &[MessageWindow],
    ) -> Result<HashMap<MessageWindow, Vec<MessageRow>>, Self::Error> {
        let pairs: Vec<(Uuid, Uuid)> = keys.iter().map(|w| (w.conversation_id, w.viewer)).collect();
        let hidden = self.blocks.hidden_senders(&self.db, &pairs).await?;
        Ok(store::message_windows(&self.db, keys, &hidden)
            .await
            .map_err(ChatError::from)?)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnreadKey {
    pub reader: Uuid,
    pub conversation_id: Uuid,
}

pub struct UnreadLoader {
    pub db: Db,
    pub blocks: Blocks,
}

impl Loader<UnreadKey> for UnreadLoader {
    type Value = i64;
    type Error = Arc<ChatError>;

    async fn load(&self, keys: &[UnreadKey]) -> Result<HashMap<UnreadKey, i64>, Self::Error> {
        let pairs: Vec<(Uuid, Uuid)> = keys.iter().map(|k| (k.conversation_id, k.reader)).collect();
        let hidden = self.blocks.hidden_senders(&self.db, &pairs).await?;
        // One statement per reader in the batch (in practice one: the caller).
        let mut by_reader: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for key in keys {
            by_reader
                .entry(key.reader)
                .or_default()
                .push(key.conversation_id);
        }
        let mut result = HashMap::new();
        for (reader, conversations) in by_reader {
            let counts = store::unread_counts(&self.db, reader, &conversations, &hidden)
                .await
                .map_err(ChatError::from)?;
            result.extend(counts.into_iter().map(|(conversation_id, n)| {
                (
                    UnreadKey {
                        reader,
                        conversation_id,
                    },
                    n,
                )
            }));
        }
        Ok(result)
    }
}

pub struct MembersLoader {
    pub db: Db,
}

impl Loader<Uuid> for MembersLoader {
    type Value = Vec<Uuid>;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Uuid>>, Self::Error> {
        store::members(&self.db, keys).await.map_err(Arc::new)
    }
}

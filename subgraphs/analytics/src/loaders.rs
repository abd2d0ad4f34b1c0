//! DataLoaders: a page of posts asking for their stats costs one call to
//! content (who wrote each) and one ClickHouse query.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use nova_core::internal::{post_authors, InternalClient};
use uuid::Uuid;

use crate::clickhouse::ClickHouse;
use crate::store::{self, Counts};

/// The author of each post content serves now (a deleted or taken-down post
/// has none).
pub struct PostAuthorLoader {
    pub content: InternalClient,
}

impl Loader<Uuid> for PostAuthorLoader {
    type Value = Uuid;
    type Error = Arc<anyhow::Error>;

    async fn load(&self, posts: &[Uuid]) -> Result<HashMap<Uuid, Uuid>, Self::Error> {
        post_authors(&self.content, posts)
            .await
            .map_err(|e| Arc::new(anyhow::anyhow!("content: {e}")))
    }
}

/// A post's all-time counts, keyed by (author, post): a request sees stats of
/// its caller's own posts only, so a batch is one author's.
pub struct PostCountsLoader {
    pub clickhouse: ClickHouse,
}

impl Loader<(Uuid, Uuid)> for PostCountsLoader {
    type Value = Counts;
    type Error = Arc<anyhow::Error>;

    async fn load(
        &self,
        keys: &[(Uuid, Uuid)],
    ) -> Result<HashMap<(Uuid, Uuid), Counts>, Self::Error> {
        let mut by_author: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (author, post) in keys {
            by_author.entry(*author).or_default().push(*post);
        }
        let mut counts = HashMap::new();
        for (author, posts) in by_author {
            let found = store::post_counts(&self.clickhouse, author, &posts)
                .await
                .map_err(Arc::new)?;
            for post in posts {
                let of_post = found.get(&post).cloned().unwrap_or_default();
                counts.insert((author, post), of_post);
            }
        }
        Ok(counts)
    }
}

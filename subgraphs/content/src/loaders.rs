//! DataLoaders: one SQL statement per batch (per page request for lists).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use nova_core::connection::{group_by_page, PageKey};
use nova_core::db::Db;
use uuid::Uuid;

use crate::store::{self, Comment, Post};

pub struct PostLoader {
    pub db: Db,
}

impl Loader<Uuid> for PostLoader {
    type Value = Post;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Post>, Self::Error> {
        let posts = store::posts_by_ids(&self.db, ids).await.map_err(Arc::new)?;
        Ok(posts.into_iter().map(|p| (p.id, p)).collect())
    }
}

pub struct CommentLoader {
    pub db: Db,
}

impl Loader<Uuid> for CommentLoader {
    type Value = Comment;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Comment>, Self::Error> {
        let comments = store::comments_by_ids(&self.db, ids)
            .await
            .map_err(Arc::new)?;
        Ok(comments.into_iter().map(|c| (c.id, c)).collect())
    }
}

/// A page of each author's posts.
pub struct PostsByAuthorLoader {
    pub db: Db,
}

impl Loader<PageKey> for PostsByAuthorLoader {
    type Value = Vec<Post>;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, keys: &[PageKey]) -> Result<HashMap<PageKey, Vec<Post>>, Self::Error> {
        let mut result = HashMap::new();
        for (page, authors) in group_by_page(keys) {
            let mut pages = store::posts_by_authors(&self.db, &authors, page)
                .await
                .map_err(Arc::new)?;
            for parent in authors {
                let posts = pages.remove(&parent).unwrap_or_default();
                result.insert(PageKey { parent, page }, posts);
            }
        }
        Ok(result)
    }
}

/// A page of each post's comments.
pub struct CommentsByPostLoader {
    pub db: Db,
}

impl Loader<PageKey> for CommentsByPostLoader {
    type Value = Vec<Comment>;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, keys: &[PageKey]) -> Result<HashMap<PageKey, Vec<Comment>>, Self::Error> {
        let mut result = HashMap::new();
        for (page, posts) in group_by_page(keys) {
            let mut pages = store::comments_by_posts(&self.db, &posts, page)
                .await
                .map_err(Arc::new)?;
            for parent in posts {
                let comments = pages.remove(&parent).unwrap_or_default();
                result.insert(PageKey { parent, page }, comments);
            }
        }
        Ok(result)
    }
}

pub struct CommentCountLoader {
    pub db: Db,
}

impl Loader<Uuid> for CommentCountLoader {
    type Value = i64;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, i64>, Self::Error> {
        let mut counts = store::comment_counts(&self.db, ids)
            .await
            .map_err(Arc::new)?;
        for id in ids {
            counts.entry(*id).or_insert(0);
        }
        Ok(counts)
    }
}

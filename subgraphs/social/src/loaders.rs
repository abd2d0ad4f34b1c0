//! DataLoaders: one SQL statement per batch. Viewer-state keys carry the viewer,
//! and a batch is grouped by viewer (one statement per viewer in the batch).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use nova_core::connection::{group_by_page, PageKey};
use nova_core::db::Db;
use uuid::Uuid;

use crate::store::{self, FollowSide};

/// Which count a `CountLoader` serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Count {
    Followers,
    Following,
    Likes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CountKey {
    pub count: Count,
    pub id: Uuid,
}

pub struct CountLoader {
    pub db: Db,
}

impl Loader<CountKey> for CountLoader {
    type Value = i64;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, keys: &[CountKey]) -> Result<HashMap<CountKey, i64>, Self::Error> {
        let mut by_count: HashMap<Count, Vec<Uuid>> = HashMap::new();
        for key in keys {
            by_count.entry(key.count).or_default().push(key.id);
        }
        let mut result = HashMap::new();
        for (count, ids) in by_count {
            let counts = match count {
                Count::Followers => store::follower_counts(&self.db, &ids).await,
                Count::Following => store::following_counts(&self.db, &ids).await,
                Count::Likes => store::like_counts(&self.db, &ids).await,
            }
            .map_err(Arc::new)?;
            result.extend(
                counts
                    .into_iter()
                    .map(|(id, n)| (CountKey { count, id }, n)),
            );
        }
        Ok(result)
    }
}

/// Which viewer state a `ViewerLoader` serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Relation {
    Follows,
    Blocked,
    Muted,
    Liked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ViewerKey {
    pub relation: Relation,
    pub viewer: Uuid,
    pub target: Uuid,
}

pub struct ViewerLoader {
    pub db: Db,
}

impl Loader<ViewerKey> for ViewerLoader {
    type Value = bool;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, keys: &[ViewerKey]) -> Result<HashMap<ViewerKey, bool>, Self::Error> {
        let mut groups: HashMap<(Relation, Uuid), Vec<Uuid>> = HashMap::new();
        for key in keys {
            groups
                .entry((key.relation, key.viewer))
                .or_default()
                .push(key.target);
        }
        let mut result = HashMap::new();
        for ((relation, viewer), targets) in groups {
            let yes = match relation {
                Relation::Follows => store::followed_by(&self.db, viewer, &targets).await,
                Relation::Blocked => store::blocked_by(&self.db, viewer, &targets).await,
                Relation::Muted => store::muted_by(&self.db, viewer, &targets).await,
                Relation::Liked => store::liked_by(&self.db, viewer, &targets).await,
            }
            .map_err(Arc::new)?;
            for target in targets {
                let key = ViewerKey {
                    relation,
                    viewer,
                    target,
                };
                result.insert(key, yes.contains(&target));
            }
        }
        Ok(result)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FollowPageKey {
    pub side: FollowSide,
    pub page: PageKey,
}

/// Pages of followers / following: (follow id for the cursor, user id).
pub struct FollowPageLoader {
    pub db: Db,
}

impl Loader<FollowPageKey> for FollowPageLoader {
    type Value = Vec<(Uuid, Uuid)>;
    type Error = Arc<sqlx::Error>;

    async fn load(
        &self,
        keys: &[FollowPageKey],
    ) -> Result<HashMap<FollowPageKey, Vec<(Uuid, Uuid)>>, Self::Error> {
        let mut result = HashMap::new();
        for side in [FollowSide::Followers, FollowSide::Following] {
            let page_keys: Vec<PageKey> = keys
                .iter()
                .filter(|k| k.side == side)
                .map(|k| k.page)
                .collect();
            for (page, parents) in group_by_page(&page_keys) {
                let mut pages = store::follow_pages(&self.db, side, &parents, page)
                    .await
                    .map_err(Arc::new)?;
                for parent in parents {
                    let rows = pages.remove(&parent).unwrap_or_default();
                    let page = PageKey { parent, page };
                    result.insert(FollowPageKey { side, page }, rows);
                }
            }
        }
        Ok(result)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LikerPageKey {
    /// Who asks: likers blocked either way with them are left out.
    pub viewer: Option<Uuid>,
    pub page: PageKey,
}

/// Pages of a post's likers: (like id for the cursor, user id).
pub struct LikerPageLoader {
    pub db: Db,
}

impl Loader<LikerPageKey> for LikerPageLoader {
    type Value = Vec<(Uuid, Uuid)>;
    type Error = Arc<sqlx::Error>;

    async fn load(
        &self,
        keys: &[LikerPageKey],
    ) -> Result<HashMap<LikerPageKey, Vec<(Uuid, Uuid)>>, Self::Error> {
        let mut by_viewer: HashMap<Option<Uuid>, Vec<PageKey>> = HashMap::new();
        for key in keys {
            by_viewer.entry(key.viewer).or_default().push(key.page);
        }
        let mut result = HashMap::new();
        for (viewer, page_keys) in by_viewer {
            for (page, posts) in group_by_page(&page_keys) {
                let mut pages = store::liker_pages(&self.db, viewer, &posts, page)
                    .await
                    .map_err(Arc::new)?;
                for parent in posts {
                    let rows = pages.remove(&parent).unwrap_or_default();
                    let page = PageKey { parent, page };
                    result.insert(LikerPageKey { viewer, page }, rows);
                }
            }
        }
        Ok(result)
    }
}

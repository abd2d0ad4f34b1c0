//! How a new feed starts: it copies the owners' current data through their
//! `/internal/` exports (social's follows, blocks and mutes; content's posts),
//! once per source, before it serves and before its consumer starts; the
//! consumer then follows the
//! topics and its idempotent writes absorb what the copy already holds. The
//! broker's log is bounded, so replaying it could not rebuild the graph.

use std::time::Duration;

use chrono::{DateTime, Utc};
use nova_core::internal::InternalClient;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::store;

const GRAPH_PAGE: i64 = 10_000;
const POSTS_PAGE: i64 = 5_000;

#[derive(Serialize)]
struct GraphRequest<'a> {
    relation: &'a str,
    after: Option<(Uuid, Uuid)>,
    limit: i64,
}

#[derive(Deserialize)]
struct GraphPage {
    pairs: Vec<(Uuid, Uuid)>,
}

#[derive(Serialize)]
struct PostsRequest {
    after: Option<Uuid>,
    limit: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExportedPost {
    post_id: Uuid,
    author_id: Uuid,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct PostsPage {
    posts: Vec<ExportedPost>,
}

/// Copy what has not been copied yet, retrying until the owners answer.
pub async fn run_until_done(pool: &PgPool, social: &InternalClient, content: &InternalClient) {
    let mut delay = Duration::from_millis(200);
    loop {
        match run(pool, social, content).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, "feed backfill failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

async fn run(
    pool: &PgPool,
    social: &InternalClient,
    content: &InternalClient,
) -> anyhow::Result<()> {
    if !nova_core::internal::backfilled(pool, "social").await? {
        for relation in ["follows", "blocks", "mutes"] {
            copy_relation(pool, social, relation).await?;
        }
        store::recount_followers(pool).await?;
        nova_core::internal::mark_backfilled(pool, "social").await?;
        tracing::info!("feed backfill: social graph copied");
    }
    if !nova_core::internal::backfilled(pool, "content").await? {
        copy_posts(pool, content).await?;
        nova_core::internal::mark_backfilled(pool, "content").await?;
        tracing::info!("feed backfill: posts copied");
    }
    Ok(())
}

async fn copy_relation(
    pool: &PgPool,
    social: &InternalClient,
    relation: &str,
) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let request = GraphRequest {
            relation,
            after,
            limit: GRAPH_PAGE,
        };
        let page: GraphPage = social.post("/internal/graph/export", &request).await?;
        let Some(last) = page.pairs.last().copied() else {
            return Ok(());
        };
        let (first, second): (Vec<Uuid>, Vec<Uuid>) = page.pairs.into_iter().unzip();
        store::insert_pairs(pool, relation, &first, &second).await?;
        after = Some(last);
    }
}

async fn copy_posts(pool: &PgPool, content: &InternalClient) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let request = PostsRequest {
            after,
            limit: POSTS_PAGE,
        };
        let page: PostsPage = content.post("/internal/posts/export", &request).await?;
        let Some(last) = page.posts.last().map(|p| p.post_id) else {
            return Ok(());
        };
        let mut ids = Vec::new();
        let mut authors = Vec::new();
        let mut times = Vec::new();
        for post in page.posts {
            ids.push(post.post_id);
            authors.push(post.author_id);
            times.push(post.created_at);
        }
        store::insert_posts(pool, &ids, &authors, &times).await?;
        after = Some(last);
    }
}

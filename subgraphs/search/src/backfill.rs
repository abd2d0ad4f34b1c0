//! How search gets its documents without replaying the event log: a new search
//! copies the owners' current data through their `/internal/` exports (identity's
//! accounts, users' profiles, content's posts) — the same path
//! the feed starts from — once per source, before its consumer starts. The
//! consumer asks the same exports for the one document an event names
//! (`refresh_*`): events carry ids, not text.

use std::time::Duration;

use chrono::{DateTime, Utc};
use nova_core::internal::{ExportRequest, InternalClient};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::store;

const PAGE: i64 = 5_000;

/// The owners search copies from.
pub struct Owners {
    pub identity: InternalClient,
    pub users: InternalClient,
    pub content: InternalClient,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Account {
    user_id: Uuid,
    username: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    user_id: Uuid,
    display_name: Option<String>,
    bio: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Post {
    post_id: Uuid,
    author_id: Uuid,
    created_at: DateTime<Utc>,
    body: String,
    hashtags: Vec<String>,
}

/// Every page of one export: `items` picks the list out of a page, `key` the
/// cursor of an item, `store` writes a page.
async fn copy<T: DeserializeOwned>(
    client: &InternalClient,
    path: &str,
    field: &str,
    key: impl Fn(&T) -> Uuid,
    mut store: impl AsyncFnMut(Vec<T>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let mut page: serde_json::Map<String, serde_json::Value> = client
            .post(
                path,
                &ExportRequest {
                    after,
                    limit: PAGE,
                    ids: None,
                },
            )
            .await?;
        let items: Vec<T> = serde_json::from_value(page.remove(field).unwrap_or_default())?;
        let Some(last) = items.last().map(&key) else {
            return Ok(());
        };
        store(items).await?;
        after = Some(last);
    }
}

/// The one item of `id` in an owner's export, or `None` when the owner no
/// longer has it: events carry no text, so the consumer asks for it.
async fn one<T: DeserializeOwned>(
    client: &InternalClient,
    path: &str,
    field: &str,
    id: Uuid,
) -> anyhow::Result<Option<T>> {
    let request: ExportRequest<Uuid> = ExportRequest {
        after: None,
        limit: 1,
        ids: Some(vec![id]),
    };
    let mut page: serde_json::Map<String, serde_json::Value> = client.post(path, &request).await?;
    let items: Vec<T> = serde_json::from_value(page.remove(field).unwrap_or_default())?;
    Ok(items.into_iter().next())
}

/// An account's username as identity has it now, into search's table.
pub async fn refresh_username(
    tx: &mut PgConnection,
    owners: &Owners,
    user: Uuid,
) -> anyhow::Result<()> {
    let path = "/internal/accounts/export";
    if let Some(a) = one::<Account>(&owners.identity, path, "accounts", user).await? {
        store::upsert_username(tx, a.user_id, &a.username).await?;
    }
    Ok(())
}

/// A profile as users has it now.
pub async fn refresh_profile(
    tx: &mut PgConnection,
    owners: &Owners,
    user: Uuid,
) -> anyhow::Result<()> {
    let path = "/internal/profiles/export";
    if let Some(p) = one::<Profile>(&owners.users, path, "profiles", user).await? {
        store::upsert_profile(tx, p.user_id, p.display_name.as_deref(), &p.bio).await?;
    }
    Ok(())
}

/// A post's text as content serves it now (a post it no longer serves is
/// left as search has it: its deletion comes as its own event).
pub async fn refresh_post(
    tx: &mut PgConnection,
    owners: &Owners,
    post: Uuid,
) -> anyhow::Result<()> {
    let path = "/internal/posts/export";
    if let Some(p) = one::<Post>(&owners.content, path, "posts", post).await? {
        store::upsert_post(
            tx,
            p.post_id,
            p.author_id,
            &p.body,
            &p.hashtags,
            p.created_at,
        )
        .await?;
    }
    Ok(())
}

/// Copy each source not copied yet; true when something was copied (the
/// index must then be rebuilt from the tables).
async fn run(pool: &PgPool, owners: &Owners) -> anyhow::Result<bool> {
    let mut copied = false;
    if !nova_core::internal::backfilled(pool, "identity").await? {
        copied = true;
        copy(
            &owners.identity,
            "/internal/accounts/export",
            "accounts",
            |a: &Account| a.user_id,
            async |page| {
                let mut tx = pool.begin().await?;
                for a in page {
                    store::upsert_username(&mut tx, a.user_id, &a.username).await?;
                }
                Ok(tx.commit().await?)
            },
        )
        .await?;
        nova_core::internal::mark_backfilled(pool, "identity").await?;
    }
    if !nova_core::internal::backfilled(pool, "users").await? {
        copied = true;
        copy(
            &owners.users,
            "/internal/profiles/export",
            "profiles",
            |p: &Profile| p.user_id,
            async |page| {
                let mut tx = pool.begin().await?;
                for p in page {
                    store::upsert_profile(&mut tx, p.user_id, p.display_name.as_deref(), &p.bio)
                        .await?;
                }
                Ok(tx.commit().await?)
            },
        )
        .await?;
        nova_core::internal::mark_backfilled(pool, "users").await?;
    }
    if !nova_core::internal::backfilled(pool, "content").await? {
        copied = true;
        copy(
            &owners.content,
            "/internal/posts/export",
            "posts",
            |p: &Post| p.post_id,
            async |page| {
                let mut tx = pool.begin().await?;
                for p in page {
                    store::upsert_post(
                        &mut tx,
                        p.post_id,
                        p.author_id,
                        &p.body,
                        &p.hashtags,
                        p.created_at,
                    )
                    .await?;
                }
                Ok(tx.commit().await?)
            },
        )
        .await?;
        nova_core::internal::mark_backfilled(pool, "content").await?;
    }
    Ok(copied)
}

/// Copy what has not been copied yet, retrying until the owners answer. True
/// when something was copied.
pub async fn run_until_done(pool: &PgPool, owners: &Owners) -> bool {
    let mut delay = Duration::from_millis(200);
    let mut copied = false;
    loop {
        match run(pool, owners).await {
            Ok(now) => return copied || now,
            Err(error) => {
                // A failed pass may have copied some sources already.
                copied = true;
                tracing::warn!(%error, "search backfill failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

//! The block rule in content (docs/blocks.md). Social owns blocks; content asks
//! it at each write that must respect them (a comment, a mention) and at each
//! read that shows one account's content to another (a post page, a comment
//! list), so a block holds from the moment `blockUser` returns. When an owner
//! cannot answer, the write or read is refused (`UNAVAILABLE`), never let
//! through unchecked.

use std::collections::HashSet;

use async_graphql::connection::Connection;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ErrorExtensions, Result};
use nova_core::internal::{accounts_named, blocked_either_way, BlockPair, BlockPairsLoader};
use nova_core::{Caller, ErrorCode};
use uuid::Uuid;

use crate::nodes::Identity;
use crate::schema::Social;

/// Which of `authors` the signed-in viewer may not see (a block either way);
/// none for a signed-out viewer, and never the viewer themselves. Batched: a
/// page of posts with their comment lists asks social once (`BlockPairsLoader`).
pub async fn hidden_from_viewer(ctx: &Context<'_>, authors: &[Uuid]) -> Result<HashSet<Uuid>> {
    let Some(viewer) = Caller::of(ctx).user_id else {
        return Ok(HashSet::new());
    };
    let keys = authors
        .iter()
        .filter(|author| **author != viewer)
        .map(|author| BlockPair {
            user: viewer,
            other: *author,
        });
    let answers = ctx
        .data_unchecked::<DataLoader<BlockPairsLoader>>()
        .load_many(keys)
        .await
        .map_err(|error| unchecked(&*error))?;
    Ok(answers
        .into_iter()
        .filter(|(_, blocked)| *blocked)
        .map(|(key, _)| key.other)
        .collect())
}

/// Remove from `page` the nodes whose author the viewer may not see
/// (`hidden_from_viewer`); the page may then hold fewer than asked.
pub async fn leave_out_hidden<N: async_graphql::OutputType>(
    ctx: &Context<'_>,
    page: &mut Connection<String, N>,
    author: impl Fn(&N) -> Uuid,
) -> Result<()> {
    let authors: Vec<Uuid> = page.edges.iter().map(|edge| author(&edge.node)).collect();
    let hidden = hidden_from_viewer(ctx, &authors).await?;
    page.edges
        .retain(|edge| !hidden.contains(&author(&edge.node)));
    Ok(())
}

/// A post may not mention an account blocked either way with its author
/// (docs/blocks.md): identity names the accounts, social says which are
/// blocked, both asked at the write. Unknown names are plain text. Returns
/// the accounts mentioned (the event names them for notifications).
pub async fn refuse_blocked_mentions(
    ctx: &Context<'_>,
    author: Uuid,
    mentions: &[String],
) -> Result<Vec<Uuid>> {
    if mentions.is_empty() {
        return Ok(Vec::new());
    }
    let identity = &ctx.data_unchecked::<Identity>().0;
    let accounts = accounts_named(identity, mentions)
        .await
        .map_err(unchecked)?;
    let ids: Vec<Uuid> = accounts.iter().map(|(_, id)| *id).collect();
    let social = &ctx.data_unchecked::<Social>().0;
    let blocked = blocked_either_way(social, author, &ids)
        .await
        .map_err(unchecked)?;
    match accounts.iter().find(|(_, id)| blocked.contains(id)) {
        Some((username, _)) => Err(ErrorCode::Forbidden
            .error(format!("you cannot mention @{username}"))
            .extend_with(|_, ext| ext.set("field", "body"))),
        None => Ok(ids),
    }
}

/// An owner that cannot say whether a block stands in the way: the write or
/// read is refused, never let through unchecked.
pub fn unchecked(error: impl std::fmt::Display) -> async_graphql::Error {
    tracing::error!(%error, "blocks could not be checked; refused");
    ErrorCode::Unavailable.error("blocks cannot be checked right now; try again")
}

//! social's `/internal/` answers about blocks and mutes, asked at the moment a
//! write or a read must respect them (see the parent module).

use super::{Ids, InternalCallError, InternalClient};

/// The request of social's `POST /internal/blocks/between`: which of `ids` have
/// a block either way with `user`. The answer is `Ids`.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub struct BlocksBetween {
    pub user: uuid::Uuid,
    pub ids: Vec<uuid::Uuid>,
}

/// Which of `ids` have a block either way with `user`, as social (the owner of
/// blocks) knows it now: a write that must respect blocks asks before it
/// commits, so a block holds from the moment `blockUser` returns.
pub async fn blocked_either_way(
    social: &InternalClient,
    user: uuid::Uuid,
    ids: &[uuid::Uuid],
) -> Result<std::collections::HashSet<uuid::Uuid>, InternalCallError> {
    ids_among(social, "/internal/blocks/between", user, ids).await
}

/// Two accounts, for `BlockPairsLoader`: is a block standing between `user` and
/// `other`, either way?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockPair {
    pub user: uuid::Uuid,
    pub other: uuid::Uuid,
}

/// `blocked_either_way` as a DataLoader, for reads that ask about many pairs at
/// once — one viewer and the authors of a page of comment lists, one actor and
/// every subscriber of a live event: one call to social per distinct `user` in
/// the batch.
pub struct BlockPairsLoader {
    pub social: InternalClient,
}

impl async_graphql::dataloader::Loader<BlockPair> for BlockPairsLoader {
    type Value = bool;
    type Error = std::sync::Arc<InternalCallError>;

    async fn load(
        &self,
        keys: &[BlockPair],
    ) -> Result<std::collections::HashMap<BlockPair, bool>, Self::Error> {
        let mut others_of: std::collections::HashMap<uuid::Uuid, Vec<uuid::Uuid>> =
            Default::default();
        for key in keys {
            others_of.entry(key.user).or_default().push(key.other);
        }
        let mut answers = std::collections::HashMap::new();
        for (user, others) in others_of {
            let blocked = blocked_either_way(&self.social, user, &others).await?;
            answers.extend(
                others
                    .into_iter()
                    .map(|other| (BlockPair { user, other }, blocked.contains(&other))),
            );
        }
        Ok(answers)
    }
}

/// `(recipient, actor)` pairs: the request and the answer of social's
/// `POST /internal/notices/silenced`.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub struct NoticePairs {
    pub pairs: Vec<(uuid::Uuid, uuid::Uuid)>,
}

/// Pairs social's `/internal/notices/silenced` answers per question at most;
/// `silenced_pairs` asks in chunks of it.
pub const MAX_NOTICE_PAIRS: usize = 1_000;

/// Which of `pairs` (recipient, actor) must raise no notification, as social
/// knows it now: a block either way between the two, or the recipient muted
/// the actor. Asked as each notification is built, so one raised after
/// `blockUser` or `muteUser` returned respects it.
pub async fn silenced_pairs(
    social: &InternalClient,
    pairs: &[(uuid::Uuid, uuid::Uuid)],
) -> Result<std::collections::HashSet<(uuid::Uuid, uuid::Uuid)>, InternalCallError> {
    let mut silenced = std::collections::HashSet::new();
    for chunk in pairs.chunks(MAX_NOTICE_PAIRS) {
        let request = NoticePairs {
            pairs: chunk.to_vec(),
        };
        let answer: NoticePairs = social.post("/internal/notices/silenced", &request).await?;
        silenced.extend(answer.pairs);
    }
    Ok(silenced)
}

/// Which of `ids` have blocked `user` (social's `POST /internal/blocks/blockers`,
/// the request a `BlocksBetween`): a blocked user sees the blocker's profile as
/// unavailable, while the blocker still sees theirs (to unblock).
pub async fn blockers_of(
    social: &InternalClient,
    user: uuid::Uuid,
    ids: &[uuid::Uuid],
) -> Result<std::collections::HashSet<uuid::Uuid>, InternalCallError> {
    ids_among(social, "/internal/blocks/blockers", user, ids).await
}

/// Social's answer to a `BlocksBetween` at `path`: the ids among `ids` it
/// names (no call for none).
async fn ids_among(
    social: &InternalClient,
    path: &str,
    user: uuid::Uuid,
    ids: &[uuid::Uuid],
) -> Result<std::collections::HashSet<uuid::Uuid>, InternalCallError> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let request = BlocksBetween {
        user,
        ids: ids.to_vec(),
    };
    let answer: Ids = social.post(path, &request).await?;
    Ok(answer.ids.into_iter().collect())
}

//! The block rule for chat's writes. Social owns blocks; chat asks it, at the
//! moment of each write, whether a block stands between the writer and the others
//! (`POST /internal/blocks/between`), so a direct message, a new direct
//! conversation, a new group or an added member is refused from the moment
//! `blockUser` returns — no copy that events bring up to date later. When social
//! cannot answer, the write is refused (never let through unchecked).
//!
//! Reads follow the same rule (docs/blocks.md): while a block stands, neither
//! side sees the other's messages in any conversation they share — history,
//! unread counts and live events — asked of social at each read.

use std::collections::{HashMap, HashSet};

use nova_core::db::Db;
use nova_core::internal::{blocked_either_way, InternalClient};
use uuid::Uuid;

use crate::store::{self, ChatError};

/// The senders each viewer does not see, per (conversation, viewer): members,
/// past or present, with a block either way with the viewer.
#[derive(Debug, Default)]
pub struct HiddenSenders(HashMap<(Uuid, Uuid), Vec<Uuid>>);

impl HiddenSenders {
    pub fn of(&self, conversation: Uuid, viewer: Uuid) -> &[Uuid] {
        self.0
            .get(&(conversation, viewer))
            .map_or(&[], Vec::as_slice)
    }
}

#[derive(Clone)]
pub struct Blocks {
    social: InternalClient,
}

impl Blocks {
    pub fn new(social: InternalClient) -> Self {
        Self { social }
    }

    /// social's client, for the live streams' batched checks
    /// (`nova_core::internal::BlockPairsLoader`).
    pub fn social(&self) -> &InternalClient {
        &self.social
    }

    /// The first of `others` (in their order) with a block either way with `me`.
    pub async fn first_blocked(
        &self,
        me: Uuid,
        others: &[Uuid],
    ) -> Result<Option<Uuid>, ChatError> {
        let blocked = self.blocked_among(me, others).await?;
        Ok(others.iter().copied().find(|other| blocked.contains(other)))
    }

    /// Which of `others` have a block either way with `me`.
    pub async fn blocked_among(
        &self,
        me: Uuid,
        others: &[Uuid],
    ) -> Result<HashSet<Uuid>, ChatError> {
        blocked_either_way(&self.social, me, others)
            .await
            .map_err(ChatError::BlockCheck)
    }

    /// Whom each viewer does not see in each conversation of `pairs`
    /// (conversation, viewer): one statement for the members, one call to social
    /// per viewer (a request has one).
    pub async fn hidden_senders(
        &self,
        db: &Db,
        pairs: &[(Uuid, Uuid)],
    ) -> Result<HiddenSenders, ChatError> {
        let conversations: Vec<Uuid> = pairs
            .iter()
            .map(|(conversation, _)| *conversation)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let members = store::members_ever(db, &conversations).await?;
        let mut others_of: HashMap<Uuid, HashSet<Uuid>> = HashMap::new();
        for (conversation, viewer) in pairs {
            let others = members.get(conversation).into_iter().flatten();
            others_of
                .entry(*viewer)
                .or_default()
                .extend(others.filter(|member| *member != viewer));
        }
        let mut hidden = HiddenSenders::default();
        for (viewer, others) in others_of {
            let others: Vec<Uuid> = others.into_iter().collect();
            let blocked = self.blocked_among(viewer, &others).await?;
            if blocked.is_empty() {
                continue;
            }
            for (conversation, _) in pairs.iter().filter(|(_, v)| *v == viewer) {
                let senders = members.get(conversation).into_iter().flatten();
                let senders: Vec<Uuid> = senders
                    .filter(|member| blocked.contains(member))
                    .copied()
                    .collect();
                hidden.0.insert((*conversation, viewer), senders);
            }
        }
        Ok(hidden)
    }
}

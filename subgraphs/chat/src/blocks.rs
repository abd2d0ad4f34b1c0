//! The block rule for chat's writes. Social owns blocks; chat asks it, at the
//! moment of each write, whether a block stands between the writer and the others
//! (`POST /internal/blocks/between`), so a direct message, a new direct
//! conversation, a new group or an added member is refused from the moment
//! `blockUser` returns — no copy that events bring up to date later. When social
//! cannot answer, the write is refused (never let through unchecked).

use nova_core::internal::{blocked_either_way, InternalClient};
use uuid::Uuid;

use crate::store::ChatError;

#[derive(Clone)]
pub struct Blocks {
    social: InternalClient,
}

impl Blocks {
    pub fn new(social: InternalClient) -> Self {
        Self { social }
    }

    /// The first of `others` (in their order) with a block either way with `me`.
    pub async fn first_blocked(
        &self,
        me: Uuid,
        others: &[Uuid],
    ) -> Result<Option<Uuid>, ChatError> {
        let blocked = blocked_either_way(&self.social, me, others)
            .await
            .map_err(ChatError::BlockCheck)?;
        Ok(others.iter().copied().find(|other| blocked.contains(other)))
    }
}

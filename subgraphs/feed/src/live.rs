//! What the feed sends to open home screens: one `FeedUpdate` per new post, to
//! each active follower who may see it, through Redis (`nova_core::live`) so
//! whichever feed instance holds the subscription delivers it. At least once:
//! a redelivered event may announce a post again, and clients deduplicate by
//! post id.

use nova_core::live::LiveHub;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Live feed updates keyed by viewer.
pub type FeedHub = LiveHub<Uuid, FeedUpdate>;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeedUpdate {
    pub post_id: Uuid,
    pub author_id: Uuid,
}

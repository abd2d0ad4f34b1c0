//! Attaching media to what shows it (a post, an avatar), asked of media at the
//! write (`POST /internal/media/attach`, see `internal`): media checks, in one
//! transaction, that every media is the caller's, READY and not used
//! elsewhere, and marks it used by the post or avatar, or refuses all of it.
//! A media shows in one place only, so deleting that place deletes the media.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::errors::{bad_input, ErrorCode};
use crate::internal::{InternalCallError, InternalClient};

/// Media one post may carry at most.
pub const MAX_MEDIA_PER_POST: usize = 4;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachRequest {
    pub owner: Uuid,
    pub media_ids: Vec<Uuid>,
    /// What shows the media: [`post_use`] or [`avatar_use`].
    pub used_by: String,
}

/// Why one media cannot be attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Refusal {
    NotFound,
    NotYours,
    NotReady,
    InUse,
}

/// Media's answer: empty when every media was attached, else why each refused
/// one could not be (and then none was).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AttachAnswer {
    pub refused: Vec<(Uuid, Refusal)>,
}

pub fn post_use(post: Uuid) -> String {
    format!("post:{post}")
}

pub fn avatar_use(user: Uuid) -> String {
    format!("avatar:{user}")
}

/// Attach (all or nothing).
pub async fn attach(
    media: &InternalClient,
    request: &AttachRequest,
) -> Result<AttachAnswer, InternalCallError> {
    if request.media_ids.is_empty() {
        return Ok(AttachAnswer::default());
    }
    media.post("/internal/media/attach", request).await
}

/// Undo an attach whose write then failed, so the media can be used again.
pub async fn detach(
    media: &InternalClient,
    request: &AttachRequest,
) -> Result<AttachAnswer, InternalCallError> {
    if request.media_ids.is_empty() {
        return Ok(AttachAnswer::default());
    }
    media.post("/internal/media/detach", request).await
}

/// The place of `request.used_by` shows no media now but `request.media_ids`:
/// media deletes the owner's others it showed (an avatar removed).
pub async fn release(
    media: &InternalClient,
    request: &AttachRequest,
) -> Result<AttachAnswer, InternalCallError> {
    media.post("/internal/media/release", request).await
}

/// The client's error for refused media: `FORBIDDEN` when one is someone
/// else's, `BAD_USER_INPUT` on `field` otherwise.
pub fn refusal_error(field: &str, refused: &[(Uuid, Refusal)]) -> async_graphql::Error {
    if let Some((id, _)) = refused.iter().find(|(_, r)| *r == Refusal::NotYours) {
        return ErrorCode::Forbidden.error(format!("media {id} is not yours"));
    }
    let (id, refusal) = refused[0];
    let why = match refusal {
        Refusal::NotFound => "does not exist",
        Refusal::NotReady => "is not READY (wait until its processing has finished)",
        Refusal::InUse => "is already used elsewhere",
        Refusal::NotYours => "is not yours",
    };
    bad_input(field, format!("media {id} {why}"))
}

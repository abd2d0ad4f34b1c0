//! The media a post carries: attached at `createPost` by asking media (the
//! owner of uploads) at the write, so another user's media is refused and a
//! media shows on one post only (nova_core::attachments).

use async_graphql::{Context, Result, ID};
use nova_core::attachments::{
    attach, detach, post_use, refusal_error, AttachRequest, MAX_MEDIA_PER_POST,
};
use nova_core::errors::{bad_input, parse_id, OrInternal};
use nova_core::internal::InternalClient;
use uuid::Uuid;

/// media's `/internal/media/*` routes.
pub struct MediaOwner(pub InternalClient);

/// The `mediaIds` argument: at most four, no repeats.
pub fn parse_ids(ids: Option<Vec<ID>>) -> Result<Vec<Uuid>> {
    let ids = ids.unwrap_or_default();
    if ids.len() > MAX_MEDIA_PER_POST {
        return Err(bad_input(
            "mediaIds",
            format!("a post carries at most {MAX_MEDIA_PER_POST} media"),
        ));
    }
    let mut parsed: Vec<Uuid> = Vec::with_capacity(ids.len());
    for id in &ids {
        let id = parse_id(id, "mediaIds")?;
        if parsed.contains(&id) {
            return Err(bad_input("mediaIds", format!("media {id} is given twice")));
        }
        parsed.push(id);
    }
    Ok(parsed)
}

fn request(owner: Uuid, post: Uuid, media_ids: &[Uuid]) -> AttachRequest {
    AttachRequest {
        owner,
        media_ids: media_ids.to_vec(),
        used_by: post_use(post),
    }
}

/// Attach `media_ids` to the post about to be written, or refuse the post.
pub async fn attach_to_post(
    ctx: &Context<'_>,
    owner: Uuid,
    post: Uuid,
    media_ids: &[Uuid],
) -> Result<()> {
    let media = &ctx.data_unchecked::<MediaOwner>().0;
    let answer = attach(media, &request(owner, post, media_ids))
        .await
        .or_internal()?;
    if answer.refused.is_empty() {
        Ok(())
    } else {
        Err(refusal_error("mediaIds", &answer.refused))
    }
}

/// The post was not written after all: free its media for another post.
pub async fn detach_from_post(ctx: &Context<'_>, owner: Uuid, post: Uuid, media_ids: &[Uuid]) {
    let media = &ctx.data_unchecked::<MediaOwner>().0;
    if let Err(error) = detach(media, &request(owner, post, media_ids)).await {
        tracing::warn!(%post, %error, "media of a post not written stay attached to it");
    }
}

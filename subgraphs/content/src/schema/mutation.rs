//! content's mutations: posts and comments written, edited and deleted. A post
//! attaches its media at the write (`crate::media`); a comment asks social
//! whether a block stands between the commenter and the post's author.

use async_graphql::{Context, Object, Result, ID};
use chrono::Utc;
use nova_core::db::Db;
use nova_core::errors::{checked_text, parse_id, OrInternal};
use nova_core::internal::blocked_either_way;
use nova_core::sdl::authenticated;
use nova_core::{Caller, ErrorCode};
use uuid::Uuid;

use super::{load_post, Comment, Post, Social, COMMENT_MAX_CHARS, POST_MAX_CHARS};
use crate::blocks;
use crate::media;
use crate::store::{self, Comment as CommentRow, Post as PostRow};
use crate::text;

fn not_found(what: &str) -> async_graphql::Error {
    ErrorCode::NotFound.error(format!("no such {what}"))
}

fn not_yours(what: &str) -> async_graphql::Error {
    ErrorCode::Forbidden.error(format!("only the author may change this {what}"))
}

/// The post, when it exists and `caller` wrote it: `NOT_FOUND` or `FORBIDDEN` else.
async fn authored_post(db: &Db, id: Uuid, caller: Uuid) -> Result<PostRow> {
    let mut found = store::posts_by_ids(db, &[id]).await.or_internal()?;
    let Some(post) = found.pop() else {
        return Err(not_found("post"));
    };
    if post.author_id != caller {
        return Err(not_yours("post"));
    }
    Ok(post)
}

#[derive(Default)]
pub struct ContentMutation;

#[Object]
impl ContentMutation {
    #[graphql(directive = authenticated::apply())]
    /// `mediaIds`: up to four of your READY media, shown in this order.
    async fn create_post(
        &self,
        ctx: &Context<'_>,
        body: String,
        media_ids: Option<Vec<ID>>,
    ) -> Result<Post> {
        let author_id = Caller::of(ctx).require_user()?;
        let body = checked_text("body", &body, POST_MAX_CHARS)?;
        let media_ids = media::parse_ids(media_ids)?;
        let mentions = text::mentions(&body);
        let mentioned_ids = blocks::refuse_blocked_mentions(ctx, author_id, &mentions).await?;
        let id = Uuid::now_v7();
        media::attach_to_post(ctx, author_id, id, &media_ids).await?;
        let row = PostRow {
            id,
            author_id,
            hashtags: text::hashtags(&body),
            mentions,
            body,
            created_at: Utc::now(),
            edited_at: None,
            media_ids: media_ids.clone(),
        };
        let db = ctx.data_unchecked::<Db>();
        match store::create_post(db, &row, &mentioned_ids).await {
            Ok(post) => Ok(Post(post)),
            Err(error) => {
                media::detach_from_post(ctx, author_id, id, &media_ids).await;
                Err(nova_core::errors::internal(error))
            }
        }
    }

    /// Only the author may edit.
    #[graphql(directive = authenticated::apply())]
    async fn edit_post(&self, ctx: &Context<'_>, id: ID, body: String) -> Result<Post> {
        let caller = Caller::of(ctx).require_user()?;
        let id = parse_id(&id, "id")?;
        let body = checked_text("body", &body, POST_MAX_CHARS)?;
        let db = ctx.data_unchecked::<Db>();
        authored_post(db, id, caller).await?;
        let (tags, mentions) = (text::hashtags(&body), text::mentions(&body));
        blocks::refuse_blocked_mentions(ctx, caller, &mentions).await?;
        match store::edit_post(db, id, &body, &tags, &mentions)
            .await
            .or_internal()?
        {
            Some(post) => Ok(Post(post)),
            None => Err(not_found("post")),
        }
    }

    /// Only the author may delete; the comments go with the post.
    #[graphql(directive = authenticated::apply())]
    async fn delete_post(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let caller = Caller::of(ctx).require_user()?;
        let post_id = parse_id(&id, "id")?;
        let db = ctx.data_unchecked::<Db>();
        authored_post(db, post_id, caller).await?;
        store::delete_post(db, post_id).await.or_internal()?;
        Ok(id)
    }

    #[graphql(directive = authenticated::apply())]
    async fn add_comment(&self, ctx: &Context<'_>, post_id: ID, body: String) -> Result<Comment> {
        let author_id = Caller::of(ctx).require_user()?;
        let post_id = parse_id(&post_id, "postId")?;
        let body = checked_text("body", &body, COMMENT_MAX_CHARS)?;
        let Some(post) = load_post(ctx, post_id).await? else {
            return Err(not_found("post"));
        };
        // The block rule, asked of social at the write (see `Social`).
        let social = &ctx.data_unchecked::<Social>().0;
        // When social cannot answer, the comment is refused, never let through.
        let blocked = blocked_either_way(social, author_id, &[post.0.author_id])
            .await
            .map_err(blocks::unchecked)?;
        if !blocked.is_empty() {
            return Err(ErrorCode::Forbidden.error("you cannot comment on this user's posts"));
        }
        let row = CommentRow {
            id: Uuid::now_v7(),
            post_id,
            author_id,
            body,
            created_at: Utc::now(),
        };
        let db = ctx.data_unchecked::<Db>();
        match store::add_comment(db, &row).await.or_internal()? {
            Some(comment) => Ok(Comment(comment)),
            None => Err(not_found("post")),
        }
    }

    /// Only the comment's author may delete it.
    #[graphql(directive = authenticated::apply())]
    async fn delete_comment(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let caller = Caller::of(ctx).require_user()?;
        let comment_id = parse_id(&id, "id")?;
        let db = ctx.data_unchecked::<Db>();
        let Some(existing) = store::comment_by_id(db, comment_id).await.or_internal()? else {
            return Err(not_found("comment"));
        };
        if existing.author_id != caller {
            return Err(not_yours("comment"));
        }
        store::delete_comment(db, comment_id).await.or_internal()?;
        Ok(id)
    }
}

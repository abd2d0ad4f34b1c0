//! The content subgraph's GraphQL schema: types and resolvers.

use async_graphql::connection::Connection;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, EmptySubscription, Object, Result, Schema, SchemaBuilder, ID};
use chrono::{DateTime, Utc};
use nova_core::connection::{connection, load_page, PageRequest};
use nova_core::db::Db;
use nova_core::errors::{bad_input, parse_id, OrInternal};
use nova_core::internal::{blocked_either_way, InternalClient};
use nova_core::sdl::authenticated;
use nova_core::{Caller, ErrorCode};
use uuid::Uuid;

use crate::loaders::{
    CommentCountLoader, CommentLoader, CommentsByPostLoader, PostLoader, PostsByAuthorLoader,
};
use crate::media::{self, MediaOwner};
use crate::nodes::{self, Identity, Node};
use crate::store::{self, Comment as CommentRow, Post as PostRow};
use crate::text;
use nova_core::entities::Media as MediaRef;

pub type ContentSchema = Schema<Query, Mutation, EmptySubscription>;

pub const POST_MAX_CHARS: usize = 2000;
pub const COMMENT_MAX_CHARS: usize = 1000;

pub fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    nova_core::caller::subgraph_schema(Query, Mutation, EmptySubscription)
}

/// social's `/internal/` routes: whether a block stands between a commenter and
/// a post's author, asked at the write so a block holds once `blockUser` returns.
pub struct Social(pub InternalClient);

/// The schema with its data; `identity` answers which ids are accounts (`nodes.rs`),
/// `social` whether a block stands in the way of a comment.
pub fn build(
    db: Db,
    identity: InternalClient,
    social: InternalClient,
    media: InternalClient,
) -> ContentSchema {
    builder()
        .data(Identity(identity))
        .data(MediaOwner(media))
        .data(Social(social))
        .data(nova_core::batching::loader(PostLoader { db: db.clone() }))
        .data(nova_core::batching::loader(CommentLoader {
            db: db.clone(),
        }))
        .data(nova_core::batching::loader(PostsByAuthorLoader {
            db: db.clone(),
        }))
        .data(nova_core::batching::loader(CommentsByPostLoader {
            db: db.clone(),
        }))
        .data(nova_core::batching::loader(CommentCountLoader {
            db: db.clone(),
        }))
        .data(db)
        .finish()
}

pub fn sdl() -> String {
    nova_core::sdl::federated_sdl(&builder().finish())
}

/// Trim and check a body: not empty, at most `max` characters.
pub fn checked_body(body: &str, max: usize) -> Result<String> {
    let body = body.trim();
    if body.is_empty() {
        return Err(bad_input("body", "body must not be empty"));
    }
    if body.chars().count() > max {
        return Err(bad_input(
            "body",
            format!("body must be at most {max} characters"),
        ));
    }
    Ok(body.to_string())
}

/// A Nova user as content sees them: their posts.
pub struct User {
    pub(crate) id: Uuid,
}

#[Object]
impl User {
    // Crate-visible: the `Node` interface (nodes.rs) calls it.
    pub(crate) async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The user's posts, newest first.
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Post>> {
        load_page::<PostsByAuthorLoader, _, _>(ctx, self.id, first, after, |row| {
            (row.id, Post(row))
        })
        .await
    }
}

pub struct Post(pub(crate) PostRow);

#[Object]
impl Post {
    // Crate-visible: the `Node` interface (nodes.rs) calls it.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn author(&self) -> User {
        User {
            id: self.0.author_id,
        }
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// `#tags` in the body, lowercased.
    async fn hashtags(&self) -> &[String] {
        &self.0.hashtags
    }
    /// `@usernames` in the body, lowercased.
    async fn mentions(&self) -> &[String] {
        &self.0.mentions
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the body was last changed; null if never.
    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.0.edited_at
    }
    /// Its photos, in order; an item is null once that media was removed.
    async fn media(&self) -> Vec<Option<MediaRef>> {
        self.0
            .media_ids
            .iter()
            .map(|id| Some(MediaRef::of(*id)))
            .collect()
    }
    async fn comment_count(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(ctx
            .data_unchecked::<DataLoader<CommentCountLoader>>()
            .load_one(self.0.id)
            .await
            .or_internal()?
            .unwrap_or(0))
    }
    /// Comments, oldest first.
    async fn comments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Comment>> {
        load_page::<CommentsByPostLoader, _, _>(ctx, self.0.id, first, after, |row| {
            (row.id, Comment(row))
        })
        .await
    }
}

pub struct Comment(pub(crate) CommentRow);

#[Object]
impl Comment {
    // Crate-visible: the `Node` interface (nodes.rs) calls it.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn post(&self, ctx: &Context<'_>) -> Result<Option<Post>> {
        load_post(ctx, self.0.post_id).await
    }
    async fn author(&self) -> User {
        User {
            id: self.0.author_id,
        }
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

async fn load_post(ctx: &Context<'_>, id: Uuid) -> Result<Option<Post>> {
    Ok(ctx
        .data_unchecked::<DataLoader<PostLoader>>()
        .load_one(id)
        .await
        .or_internal()?
        .map(Post))
}

pub struct Query;

#[Object]
impl Query {
    /// A post by id; null when there is none (or it was deleted).
    async fn post(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Post>> {
        load_post(ctx, parse_id(&id, "id")?).await
    }

    /// Posts carrying `#tag`, newest first.
    async fn posts_by_hashtag(
        &self,
        ctx: &Context<'_>,
        tag: String,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Post>> {
        let page = PageRequest::new(first, after.as_deref())?;
        let tag = tag.trim().trim_start_matches('#').to_lowercase();
        let db = ctx.data_unchecked::<Db>();
        let rows = store::posts_by_hashtag(db, &tag, page)
            .await
            .or_internal()?;
        Ok(connection(
            page,
            rows.into_iter().map(|r| (r.id, Post(r))).collect(),
        ))
    }

    /// The object with this id, whatever its type (Relay); null when none has it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        Ok(nodes::nodes(ctx, &[id]).await?.pop().flatten())
    }

    /// The object of each id, in order, null where none has it (Relay); at most
    /// 100 ids.
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        nodes::nodes(ctx, &ids).await
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Option<User> {
        Uuid::parse_str(id.as_str()).ok().map(|id| User { id })
    }

    #[graphql(entity)]
    async fn find_post_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Post>> {
        match Uuid::parse_str(id.as_str()) {
            Ok(id) => load_post(ctx, id).await,
            Err(_) => Ok(None),
        }
    }

    #[graphql(entity)]
    async fn find_comment_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Comment>> {
        let Ok(id) = Uuid::parse_str(id.as_str()) else {
            return Ok(None);
        };
        Ok(ctx
            .data_unchecked::<DataLoader<CommentLoader>>()
            .load_one(id)
            .await
            .or_internal()?
            .map(Comment))
    }
}

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

pub struct Mutation;

#[Object]
impl Mutation {
    #[graphql(directive = authenticated::apply())]
    /// `mediaIds`: up to four of your READY media, shown in this order.
    async fn create_post(
        &self,
        ctx: &Context<'_>,
        body: String,
        media_ids: Option<Vec<ID>>,
    ) -> Result<Post> {
        let author_id = Caller::of(ctx).require_user()?;
        let body = checked_body(&body, POST_MAX_CHARS)?;
        let media_ids = media::parse_ids(media_ids)?;
        let id = Uuid::now_v7();
        media::attach_to_post(ctx, author_id, id, &media_ids).await?;
        let row = PostRow {
            id,
            author_id,
            hashtags: text::hashtags(&body),
            mentions: text::mentions(&body),
            body,
            created_at: Utc::now(),
            edited_at: None,
            media_ids: media_ids.clone(),
        };
        let db = ctx.data_unchecked::<Db>();
        match store::create_post(db, &row).await {
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
        let body = checked_body(&body, POST_MAX_CHARS)?;
        let db = ctx.data_unchecked::<Db>();
        authored_post(db, id, caller).await?;
        let (tags, mentions) = (text::hashtags(&body), text::mentions(&body));
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
        let body = checked_body(&body, COMMENT_MAX_CHARS)?;
        let Some(post) = load_post(ctx, post_id).await? else {
            return Err(not_found("post"));
        };
        // The block rule, asked of social at the write (see `Social`).
        let social = &ctx.data_unchecked::<Social>().0;
        // When social cannot answer, the comment is refused, never let through.
        let blocked = blocked_either_way(social, author_id, &[post.0.author_id])
            .await
            .or_internal()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_trimmed_and_bounded() {
        assert_eq!(checked_body("  hi  ", 10).unwrap(), "hi");
        assert!(checked_body("   ", 10).is_err());
        assert!(checked_body(&"é".repeat(11), 10).is_err());
        assert!(checked_body(&"é".repeat(10), 10).is_ok());
    }
}

//! The content subgraph's GraphQL schema: types and queries here, the
//! mutations (posts and comments written, edited, deleted) in `mutation.rs`.

mod moderation;
mod moderation_types;
mod mutation;

use async_graphql::connection::Connection;
use async_graphql::dataloader::DataLoader;
use async_graphql::{
    Context, EmptySubscription, MergedObject, Object, Result, Schema, SchemaBuilder, ID,
};
use chrono::{DateTime, Utc};
use nova_core::connection::{connection, load_page, PageRequest};
use nova_core::db::Db;
use nova_core::errors::{parse_id, OrInternal};
use nova_core::internal::InternalClient;
use nova_core::Caller;
use uuid::Uuid;

use crate::blocks;
use crate::loaders::{
    CommentCountLoader, CommentLoader, CommentsByPostLoader, PostLoader, PostsByAuthorLoader,
};
use crate::media::MediaOwner;
use crate::nodes::{self, Identity, Node};
use crate::store::{self, Comment as CommentRow, Post as PostRow};
use nova_core::entities::Media as MediaRef;

use moderation::{ModerationMutation, ModerationQuery};
use mutation::ContentMutation;

// Posts and comments, and their moderation. (A plain comment: a doc comment
// would become the root type's description in the supergraph.)
#[derive(MergedObject, Default)]
pub struct Query(ContentQuery, ModerationQuery);

#[derive(MergedObject, Default)]
pub struct Mutation(ContentMutation, ModerationMutation);

pub type ContentSchema = Schema<Query, Mutation, EmptySubscription>;

pub const POST_MAX_CHARS: usize = 2000;
pub const COMMENT_MAX_CHARS: usize = 1000;

pub fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    nova_core::caller::subgraph_schema(Query::default(), Mutation::default(), EmptySubscription)
}

/// social's `/internal/` routes: whether a block stands between a commenter and
/// a post's author, asked at the write so a block holds once `blockUser` returns.
pub struct Social(pub InternalClient);

/// chat's `/internal/messages/` routes: a reported message kept aside, and
/// read back for moderators (`nova_core::message_reports`).
pub struct Chat(pub InternalClient);

/// The schema with its data; `identity` answers which ids are accounts (`nodes.rs`),
/// `social` whether a block stands in the way of a comment.
pub fn build(
    db: Db,
    identity: InternalClient,
    social: InternalClient,
    media: InternalClient,
    chat: InternalClient,
    views: nova_core::views::ViewRecorder,
) -> ContentSchema {
    builder()
        .data(views)
        .data(Identity(identity))
        .data(MediaOwner(media))
        .data(nova_core::batching::loader(
            nova_core::internal::BlockPairsLoader {
                social: social.clone(),
            },
        ))
        .data(Social(social))
        .data(Chat(chat))
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
        let mut page =
            load_page::<CommentsByPostLoader, _, _>(ctx, self.0.id, first, after, |row| {
                (row.id, Comment(row))
            })
            .await?;
        // Comments of accounts blocked either way with the viewer are left out
        // (docs/blocks.md); a page may then hold fewer than `first`.
        blocks::leave_out_hidden(ctx, &mut page, |node| node.0.author_id).await?;
        Ok(page)
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

#[derive(Default)]
pub struct ContentQuery;

#[Object]
impl ContentQuery {
    /// A post by id; null when there is none (or it was deleted), and for a
    /// viewer blocked either way with its author.
    async fn post(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Post>> {
        let Some(post) = load_post(ctx, parse_id(&id, "id")?).await? else {
            return Ok(None);
        };
        let hidden = blocks::hidden_from_viewer(ctx, &[post.0.author_id]).await?;
        if hidden.contains(&post.0.author_id) {
            return Ok(None);
        }
        ctx.data_unchecked::<nova_core::views::ViewRecorder>()
            .record(
                nova_core::views::Surface::PostPage,
                Caller::of(ctx).user_id,
                &[(post.0.id, post.0.author_id)],
            );
        Ok(Some(post))
    }

    /// Posts carrying `#tag`, newest first, without those of accounts blocked
    /// either way with the viewer.
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
        let mut found = connection(page, rows.into_iter().map(|r| (r.id, Post(r))).collect());
        // Posts of accounts blocked either way with the viewer are left out, as
        // in comment lists (a page may then hold fewer than `first`).
        blocks::leave_out_hidden(ctx, &mut found, |node| node.0.author_id).await?;
        Ok(found)
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

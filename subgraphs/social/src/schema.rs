//! The social subgraph's GraphQL schema: types and resolvers.

use async_graphql::connection::Connection;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, EmptySubscription, Object, Result, Schema, SchemaBuilder, ID};
use nova_core::connection::{connection, PageKey, PageRequest};
use nova_core::db::Db;
use nova_core::errors::{bad_input, parse_id, OrInternal};
use nova_core::internal::{post_authors, InternalClient};
use nova_core::sdl::authenticated;
use nova_core::{Caller, ErrorCode};
use uuid::Uuid;

use crate::loaders::{
    Count, CountKey, CountLoader, FollowPageKey, FollowPageLoader, LikerPageKey, LikerPageLoader,
    Relation, ViewerKey, ViewerLoader,
};
use crate::store::{self, FollowOutcome, FollowSide, LikeOutcome};

pub type SocialSchema = Schema<Query, Mutation, EmptySubscription>;

pub const MAX_SUGGESTIONS: i32 = 50;

pub fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    nova_core::caller::subgraph_schema(Query, Mutation, EmptySubscription)
}

/// content's `/internal/` routes: a post's author, asked before a like.
pub struct Content(pub InternalClient);

pub fn build(db: Db, content: InternalClient) -> SocialSchema {
    builder()
        .data(Content(content))
        .data(nova_core::batching::loader(CountLoader { db: db.clone() }))
        .data(nova_core::batching::loader(ViewerLoader { db: db.clone() }))
        .data(nova_core::batching::loader(FollowPageLoader {
            db: db.clone(),
        }))
        .data(nova_core::batching::loader(LikerPageLoader {
            db: db.clone(),
        }))
        .data(db)
        .finish()
}

pub fn sdl() -> String {
    nova_core::sdl::federated_sdl(&builder().finish())
}

async fn count(ctx: &Context<'_>, count: Count, id: Uuid) -> Result<i64> {
    Ok(ctx
        .data_unchecked::<DataLoader<CountLoader>>()
        .load_one(CountKey { count, id })
        .await
        .or_internal()?
        .unwrap_or(0))
}

/// The viewer's relation to `target`; false for an anonymous viewer.
async fn viewer_state(ctx: &Context<'_>, relation: Relation, target: Uuid) -> Result<bool> {
    let Some(viewer) = Caller::of(ctx).user_id else {
        return Ok(false);
    };
    Ok(ctx
        .data_unchecked::<DataLoader<ViewerLoader>>()
        .load_one(ViewerKey {
            relation,
            viewer,
            target,
        })
        .await
        .or_internal()?
        .unwrap_or(false))
}

/// A page of `(cursor id, user id)` rows as a connection of users.
fn users_page(page: PageRequest, rows: Vec<(Uuid, Uuid)>) -> Connection<String, User> {
    let users = rows
        .into_iter()
        .map(|(cursor, id)| (cursor, User { id }))
        .collect();
    connection(page, users)
}

/// A Nova user as social sees them.
pub struct User {
    id: Uuid,
}

impl User {
    async fn follow_page(
        &self,
        ctx: &Context<'_>,
        side: FollowSide,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, User>> {
        let page = PageRequest::new(first, after.as_deref())?;
        let key = FollowPageKey {
            side,
            page: PageKey {
                parent: self.id,
                page,
            },
        };
        let rows = ctx
            .data_unchecked::<DataLoader<FollowPageLoader>>()
            .load_one(key)
            .await
            .or_internal()?
            .unwrap_or_default();
        Ok(users_page(page, rows))
    }
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// Who follows this user, most recent first.
    async fn followers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, User>> {
        self.follow_page(ctx, FollowSide::Followers, first, after)
            .await
    }
    /// Whom this user follows, most recent first.
    async fn following(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, User>> {
        self.follow_page(ctx, FollowSide::Following, first, after)
            .await
    }
    async fn follower_count(&self, ctx: &Context<'_>) -> Result<i64> {
        count(ctx, Count::Followers, self.id).await
    }
    async fn following_count(&self, ctx: &Context<'_>) -> Result<i64> {
        count(ctx, Count::Following, self.id).await
    }
    /// Whether the signed-in viewer follows this user (false when signed out).
    async fn viewer_follows(&self, ctx: &Context<'_>) -> Result<bool> {
        viewer_state(ctx, Relation::Follows, self.id).await
    }
    /// Whether the signed-in viewer has blocked this user (false when signed out).
    async fn viewer_blocked(&self, ctx: &Context<'_>) -> Result<bool> {
        viewer_state(ctx, Relation::Blocked, self.id).await
    }
    /// Whether the signed-in viewer has muted this user (false when signed out).
    async fn viewer_has_muted(&self, ctx: &Context<'_>) -> Result<bool> {
        viewer_state(ctx, Relation::Muted, self.id).await
    }
}

/// A post as social sees it: its likes.
pub struct Post {
    id: Uuid,
}

#[Object]
impl Post {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    async fn like_count(&self, ctx: &Context<'_>) -> Result<i64> {
        count(ctx, Count::Likes, self.id).await
    }
    /// Whether the signed-in viewer likes this post (false when signed out).
    async fn viewer_has_liked(&self, ctx: &Context<'_>) -> Result<bool> {
        viewer_state(ctx, Relation::Liked, self.id).await
    }
    /// Who liked this post, most recent first; no account blocked either way
    /// with the viewer.
    async fn liked_by(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, User>> {
        let page = PageRequest::new(first, after.as_deref())?;
        let key = LikerPageKey {
            viewer: Caller::of(ctx).user_id,
            page: PageKey {
                parent: self.id,
                page,
            },
        };
        let rows = ctx
            .data_unchecked::<DataLoader<LikerPageLoader>>()
            .load_one(key)
            .await
            .or_internal()?
            .unwrap_or_default();
        Ok(users_page(page, rows))
    }
}

pub struct Query;

#[Object]
impl Query {
    /// People followed by people you follow, most shared follows first; never
    /// someone you follow already, someone you muted, or a block in either
    /// direction.
    #[graphql(directive = authenticated::apply())]
    async fn suggested_users(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<User>> {
        let viewer = Caller::of(ctx).require_user()?;
        let first = first.unwrap_or(10);
        if !(1..=MAX_SUGGESTIONS).contains(&first) {
            return Err(bad_input(
                "first",
                format!("first must be between 1 and {MAX_SUGGESTIONS}"),
            ));
        }
        let db = ctx.data_unchecked::<Db>();
        let ids = store::suggested_users(db, viewer, i64::from(first))
            .await
            .or_internal()?;
        Ok(ids.into_iter().map(|id| User { id }).collect())
    }

    /// Whom you blocked, most recent first.
    #[graphql(directive = authenticated::apply())]
    async fn blocked_users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, User>> {
        own_list(ctx, store::OwnList::Blocked, first, after).await
    }

    /// Whom you muted, most recent first.
    #[graphql(directive = authenticated::apply())]
    async fn muted_users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, User>> {
        own_list(ctx, store::OwnList::Muted, first, after).await
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Option<User> {
        Uuid::parse_str(id.as_str()).ok().map(|id| User { id })
    }

    #[graphql(entity)]
    async fn find_post_by_id(&self, id: ID) -> Option<Post> {
        Uuid::parse_str(id.as_str()).ok().map(|id| Post { id })
    }
}

/// One page of the caller's blocks or mutes: one statement, no batching needed
/// (a request asks for its own list once).
async fn own_list(
    ctx: &Context<'_>,
    list: store::OwnList,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, User>> {
    let viewer = Caller::of(ctx).require_user()?;
    let page = PageRequest::new(first, after.as_deref())?;
    let rows = store::own_list(ctx.data_unchecked::<Db>(), list, viewer, page)
        .await
        .or_internal()?;
    Ok(users_page(page, rows))
}

/// The caller and the other user of a social mutation; acting on yourself is
/// `BAD_USER_INPUT`.
fn caller_and_other(ctx: &Context<'_>, user_id: &ID, verb: &str) -> Result<(Uuid, Uuid)> {
    let caller = Caller::of(ctx).require_user()?;
    let other = parse_id(user_id, "userId")?;
    if caller == other {
        return Err(bad_input("userId", format!("you cannot {verb} yourself")));
    }
    Ok((caller, other))
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Follow a user. Idempotent; refused (`FORBIDDEN`) when either blocked the other.
    #[graphql(directive = authenticated::apply())]
    async fn follow_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<User> {
        let (me, other) = caller_and_other(ctx, &user_id, "follow")?;
        let db = ctx.data_unchecked::<Db>();
        match store::follow(db, me, other).await.or_internal()? {
            FollowOutcome::Following => Ok(User { id: other }),
            FollowOutcome::Blocked => {
                Err(ErrorCode::Forbidden.error("you cannot follow this user"))
            }
        }
    }

    /// Idempotent.
    #[graphql(directive = authenticated::apply())]
    async fn unfollow_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<User> {
        let (me, other) = caller_and_other(ctx, &user_id, "unfollow")?;
        let db = ctx.data_unchecked::<Db>();
        store::unfollow(db, me, other).await.or_internal()?;
        Ok(User { id: other })
    }

    /// Block a user: removes follows both ways and prevents new ones.
    #[graphql(directive = authenticated::apply())]
    async fn block_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<User> {
        let (me, other) = caller_and_other(ctx, &user_id, "block")?;
        let db = ctx.data_unchecked::<Db>();
        store::block(db, me, other).await.or_internal()?;
        Ok(User { id: other })
    }

    #[graphql(directive = authenticated::apply())]
    async fn unblock_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<User> {
        let (me, other) = caller_and_other(ctx, &user_id, "unblock")?;
        let db = ctx.data_unchecked::<Db>();
        store::unblock(db, me, other).await.or_internal()?;
        Ok(User { id: other })
    }

    /// Mute a user: their posts leave your home feed and stay out while the mute
    /// lasts, and they are not suggested to you. They are not told. Idempotent.
    #[graphql(directive = authenticated::apply())]
    async fn mute_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<User> {
        let (me, other) = caller_and_other(ctx, &user_id, "mute")?;
        let db = ctx.data_unchecked::<Db>();
        store::mute(db, me, other).await.or_internal()?;
        Ok(User { id: other })
    }

    #[graphql(directive = authenticated::apply())]
    async fn unmute_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<User> {
        let (me, other) = caller_and_other(ctx, &user_id, "unmute")?;
        let db = ctx.data_unchecked::<Db>();
        store::unmute(db, me, other).await.or_internal()?;
        Ok(User { id: other })
    }

    /// Idempotent.
    #[graphql(directive = authenticated::apply())]
    async fn like_post(&self, ctx: &Context<'_>, post_id: ID) -> Result<Post> {
        let me = Caller::of(ctx).require_user()?;
        let post = parse_id(&post_id, "postId")?;
        // The author, from content, the owner of posts; a post it does not serve
        // cannot be liked.
        let content = &ctx.data_unchecked::<Content>().0;
        let authors = post_authors(content, &[post]).await.or_internal()?;
        let Some(author) = authors.get(&post).copied() else {
            return Err(ErrorCode::NotFound.error("no such post"));
        };
        let db = ctx.data_unchecked::<Db>();
        match store::like(db, me, post, author).await.or_internal()? {
            LikeOutcome::Liked => Ok(Post { id: post }),
            LikeOutcome::Blocked => {
                Err(ErrorCode::Forbidden.error("you cannot like this user's posts"))
            }
        }
    }

    /// Idempotent.
    #[graphql(directive = authenticated::apply())]
    async fn unlike_post(&self, ctx: &Context<'_>, post_id: ID) -> Result<Post> {
        let me = Caller::of(ctx).require_user()?;
        let post = parse_id(&post_id, "postId")?;
        let db = ctx.data_unchecked::<Db>();
        store::unlike(db, me, post).await.or_internal()?;
        Ok(Post { id: post })
    }
}

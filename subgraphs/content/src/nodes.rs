//! Relay's global object identification: the `Node` interface over Nova's
//! entities (`User`, `Post`, `Comment`) and `Query.node(id:)` / `nodes(ids:)`.
//!
//! A node's id is the entity's own `id`: the UUIDs every entity already has (its
//! federation `@key`, in events, in shipped operations) are unique across types, so
//! no type-tagged second id is needed and Relay's and Apollo's caches key on the
//! same value clients already hold. The price is a lookup from an id to its type:
//! content answers these fields because it owns two of the three types, looks the
//! id up in its own tables first (posts, comments, through the same loaders as
//! `post(id:)` and the entity resolvers) and asks identity about the rest
//! (`/internal/accounts/existing`). The router then resolves the node's other
//! fields from their owners through federation.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Interface, Result, ID};
use nova_core::errors::{bad_input, parse_id, OrInternal};
use nova_core::internal::{existing_accounts, InternalClient};
use uuid::Uuid;

use crate::loaders::{CommentLoader, PostLoader};
use crate::schema::{Comment, Post, User};

/// An object with a globally unique id (Relay's Global Object Identification).
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "Unique across every type: refetch the object with `node(id:)`."
))]
pub enum Node {
    User(User),
    Post(Post),
    Comment(Comment),
}

/// Ids one `nodes(ids:)` may ask for.
pub const MAX_NODES: usize = 100;

/// identity's `/internal/` routes, for the ids content does not own.
pub struct Identity(pub InternalClient);

/// The node of each id, in order; `None` for an id no entity has (or one its
/// owner no longer serves, such as a deleted post). A malformed id is refused.
pub async fn nodes(ctx: &Context<'_>, ids: &[ID]) -> Result<Vec<Option<Node>>> {
    if ids.len() > MAX_NODES {
        return Err(bad_input("ids", format!("at most {MAX_NODES} ids")));
    }
    let ids: Vec<Uuid> = ids
        .iter()
        .map(|id| parse_id(id, "id"))
        .collect::<Result<_>>()?;
    let posts = ctx
        .data_unchecked::<DataLoader<PostLoader>>()
        .load_many(ids.iter().copied())
        .await
        .or_internal()?;
    let comments = ctx
        .data_unchecked::<DataLoader<CommentLoader>>()
        .load_many(ids.iter().copied())
        .await
        .or_internal()?;
    let others: Vec<Uuid> = ids
        .iter()
        .filter(|id| !posts.contains_key(id) && !comments.contains_key(id))
        .copied()
        .collect();
    let identity = &ctx.data_unchecked::<Identity>().0;
    let accounts = existing_accounts(identity, &others).await.or_internal()?;
    Ok(ids
        .iter()
        .map(|id| {
            if let Some(post) = posts.get(id) {
                Some(Node::Post(Post(post.clone())))
            } else if let Some(comment) = comments.get(id) {
                Some(Node::Comment(Comment(comment.clone())))
            } else {
                accounts
                    .contains(id)
                    .then_some(Node::User(User { id: *id }))
            }
        })
        .collect())
}

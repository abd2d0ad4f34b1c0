//! References to entities another subgraph owns, for subgraphs that only know
//! their ids: federation stubs (`@key(fields: "id", resolvable: false)`) the
//! router resolves at the owner. A subgraph that adds fields to one defines its
//! own type instead (social's `User`, content's `Post`).

use async_graphql::{SimpleObject, ID};
use uuid::Uuid;

/// A Nova user (owned by users).
#[derive(SimpleObject)]
#[graphql(unresolvable)]
pub struct User {
    id: ID,
}

impl User {
    pub fn of(id: Uuid) -> Self {
        Self {
            id: ID(id.to_string()),
        }
    }
}

/// A post (owned by content).
#[derive(SimpleObject)]
#[graphql(unresolvable)]
pub struct Post {
    id: ID,
}

impl Post {
    pub fn of(id: Uuid) -> Self {
        Self {
            id: ID(id.to_string()),
        }
    }
}

/// An uploaded image or video (owned by media).
#[derive(SimpleObject)]
#[graphql(unresolvable)]
pub struct Media {
    id: ID,
}

impl Media {
    pub fn of(id: Uuid) -> Self {
        Self {
            id: ID(id.to_string()),
        }
    }
}

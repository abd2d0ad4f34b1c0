//! Who is calling. The router verifies the client's JWT and forwards its claims in
//! the GraphQL request's `extensions.jwt`; it also adds the `x-nova-router-secret`
//! header. A subgraph believes the claims only when that header matches its own
//! `NOVA_ROUTER_SECRET` (compared in constant time); any request without it is
//! refused before it reaches a resolver, so a client that calls a subgraph directly
//! cannot claim to be someone else.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{
    Context, ObjectType, Request, Schema, SchemaBuilder, ServerResult, SubscriptionType,
};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::errors::ErrorCode;

/// The header the router adds to every subgraph request.
pub const ROUTER_SECRET_HEADER: &str = "x-nova-router-secret";

/// The request extension the router puts the verified JWT claims under.
pub const CLAIMS_EXTENSION: &str = "jwt";

/// True when `presented` equals `expected`, compared in constant time.
pub fn router_secret_matches(presented: Option<&[u8]>, expected: &str) -> bool {
    match presented {
        Some(presented) => presented.ct_eq(expected.as_bytes()).into(),
        None => false,
    }
}

/// The caller of one GraphQL request, as the router vouched for it.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub user_id: Option<Uuid>,
}

impl Caller {
    /// Read the caller from the forwarded claims (`extensions.jwt`). A claims object
    /// without a UUID `sub` is treated as anonymous: the router only forwards claims
    /// it verified, so this only happens with a token from another issuer.
    pub fn from_claims(claims: Option<&serde_json::Value>) -> Self {
        let user_id = claims
            .and_then(|c| c.get("sub"))
            .and_then(|s| s.as_str())
            .and_then(|s| Uuid::parse_str(s).ok());
        Self { user_id }
    }

    /// The signed-in user's id, or `UNAUTHENTICATED`.
    pub fn require_user(&self) -> async_graphql::Result<Uuid> {
        self.user_id
            .ok_or_else(|| ErrorCode::Unauthenticated.error("sign in to do this"))
    }

    /// The caller of the request a resolver runs in.
    pub fn of(ctx: &Context<'_>) -> Caller {
        ctx.data_opt::<Caller>().cloned().unwrap_or_default()
    }
}

/// Sets the `Caller` of every request — HTTP or a subscription over
/// graphql-transport-ws — from the claims the router forwards in
/// `extensions.jwt`. Per request, not per connection: the router may carry
/// several clients' subscriptions on one WebSocket.
pub struct CallerFromClaims;

impl ExtensionFactory for CallerFromClaims {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CallerFromClaims)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for CallerFromClaims {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let claims = request
            .extensions
            .remove(CLAIMS_EXTENSION)
            .and_then(|value| value.into_json().ok());
        let request = request.data(Caller::from_claims(claims.as_ref()));
        next.run(ctx, request).await
    }
}

/// The schema builder every subgraph starts from: federation on, the caller
/// taken from the router's forwarded claims.
pub fn subgraph_schema<Q, M, S>(query: Q, mutation: M, subscription: S) -> SchemaBuilder<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    Schema::build(query, mutation, subscription)
        .enable_federation()
        .extension(CallerFromClaims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_must_match_exactly() {
        let secret = "0123456789abcdef0123456789abcdef";
        assert!(router_secret_matches(Some(secret.as_bytes()), secret));
        assert!(!router_secret_matches(None, secret));
        assert!(!router_secret_matches(Some(b"0123456789abcdef"), secret));
        assert!(!router_secret_matches(
            Some(b"0123456789abcdef0123456789abcdeX"),
            secret
        ));
    }

    #[test]
    fn caller_comes_from_sub_claim() {
        let id = Uuid::now_v7();
        let claims = serde_json::json!({ "sub": id.to_string(), "iss": "nova" });
        assert_eq!(Caller::from_claims(Some(&claims)).user_id, Some(id));
        assert_eq!(Caller::from_claims(None).user_id, None);
        let bad = serde_json::json!({ "sub": "not-a-uuid" });
        assert_eq!(Caller::from_claims(Some(&bad)).user_id, None);
    }
}

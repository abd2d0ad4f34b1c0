//! Who is calling. The router verifies the client's JWT and forwards its claims in
//! the GraphQL request's `extensions.jwt`; it also adds the `x-nova-router-secret`
//! header. A subgraph believes the claims only when that header matches its own
//! `NOVA_ROUTER_SECRET` (compared in constant time); any request without it is
//! refused before it reaches a resolver, so a client that calls a subgraph directly
//! cannot claim to be someone else.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{
    Context, ErrorExtensions, ObjectType, Request, Schema, SchemaBuilder, ServerResult,
    SubscriptionType,
};
use futures::{Stream, StreamExt};
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
    /// The sign-in (session family) the access token belongs to: its `sid` claim.
    pub session_id: Option<Uuid>,
    /// When the caller's access token expires (its `exp` claim, Unix seconds).
    pub token_expires_at: Option<u64>,
    /// The token's scopes (its space-separated `scope` claim): the roles an
    /// operator granted (`moderator`).
    pub scopes: Vec<String>,
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
        let token_expires_at = claims.and_then(|c| c.get("exp")).and_then(|e| e.as_u64());
        let session_id = claims
            .and_then(|c| c.get("sid"))
            .and_then(|s| s.as_str())
            .and_then(|s| Uuid::parse_str(s).ok());
        let scopes = claims
            .and_then(|c| c.get("scope"))
            .and_then(|s| s.as_str())
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Self {
            user_id,
            session_id,
            token_expires_at,
            scopes,
        }
    }

    /// The signed-in user's id when the token carries `scope`; `UNAUTHENTICATED`
    /// without a user, `FORBIDDEN` without the scope. The router refuses such a
    /// field first (`@requiresScopes`); this holds for a call that skips it.
    pub fn require_scope(&self, scope: &str) -> async_graphql::Result<Uuid> {
        let user = self.require_user()?;
        if !self.scopes.iter().any(|s| s == scope) {
            return Err(ErrorCode::Forbidden.error(format!("this needs the `{scope}` role")));
        }
        Ok(user)
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

    /// A live stream of this caller's that ends when the caller's token expires,
    /// with one `UNAUTHENTICATED` error (reason `TOKEN_EXPIRED`): the client
    /// subscribes again with a fresh token and reads what it missed by sequence
    /// number. The router checks the token only when a stream opens (Hive Router
    /// 0.2.19 has no hook on a running stream), so the subgraph serving it, which
    /// holds the verified claims, ends it. A stream that ends first ends quietly.
    pub fn until_token_expires<S, T>(
        &self,
        events: S,
    ) -> impl Stream<Item = async_graphql::Result<T>> + Send + use<S, T>
    where
        S: Stream<Item = async_graphql::Result<T>> + Send,
        T: Send,
    {
        let deadline = self.token_expires_at.map(|expires_at| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            tokio::time::Instant::now() + Duration::from_secs(expires_at.saturating_sub(now))
        });
        let expiry = async move {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        let expired_notice = futures::stream::once(async move {
            let expired = deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
            expired.then(token_expired)
        })
        .filter_map(std::future::ready);
        events.take_until(expiry).chain(expired_notice)
    }
}

impl Caller {
    /// A live stream of the signed-in caller's that ends at the token's expiry
    /// (`until_token_expires`) or as soon as the account is suspended
    /// (`suspensions::SuspensionNotices`, which the schema must hold).
    pub fn until_ended<S, T>(
        &self,
        ctx: &Context<'_>,
        events: S,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<T>> + Send + use<S, T>>
    where
        S: Stream<Item = async_graphql::Result<T>> + Send,
        T: Send,
    {
        let user = self.require_user()?;
        let notices = ctx.data::<crate::suspensions::SuspensionNotices>()?;
        Ok(notices.until_suspended(user, self.until_token_expires(events)))
    }
}

fn token_expired<T>() -> async_graphql::Result<T> {
    Err(ErrorCode::Unauthenticated
        .error("the access token expired; subscribe again with a fresh token")
        .extend_with(|_, ext| ext.set("reason", "TOKEN_EXPIRED")))
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
/// taken from the router's forwarded claims, operation and field spans when
/// traces are exported.
pub fn subgraph_schema<Q, M, S>(query: Q, mutation: M, subscription: S) -> SchemaBuilder<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let builder = Schema::build(query, mutation, subscription)
        .enable_federation()
        .extension(CallerFromClaims);
    if crate::telemetry::tracing_on() {
        builder.extension(crate::telemetry::GraphqlSpans)
    } else {
        builder
    }
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

    fn caller_expiring_at(exp: Option<u64>) -> Caller {
        Caller {
            user_id: Some(Uuid::now_v7()),
            session_id: None,
            token_expires_at: exp,
            scopes: Vec::new(),
        }
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    async fn collect<S: Stream>(stream: S) -> Vec<S::Item> {
        tokio::time::timeout(Duration::from_secs(10), stream.collect::<Vec<_>>())
            .await
            .expect("the stream ends")
    }

    #[tokio::test]
    async fn an_expired_token_ends_a_waiting_stream_with_token_expired() {
        let caller = caller_expiring_at(Some(now() - 1));
        let items = collect(
            caller.until_token_expires(futures::stream::pending::<async_graphql::Result<u8>>()),
        )
        .await;
        assert_eq!(items.len(), 1);
        let error = items[0].as_ref().unwrap_err();
        let extensions = serde_json::to_value(&error.extensions).unwrap();
        assert_eq!(extensions["code"], "UNAUTHENTICATED");
        assert_eq!(extensions["reason"], "TOKEN_EXPIRED");
    }

    #[tokio::test]
    async fn a_stream_that_ends_before_expiry_ends_without_an_error() {
        for exp in [None, Some(now() + 600)] {
            let caller = caller_expiring_at(exp);
            let items =
                collect(caller.until_token_expires(futures::stream::iter([Ok(1), Ok(2)]))).await;
            let values: Vec<u8> = items.into_iter().map(|item| item.unwrap()).collect();
            assert_eq!(values, [1, 2], "exp {exp:?}");
        }
    }

    #[test]
    fn scopes_come_from_the_space_separated_scope_claim() {
        let id = Uuid::now_v7();
        let claims = serde_json::json!({ "sub": id.to_string(), "scope": "moderator other" });
        let caller = Caller::from_claims(Some(&claims));
        assert_eq!(caller.require_scope("moderator").unwrap(), id);
        let plain = Caller::from_claims(Some(&serde_json::json!({ "sub": id.to_string() })));
        let refused = plain.require_scope("moderator").unwrap_err();
        assert_eq!(
            refused.extensions.unwrap().get("code"),
            Some(&async_graphql::Value::from("FORBIDDEN"))
        );
    }

    #[test]
    fn the_expiry_comes_from_the_exp_claim() {
        let claims = serde_json::json!({ "sub": Uuid::now_v7().to_string(), "exp": 1_900_000_000 });
        let caller = Caller::from_claims(Some(&claims));
        assert_eq!(caller.token_expires_at, Some(1_900_000_000));
    }
}

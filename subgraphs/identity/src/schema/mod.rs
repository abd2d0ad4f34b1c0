//! The identity subgraph's GraphQL schema: types and resolvers.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{
    Context, EmptySubscription, MergedObject, Object, Result, Schema, SchemaBuilder, ID,
};
use chrono::{DateTime, Utc};
use nova_core::errors::{bad_input, parse_id, OrInternal};
use nova_core::internal::{blockers_of, InternalClient};
use nova_core::sdl::authenticated;
use nova_core::{Caller, ErrorCode};
use uuid::Uuid;

use crate::loaders::AccountLoader;
use crate::mail::Mailer;
use crate::passwords::{Passwords, DUMMY_HASH};
use crate::store::{self, Account, CreateAccountError, Rotation};
use crate::suspended_set::SuspendedSet;
use crate::tokens::{new_refresh_token, token_hash, TokenIssuer};
use crate::validation::validate_registration;

pub mod deletion;
pub mod passwords;
pub mod suspensions;

pub type IdentitySchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema without its runtime data: enough to print the SDL.
pub fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    nova_core::caller::subgraph_schema(Query::default(), Mutation::default(), EmptySubscription)
}

/// The schema a running subgraph serves.
pub fn build(
    db: nova_core::db::Db,
    tokens: Arc<TokenIssuer>,
    passwords: Passwords,
    mailer: Option<Mailer>,
    resets: passwords::ResetSettings,
    social: InternalClient,
    suspended: SuspendedSet,
) -> IdentitySchema {
    let accounts = nova_core::batching::loader(AccountLoader { db: db.clone() });
    builder()
        .data(db)
        .data(tokens)
        .data(accounts)
        .data(passwords)
        .data(mailer)
        .data(resets)
        .data(Social(social))
        .data(suspended)
        .finish()
}

/// The SDL this subgraph contributes to the supergraph.
pub fn sdl() -> String {
    nova_core::sdl::federated_sdl(&builder().finish())
}

/// A Nova user as identity knows them.
pub struct User(Account);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn username(&self) -> &str {
        &self.0.username
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The account's email address. Visible only to that user; null for anyone else.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        (Caller::of(ctx).user_id == Some(self.0.id)).then_some(self.0.email.as_str())
    }
}

/// A signed-in session: a short-lived access token and the refresh token that
/// renews it.
pub struct AuthPayload {
    access_token: String,
    access_token_expires_at: DateTime<Utc>,
    refresh_token: String,
    user: Account,
}

#[Object]
impl AuthPayload {
    /// A JWT to send as `Authorization: Bearer <token>`.
    async fn access_token(&self) -> &str {
        &self.access_token
    }
    async fn access_token_expires_at(&self) -> DateTime<Utc> {
        self.access_token_expires_at
    }
    /// Opaque; exchange it once with `refreshSession`. Reusing it revokes the session.
    async fn refresh_token(&self) -> &str {
        &self.refresh_token
    }
    async fn user(&self) -> User {
        User(self.user.clone())
    }
}

async fn load_account(ctx: &Context<'_>, id: Uuid) -> Result<Option<Account>> {
    ctx.data_unchecked::<DataLoader<AccountLoader>>()
        .load_one(id)
        .await
        .or_internal()
}

/// social's `/internal/` routes: whom a profile's owner blocked.
pub struct Social(pub InternalClient);

/// A profile as the viewer may see it: unavailable (null) to someone its owner
/// blocked, asked of social at each read so it holds once `blockUser` returns.
async fn profile(ctx: &Context<'_>, id: Uuid) -> Result<Option<User>> {
    let Some(account) = load_account(ctx, id).await? else {
        return Ok(None);
    };
    if let Some(viewer) = Caller::of(ctx).user_id.filter(|viewer| *viewer != id) {
        let social = &ctx.data_unchecked::<Social>().0;
        if !blockers_of(social, viewer, &[id])
            .await
            .or_internal()?
            .is_empty()
        {
            return Ok(None);
        }
    }
    Ok(Some(User(account)))
}

// Every query of identity: accounts here, suspensions in `suspensions`. (A
// plain comment: a doc comment would describe the root type.)
#[derive(MergedObject, Default)]
pub struct Query(AccountQuery, suspensions::SuspensionQuery);

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user.
    #[graphql(directive = authenticated::apply())]
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let id = Caller::of(ctx).require_user()?;
        Ok(load_account(ctx, id).await?.map(User))
    }

    /// A user by id; null when there is none, or when they blocked the viewer.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        profile(ctx, parse_id(&id, "id")?).await
    }

    /// A user by username (case-insensitive); null when there is none, or when
    /// they blocked the viewer.
    async fn user_by_username(&self, ctx: &Context<'_>, username: String) -> Result<Option<User>> {
        let db = ctx.data_unchecked::<nova_core::db::Db>();
        let Some(id) = store::account_id_by_username(db, username.trim())
            .await
            .or_internal()?
        else {
            return Ok(None);
        };
        profile(ctx, id).await
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        match Uuid::parse_str(&id) {
            Ok(id) => Ok(load_account(ctx, id).await?.map(User)),
            Err(_) => Ok(None),
        }
    }
}

fn invalid_refresh_token() -> async_graphql::Error {
    ErrorCode::Unauthenticated.error("refresh token is invalid, expired or revoked")
}

/// Every mutation of identity: sign-up and sessions here, passwords in
/// `passwords`, suspensions in `suspensions`, deletion in `deletion`.
#[derive(MergedObject, Default)]
pub struct Mutation(
    SessionMutation,
    passwords::PasswordMutation,
    suspensions::SuspensionMutation,
    deletion::DeletionMutation,
);

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Create an account. Sign in with `login` afterwards, or use `signUp`, which
    /// does both.
    #[graphql(deprecation = "use signUp, which also signs the new user in")]
    async fn register(
        &self,
        ctx: &Context<'_>,
        email: String,
        username: String,
        password: String,
    ) -> Result<User> {
        create_account(ctx, email, username, password)
            .await
            .map(User)
    }

    /// Create an account and sign in to it: the new user's first session.
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        email: String,
        username: String,
        password: String,
    ) -> Result<AuthPayload> {
        let account = create_account(ctx, email, username, password).await?;
        start_session(ctx, account.id).await
    }

    /// Sign in with email or username (exactly one) and password.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: Option<String>,
        username: Option<String>,
        password: String,
    ) -> Result<AuthPayload> {
        let db = ctx.data_unchecked::<nova_core::db::Db>();
        let credentials = match (email.as_deref(), username.as_deref()) {
            (Some(email), None) => store::credentials_by_email(db, email.trim()).await,
            (None, Some(username)) => store::credentials_by_username(db, username.trim()).await,
            _ => return Err(bad_input("email", "give exactly one of email and username")),
        }
        .or_internal()?;
        // Verify against a dummy hash when the account is unknown, so the answer
        // takes as long either way and does not reveal which accounts exist.
        let (account_id, stored_hash) = match credentials {
            Some((id, hash)) => (Some(id), hash),
            None => (None, DUMMY_HASH.to_string()),
        };
        let passwords = ctx.data_unchecked::<Passwords>();
        let matches = passwords
            .verify(password, stored_hash)
            .await
            .or_internal()?;
        let Some(account_id) = account_id.filter(|_| matches) else {
            return Err(ErrorCode::Unauthenticated.error("email, username or password is wrong"));
        };
        start_session(ctx, account_id).await
    }

    /// Exchange a refresh token for a new access token and a new refresh token. The
    /// old refresh token stops working; presenting it again revokes the session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> Result<AuthPayload> {
        let db = ctx.data_unchecked::<nova_core::db::Db>();
        let tokens = ctx.data_unchecked::<Arc<TokenIssuer>>();
        let next = new_refresh_token();
        let rotation = store::rotate_refresh_token(
            db,
            &token_hash(&refresh_token),
            &token_hash(&next),
            Utc::now() + tokens.refresh_ttl,
        )
        .await
        .or_internal()?;
        match rotation {
            Rotation::Rotated {
                account_id,
                family_id,
            } => signed_in(ctx, tokens, account_id, family_id, next).await,
            Rotation::ReuseDetected => {
                tracing::warn!("refresh token reuse detected; session family revoked");
                Err(ErrorCode::Unauthenticated
                    .error("refresh token was already used; the session has been revoked"))
            }
            Rotation::Unknown | Rotation::Revoked | Rotation::Expired => {
                Err(invalid_refresh_token())
            }
        }
    }

    /// End the session the refresh token belongs to. Access tokens already issued
    /// stay valid until they expire (at most `JWT_ACCESS_TOKEN_TTL_SECONDS`).
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool> {
        let db = ctx.data_unchecked::<nova_core::db::Db>();
        if store::revoke_session_of(db, &token_hash(&refresh_token))
            .await
            .or_internal()?
        {
            Ok(true)
        } else {
            Err(invalid_refresh_token())
        }
    }
}

/// Check the input and create the account, or say which field is refused.
async fn create_account(
    ctx: &Context<'_>,
    email: String,
    username: String,
    password: String,
) -> Result<Account> {
    let email = email.trim().to_string();
    let username = username.trim().to_string();
    validate_registration(&email, &username, &password)?;
    let db = ctx.data_unchecked::<nova_core::db::Db>();
    let passwords = ctx.data_unchecked::<Passwords>();
    let hash = passwords.hash(password).await.or_internal()?;
    match store::create_account(db, Uuid::now_v7(), &email, &username, &hash).await {
        Ok(account) => Ok(account),
        Err(CreateAccountError::EmailTaken) => {
            Err(bad_input("email", "an account with this email exists"))
        }
        Err(CreateAccountError::UsernameTaken) => {
            Err(bad_input("username", "this username is taken"))
        }
        Err(CreateAccountError::Database(e)) => Err(nova_core::errors::internal(e)),
    }
}

/// Start a new session family for the account: a refresh token and an access token.
/// A suspended account gets none (`FORBIDDEN`, reason `ACCOUNT_SUSPENDED`).
pub(crate) async fn start_session(ctx: &Context<'_>, account_id: Uuid) -> Result<AuthPayload> {
    suspensions::refuse_if_suspended(ctx, account_id).await?;
    let db = ctx.data_unchecked::<nova_core::db::Db>();
    let tokens = ctx.data_unchecked::<Arc<TokenIssuer>>();
    let family_id = Uuid::now_v7();
    let refresh_token = new_refresh_token();
    store::create_session(
        db,
        family_id,
        account_id,
        &token_hash(&refresh_token),
        Utc::now() + tokens.refresh_ttl,
    )
    .await
    .or_internal()?;
    signed_in(ctx, tokens, account_id, family_id, refresh_token).await
}

async fn signed_in(
    ctx: &Context<'_>,
    tokens: &TokenIssuer,
    account_id: Uuid,
    family_id: Uuid,
    refresh_token: String,
) -> Result<AuthPayload> {
    let Some(account) = load_account(ctx, account_id).await? else {
        return Err(invalid_refresh_token());
    };
    let db = ctx.data_unchecked::<nova_core::db::Db>();
    let roles = store::roles::roles_of(db, account_id).await.or_internal()?;
    let access = tokens
        .issue_access(account_id, family_id, &roles)
        .or_internal()?;
    Ok(AuthPayload {
        access_token: access.token,
        access_token_expires_at: access.expires_at,
        refresh_token,
        user: account,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdl_marks_me_authenticated_and_user_as_entity() {
        let sdl = sdl();
        assert!(sdl.contains("me: User @authenticated"), "{sdl}");
        assert!(sdl.contains("type User @key(fields: \"id\")"), "{sdl}");
        assert!(sdl.contains("\"@authenticated\"]"), "{sdl}");
        assert!(!sdl.contains("directive @authenticated"), "{sdl}");
    }
}

//! The identity subgraph's GraphQL schema: types and resolvers.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, EmptySubscription, Object, Result, Schema, SchemaBuilder, ID};
use chrono::{DateTime, Utc};
use nova_core::errors::{bad_input, parse_id, OrInternal};
use nova_core::sdl::authenticated;
use nova_core::{Caller, ErrorCode};
use uuid::Uuid;

use crate::loaders::AccountLoader;
use crate::passwords::{Passwords, DUMMY_HASH};
use crate::store::{self, Account, CreateAccountError, Rotation};
use crate::tokens::{new_refresh_token, refresh_token_hash, TokenIssuer};

pub type IdentitySchema = Schema<Query, Mutation, EmptySubscription>;

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 128;
pub const USERNAME_MIN_CHARS: usize = 3;
pub const USERNAME_MAX_CHARS: usize = 30;
pub const EMAIL_MAX_CHARS: usize = 254;

/// The schema without its runtime data: enough to print the SDL.
pub fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    nova_core::caller::subgraph_schema(Query, Mutation, EmptySubscription)
}

/// The schema a running subgraph serves.
pub fn build(
    db: nova_core::db::Db,
    tokens: Arc<TokenIssuer>,
    passwords: Passwords,
) -> IdentitySchema {
    let accounts = nova_core::batching::loader(AccountLoader { db: db.clone() });
    builder()
        .data(db)
        .data(tokens)
        .data(accounts)
        .data(passwords)
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

pub struct Query;

#[Object]
impl Query {
    /// The signed-in user.
    #[graphql(directive = authenticated::apply())]
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let id = Caller::of(ctx).require_user()?;
        Ok(load_account(ctx, id).await?.map(User))
    }

    /// A user by id; null when there is none.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        Ok(load_account(ctx, parse_id(&id, "id")?).await?.map(User))
    }

    /// A user by username (case-insensitive); null when there is none.
    async fn user_by_username(&self, ctx: &Context<'_>, username: String) -> Result<Option<User>> {
        let db = ctx.data_unchecked::<nova_core::db::Db>();
        let Some(id) = store::account_id_by_username(db, username.trim())
            .await
            .or_internal()?
        else {
            return Ok(None);
        };
        Ok(load_account(ctx, id).await?.map(User))
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        match Uuid::parse_str(&id) {
            Ok(id) => Ok(load_account(ctx, id).await?.map(User)),
            Err(_) => Ok(None),
        }
    }
}

/// Check registration input; the first problem found is reported.
pub fn validate_registration(email: &str, username: &str, password: &str) -> Result<()> {
    let email_ok = email.len() <= EMAIL_MAX_CHARS
        && !email.chars().any(char::is_whitespace)
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if !email_ok {
        return Err(bad_input("email", "email is not a valid address"));
    }
    let username_len = username.chars().count();
    if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&username_len)
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(bad_input(
            "username",
            format!(
                "username must be {USERNAME_MIN_CHARS} to {USERNAME_MAX_CHARS} characters of letters, digits and _"
            ),
        ));
    }
    let password_len = password.chars().count();
    if password_len < PASSWORD_MIN_CHARS {
        return Err(bad_input(
            "password",
            format!("password must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if password_len > PASSWORD_MAX_CHARS {
        return Err(bad_input(
            "password",
            format!("password must be at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

fn invalid_refresh_token() -> async_graphql::Error {
    ErrorCode::Unauthenticated.error("refresh token is invalid, expired or revoked")
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Create an account. Sign in with `login` afterwards.
    async fn register(
        &self,
        ctx: &Context<'_>,
        email: String,
        username: String,
        password: String,
    ) -> Result<User> {
        let email = email.trim().to_string();
        let username = username.trim().to_string();
        validate_registration(&email, &username, &password)?;
        let db = ctx.data_unchecked::<nova_core::db::Db>();
        let passwords = ctx.data_unchecked::<Passwords>();
        let hash = passwords.hash(password).await.or_internal()?;
        match store::create_account(db, Uuid::now_v7(), &email, &username, &hash).await {
            Ok(account) => Ok(User(account)),
            Err(CreateAccountError::EmailTaken) => {
                Err(bad_input("email", "an account with this email exists"))
            }
            Err(CreateAccountError::UsernameTaken) => {
                Err(bad_input("username", "this username is taken"))
            }
            Err(CreateAccountError::Database(e)) => Err(nova_core::errors::internal(e)),
        }
    }

    /// Sign in with email and password.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<AuthPayload> {
        let db = ctx.data_unchecked::<nova_core::db::Db>();
        let tokens = ctx.data_unchecked::<Arc<TokenIssuer>>();
        let credentials = store::credentials_by_email(db, email.trim())
            .await
            .or_internal()?;
        // Verify against a dummy hash when the email is unknown, so the answer takes
        // as long either way and does not reveal which emails have accounts.
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
            return Err(ErrorCode::Unauthenticated.error("email or password is wrong"));
        };
        let family_id = Uuid::now_v7();
        let refresh_token = new_refresh_token();
        store::create_session(
            db,
            family_id,
            account_id,
            &refresh_token_hash(&refresh_token),
            Utc::now() + tokens.refresh_ttl,
        )
        .await
        .or_internal()?;
        signed_in(ctx, tokens, account_id, family_id, refresh_token).await
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
            &refresh_token_hash(&refresh_token),
            &refresh_token_hash(&next),
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
        if store::revoke_session_of(db, &refresh_token_hash(&refresh_token))
            .await
            .or_internal()?
        {
            Ok(true)
        } else {
            Err(invalid_refresh_token())
        }
    }
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
    let access = tokens.issue_access(account_id, family_id).or_internal()?;
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

    fn code(result: Result<()>) -> (String, String) {
        let error = result.unwrap_err();
        let ext = error.extensions.unwrap();
        let code = ext.get("code").unwrap().to_string();
        let field = ext.get("field").unwrap().to_string();
        (code, field)
    }

    #[test]
    fn registration_input_is_checked_field_by_field() {
        assert!(validate_registration("ann@example.com", "ann_1", "correct horse").is_ok());
        for (email, username, password, field) in [
            ("ann", "ann_1", "correct horse", "email"),
            ("ann@example", "ann_1", "correct horse", "email"),
            ("a nn@example.com", "ann_1", "correct horse", "email"),
            ("ann@example.com", "an", "correct horse", "username"),
            ("ann@example.com", "ann-1", "correct horse", "username"),
            ("ann@example.com", "ann_1", "short", "password"),
        ] {
            let (code, got_field) = code(validate_registration(email, username, password));
            assert_eq!(code, "\"BAD_USER_INPUT\"");
            assert_eq!(
                got_field,
                format!("\"{field}\""),
                "{email} {username} {password}"
            );
        }
    }

    #[test]
    fn sdl_marks_me_authenticated_and_user_as_entity() {
        let sdl = sdl();
        assert!(sdl.contains("me: User @authenticated"), "{sdl}");
        assert!(sdl.contains("type User @key(fields: \"id\")"), "{sdl}");
        assert!(sdl.contains("\"@authenticated\"]"), "{sdl}");
        assert!(!sdl.contains("directive @authenticated"), "{sdl}");
    }
}

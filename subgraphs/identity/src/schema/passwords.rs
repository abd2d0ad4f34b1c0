//! Password mutations: change (signed in), and reset by a token sent by e-mail.
//! Each stores the new hash and revokes sessions in one transaction
//! (`store::passwords`).

use async_graphql::{Context, Object, Result};
use chrono::{Duration, Utc};
use nova_core::config::{parsed_or, ConfigError};
use nova_core::errors::{bad_input, OrInternal};
use nova_core::sdl::authenticated;
use nova_core::{Caller, ErrorCode};

use crate::mail::Mailer;
use crate::passwords::Passwords;
use crate::store;
use crate::tokens::{new_reset_token, token_hash};
use crate::validation::validate_password;

/// How long a reset token works.
#[derive(Clone, Copy, Debug)]
pub struct ResetSettings {
    pub token_ttl: Duration,
}

impl ResetSettings {
    /// `PASSWORD_RESET_TTL_SECONDS` (default 30 minutes).
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            token_ttl: Duration::seconds(parsed_or("PASSWORD_RESET_TTL_SECONDS", 1800)?),
        })
    }
}

#[derive(Default)]
pub struct PasswordMutation;

#[Object]
impl PasswordMutation {
    /// Change the signed-in user's password. Every other session is signed out
    /// (its refresh token stops working); this one stays.
    #[graphql(directive = authenticated::apply())]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<bool> {
        let caller = Caller::of(ctx);
        let account_id = caller.require_user()?;
        validate_password("newPassword", &new_password)?;
        let db = ctx.data_unchecked::<nova_core::db::Db>();
        let passwords = ctx.data_unchecked::<Passwords>();
        let Some(stored_hash) = store::password_hash_of(db, account_id)
            .await
            .or_internal()?
        else {
            return Err(ErrorCode::Unauthenticated.error("this account no longer exists"));
        };
        if !passwords
            .verify(current_password, stored_hash)
            .await
            .or_internal()?
        {
            return Err(bad_input(
                "currentPassword",
                "the current password is wrong",
            ));
        }
        let new_hash = passwords.hash(new_password).await.or_internal()?;
        store::change_password(db, account_id, &new_hash, caller.session_id)
            .await
            .or_internal()?;
        Ok(true)
    }

    /// Send a one-time password reset token to the account with this e-mail
    /// address. The answer is `true` whether or not such an account exists, so it
    /// does not reveal who has one; only an existing account gets mail. Asking again
    /// voids the earlier token.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        let Some(mailer) = ctx.data_unchecked::<Option<Mailer>>() else {
            return Err(ErrorCode::Internal
                .error("password reset by e-mail is not configured on this server (SMTP_HOST)"));
        };
        let db = ctx.data_unchecked::<nova_core::db::Db>();
        let settings = ctx.data_unchecked::<ResetSettings>();
        let Some((account_id, address)) = store::reset_recipient(db, email.trim())
            .await
            .or_internal()?
        else {
            return Ok(true);
        };
        let token = new_reset_token();
        store::create_reset_token(
            db,
            account_id,
            &token_hash(&token),
            Utc::now() + settings.token_ttl,
        )
        .await
        .or_internal()?;
        mailer.send_password_reset(address, token);
        Ok(true)
    }

    /// Choose a new password with a token from `requestPasswordReset`. The token
    /// works once and only until it expires; every session of the account is signed
    /// out. Sign in with the new password afterwards.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> Result<bool> {
        validate_password("newPassword", &new_password)?;
        let db = ctx.data_unchecked::<nova_core::db::Db>();
        let passwords = ctx.data_unchecked::<Passwords>();
        // Hashed before the transaction: argon2 takes long, and a lock must not.
        let new_hash = passwords.hash(new_password).await.or_internal()?;
        match store::reset_password(db, &token_hash(token.trim()), &new_hash)
            .await
            .or_internal()?
        {
            Some(_) => Ok(true),
            None => Err(bad_input(
                "token",
                "the reset token is invalid, expired or already used; ask for a new one",
            )),
        }
    }
}

//! `deleteAccount`: the owner deletes their account with their password.
//! Identity deletes its rows and emits `identity.user_deleted`; every subgraph
//! erases the user's data on it (docs/deletion.md).

use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, Object, Result};
use chrono::Utc;
use nova_core::db::Db;
use nova_core::errors::{bad_input, OrInternal};
use nova_core::sdl::authenticated;
use nova_core::{Caller, ErrorCode};

use crate::passwords::Passwords;
use crate::store::{self, deletion, deletion::Deletion};
use crate::suspended_set::SuspendedSet;
use crate::tokens::TokenIssuer;

/// `UNAUTHENTICATED`, reason `ACCOUNT_DELETED`: the router's answer too.
fn account_deleted() -> async_graphql::Error {
    ErrorCode::Unauthenticated
        .error("this account was deleted")
        .extend_with(|_, ext| ext.set("reason", "ACCOUNT_DELETED"))
}

#[derive(Default)]
pub struct DeletionMutation;

#[Object]
impl DeletionMutation {
    /// Delete the signed-in user's account, for good: the password confirms it.
    /// Every session ends, the username and e-mail address are free again, and
    /// every subgraph erases the user's posts, comments, likes, follows, blocks,
    /// messages (a tombstone in others' conversations), notifications, media
    /// and search documents within seconds (docs/deletion.md).
    #[graphql(directive = authenticated::apply())]
    async fn delete_account(&self, ctx: &Context<'_>, password: String) -> Result<bool> {
        let account = Caller::of(ctx).require_user()?;
        let db = ctx.data_unchecked::<Db>();
        let Some(stored_hash) = store::password_hash_of(db, account).await.or_internal()? else {
            return Err(if deletion::was_deleted(db, account).await.or_internal()? {
                account_deleted()
            } else {
                ErrorCode::Unauthenticated.error("this account does not exist")
            });
        };
        let passwords = ctx.data_unchecked::<Passwords>();
        if !passwords
            .verify(password, stored_hash)
            .await
            .or_internal()?
        {
            return Err(bad_input("password", "the password is wrong"));
        }
        let set = ctx.data_unchecked::<SuspendedSet>();
        let until = Utc::now()
            + ctx
                .data_unchecked::<Arc<TokenIssuer>>()
                .access_token_lifetime();
        let refuse = || set.add_deleted(account, until);
        match deletion::delete_account(db, account, refuse).await {
            Ok(Deletion::Deleted) => Ok(true),
            Ok(Deletion::AlreadyDeleted) => Err(account_deleted()),
            Ok(Deletion::NoSuchAccount) => {
                Err(ErrorCode::Unauthenticated.error("this account does not exist"))
            }
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "account not deleted");
                Err(ErrorCode::Unavailable.error("the account could not be deleted; try again"))
            }
        }
    }
}

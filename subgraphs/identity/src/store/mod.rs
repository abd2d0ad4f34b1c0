//! SQL of `nova_identity`. Every function sends its statements through
//! `Db::statement` / `Db::count_statement` so they are counted.

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use nova_core::events::envelope::UserRegistered;
use nova_core::events::{self, Event};
use uuid::Uuid;

pub mod deletion;
mod passwords;
pub mod roles;
pub mod suspensions;
pub use passwords::*;

#[derive(Clone, Debug)]
pub struct Account {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateAccountError {
    #[error("email is taken")]
    EmailTaken,
    #[error("username is taken")]
    UsernameTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub async fn create_account(
    db: &Db,
    id: Uuid,
    email: &str,
    username: &str,
    password_hash: &str,
) -> Result<Account, CreateAccountError> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let inserted = sqlx::query_as!(
        Account,
        "INSERT INTO accounts (id, email, username, password_hash) VALUES ($1, $2, $3, $4) \
         RETURNING id, email, username, created_at",
        id,
        email,
        username,
        password_hash,
    )
    .fetch_one(&mut *tx)
    .await;
    match inserted {
        Ok(account) => {
            let event = Event::UserRegistered(UserRegistered {
                user_id: account.id,
            });
            events::enqueue(db, &mut tx, &event).await?;
            tx.commit().await?;
            Ok(account)
        }
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("accounts_email_key") => {
            Err(CreateAccountError::EmailTaken)
        }
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("accounts_username_key") => {
            Err(CreateAccountError::UsernameTaken)
        }
        Err(e) => Err(e.into()),
    }
}

/// One statement for any number of ids (the DataLoader's batch).
pub async fn accounts_by_ids(db: &Db, ids: &[Uuid]) -> Result<Vec<Account>, sqlx::Error> {
    sqlx::query_as!(
        Account,
        "SELECT id, email, username, created_at FROM accounts WHERE id = ANY($1)",
        ids
    )
    .fetch_all(db.statement())
    .await
}

pub async fn account_id_by_username(db: &Db, username: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM accounts WHERE lower(username) = lower($1)",
        username
    )
    .fetch_optional(db.statement())
    .await
}

/// The account id and password hash for a login attempt.
pub async fn credentials_by_email(
    db: &Db,
    email: &str,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT id, password_hash FROM accounts WHERE lower(email) = lower($1)",
        email
    )
    .fetch_optional(db.statement())
    .await?;
    Ok(row.map(|row| (row.id, row.password_hash)))
}

/// The account id and password hash for a login by username.
pub async fn credentials_by_username(
    db: &Db,
    username: &str,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT id, password_hash FROM accounts WHERE lower(username) = lower($1)",
        username
    )
    .fetch_optional(db.statement())
    .await?;
    Ok(row.map(|row| (row.id, row.password_hash)))
}

/// Start a session family with its first refresh token.
pub async fn create_session(
    db: &Db,
    family_id: Uuid,
    account_id: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    sqlx::query!(
        "INSERT INTO session_families (id, account_id) VALUES ($1, $2)",
        family_id,
        account_id
    )
    .execute(&mut *tx)
    .await?;
    db.count_statement();
    sqlx::query!(
        "INSERT INTO refresh_tokens (token_hash, family_id, expires_at) VALUES ($1, $2, $3)",
        token_hash,
        family_id,
        expires_at,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token was current; it is now rotated and the new one stored.
    Rotated {
        account_id: Uuid,
        family_id: Uuid,
    },
    /// No such token.
    Unknown,
    /// The token's session was revoked (logout or an earlier reuse).
    Revoked,
    Expired,
    /// The token had already been rotated: someone replayed it. The whole family
    /// is now revoked.
    ReuseDetected,
}

/// Rotate a refresh token in one transaction. The token row is locked, so two
/// concurrent refreshes with the same token cannot both succeed: the second sees
/// it rotated and revokes the family.
pub async fn rotate_refresh_token(
    db: &Db,
    presented_hash: &[u8],
    new_hash: &[u8],
    new_expires_at: DateTime<Utc>,
) -> Result<Rotation, sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let token = sqlx::query!(
        "SELECT t.family_id, t.expires_at, t.rotated_at, f.account_id, f.revoked_at \
         FROM refresh_tokens t JOIN session_families f ON f.id = t.family_id \
         WHERE t.token_hash = $1 FOR UPDATE OF t, f",
        presented_hash
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(token) = token else {
        return Ok(Rotation::Unknown);
    };
    let family_id = token.family_id;
    let account_id = token.account_id;

    if token.revoked_at.is_some() {
        return Ok(Rotation::Revoked);
    }
    if token.rotated_at.is_some() {
        db.count_statement();
        sqlx::query!(
            "UPDATE session_families SET revoked_at = now(), revoked_reason = 'refresh token reuse' \
             WHERE id = $1",
            family_id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Rotation::ReuseDetected);
    }
    if token.expires_at <= Utc::now() {
        return Ok(Rotation::Expired);
    }
    db.count_statement();
    sqlx::query!(
        "UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = $1",
        presented_hash
    )
    .execute(&mut *tx)
    .await?;
    db.count_statement();
    sqlx::query!(
        "INSERT INTO refresh_tokens (token_hash, family_id, expires_at) VALUES ($1, $2, $3)",
        new_hash,
        family_id,
        new_expires_at,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Rotation::Rotated {
        account_id,
        family_id,
    })
}

/// Revoke the session a refresh token belongs to. False when the token is unknown.
pub async fn revoke_session_of(db: &Db, token_hash: &[u8]) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE session_families SET revoked_at = coalesce(revoked_at, now()), \
         revoked_reason = coalesce(revoked_reason, 'logout') \
         WHERE id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
        token_hash
    )
    .execute(db.statement())
    .await?;
    Ok(result.rows_affected() == 1)
}

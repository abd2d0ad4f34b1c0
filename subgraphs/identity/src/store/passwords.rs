//! SQL of password changes and resets: each stores a new hash and revokes
//! sessions in the same transaction.

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use sqlx::PgConnection;
use uuid::Uuid;

/// The password hash of a signed-in account.
pub async fn password_hash_of(db: &Db, account_id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT password_hash FROM accounts WHERE id = $1",
        account_id
    )
    .fetch_optional(db.statement())
    .await
}

/// Store a new password hash and revoke every other session of the account
/// (`keep`: the session that changed it), in one transaction: a stolen refresh
/// token stops working with the old password.
pub async fn change_password(
    db: &Db,
    account_id: Uuid,
    new_hash: &str,
    keep: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    replace_password(db, &mut tx, account_id, new_hash, keep, "password changed").await?;
    tx.commit().await
}

/// On `tx`: store the account's new password hash and revoke every session of
/// it but `keep`, giving `reason`.
async fn replace_password(
    db: &Db,
    tx: &mut PgConnection,
    account_id: Uuid,
    new_hash: &str,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<(), sqlx::Error> {
    db.count_statement();
    sqlx::query!(
        "UPDATE accounts SET password_hash = $2 WHERE id = $1",
        account_id,
        new_hash
    )
    .execute(&mut *tx)
    .await?;
    db.count_statement();
    sqlx::query!(
        "UPDATE session_families SET revoked_at = now(), revoked_reason = $3 \
         WHERE account_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR id <> $2)",
        account_id,
        keep,
        reason
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Store a reset token (its hash) for the account, voiding its earlier unused ones.
pub async fn create_reset_token(
    db: &Db,
    account_id: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    sqlx::query!(
        "UPDATE password_reset_tokens SET used_at = now() \
         WHERE account_id = $1 AND used_at IS NULL",
        account_id
    )
    .execute(&mut *tx)
    .await?;
    db.count_statement();
    sqlx::query!(
        "INSERT INTO password_reset_tokens (token_hash, account_id, expires_at) VALUES ($1, $2, $3)",
        token_hash,
        account_id,
        expires_at
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Use a reset token: if it is current (not used, not expired), mark it used,
/// store the new password hash and revoke every session of the account, all in
/// one transaction. Returns the account, or `None` for an unusable token.
pub async fn reset_password(
    db: &Db,
    token_hash: &[u8],
    new_hash: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let account_id = sqlx::query_scalar!(
        "UPDATE password_reset_tokens SET used_at = now() \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() \
         RETURNING account_id",
        token_hash
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(account_id) = account_id else {
        return Ok(None);
    };
    replace_password(db, &mut tx, account_id, new_hash, None, "password reset").await?;
    tx.commit().await?;
    Ok(Some(account_id))
}

/// The account and its stored address for a reset asked for by `email`.
pub async fn reset_recipient(db: &Db, email: &str) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT id, email FROM accounts WHERE lower(email) = lower($1)",
        email
    )
    .fetch_optional(db.statement())
    .await?;
    Ok(row.map(|row| (row.id, row.email)))
}

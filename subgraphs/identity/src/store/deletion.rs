//! Account deletion: the account's rows go in one transaction that also
//! enqueues `identity.user_deleted` (every subgraph erases the user on it) and
//! refuses the account at the router before the commit. docs/deletion.md.

use chrono::{DateTime, Duration, Utc};
use nova_core::db::Db;
use nova_core::events::envelope::UserDeleted;
use nova_core::events::{self, Event};
use sqlx::PgPool;
use uuid::Uuid;

pub enum Deletion {
    Deleted,
    /// Deleted before (`deleteAccount` twice with a token still valid).
    AlreadyDeleted,
    NoSuchAccount,
}

/// Whether the account was deleted by its owner.
pub async fn was_deleted(db: &Db, account: Uuid) -> Result<bool, sqlx::Error> {
    let row = sqlx::query_scalar!(
        "SELECT 1 AS one FROM deleted_accounts WHERE id = $1",
        account
    )
    .fetch_optional(db.statement())
    .await?;
    Ok(row.is_some())
}

/// Delete the account: sessions, reset codes and roles go with it
/// (cascade); its earlier events leave the outbox (they carry the username);
/// its id is kept in `deleted_accounts`. `refuse` runs inside the transaction
/// before the commit, so the router refuses the account before the mutation
/// returns, or nothing is deleted.
pub async fn delete_account<F, Fut>(
    db: &Db,
    account: Uuid,
    refuse: F,
) -> Result<Deletion, anyhow::Error>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut tx = db.begin().await?;
    db.count_statement();
    let deleted = sqlx::query_scalar!("DELETE FROM accounts WHERE id = $1 RETURNING id", account)
        .fetch_optional(&mut *tx)
        .await?;
    if deleted.is_none() {
        drop(tx);
        return Ok(if was_deleted(db, account).await? {
            Deletion::AlreadyDeleted
        } else {
            Deletion::NoSuchAccount
        });
    }
    db.count_statement();
    sqlx::query!("INSERT INTO deleted_accounts (id) VALUES ($1)", account)
        .execute(&mut *tx)
        .await?;
    db.count_statement();
    sqlx::query!(
        "DELETE FROM outbox WHERE event_key = $1",
        account.to_string()
    )
    .execute(&mut *tx)
    .await?;
    let event = Event::UserDeleted(UserDeleted { user_id: account });
    events::enqueue(db, &mut tx, &event).await?;
    refuse().await?;
    tx.commit().await?;
    Ok(Deletion::Deleted)
}

/// Accounts deleted since `since`: their access tokens may still be valid, so
/// the router must go on refusing them.
pub async fn deleted_since(
    pool: &PgPool,
    since: DateTime<Utc>,
) -> Result<Vec<(Uuid, DateTime<Utc>)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, deleted_at FROM deleted_accounts WHERE deleted_at > $1",
        since
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.id, row.deleted_at))
        .collect())
}

/// Forget deleted accounts and the suspensions of deleted accounts older than
/// `retention` (the moderation retention). Returns the rows removed.
pub async fn prune(pool: &PgPool, retention: Duration) -> Result<u64, sqlx::Error> {
    let cutoff = Utc::now() - retention;
    let mut tx = pool.begin().await?;
    let suspensions = sqlx::query!(
        "DELETE FROM account_suspensions s USING deleted_accounts d \
         WHERE s.account_id = d.id AND d.deleted_at < $1",
        cutoff
    )
    .execute(&mut *tx)
    .await?;
    let accounts = sqlx::query!("DELETE FROM deleted_accounts WHERE deleted_at < $1", cutoff)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(suspensions.rows_affected() + accounts.rows_affected())
}

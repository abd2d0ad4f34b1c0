//! Suspensions: an append-only list of suspend and lift actions; the latest
//! one of an account says whether it is suspended now.

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use sqlx::PgPool;
use uuid::Uuid;

/// One suspend or lift, as recorded.
pub struct SuspensionAction {
    pub id: i64,
    pub account_id: Uuid,
    pub action: String,
    pub until: Option<DateTime<Utc>>,
    pub reason: String,
    pub moderator_id: Uuid,
    pub at: DateTime<Utc>,
}

/// When the suspension an account's latest action started ends, if that is
/// still ahead: the one rule for "suspended now".
fn in_force_until(action: &str, until: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    until.filter(|until| action == "suspend" && *until > Utc::now())
}

/// The suspension in force for the account: `(until, reason)`.
pub async fn suspended(
    db: &Db,
    account: Uuid,
) -> Result<Option<(DateTime<Utc>, String)>, sqlx::Error> {
    let latest = sqlx::query!(
        "SELECT action, until, reason FROM account_suspensions \
         WHERE account_id = $1 ORDER BY id DESC LIMIT 1",
        account,
    )
    .fetch_optional(db.statement())
    .await?;
    Ok(latest
        .and_then(|row| in_force_until(&row.action, row.until).map(|until| (until, row.reason))))
}

/// Record a suspend (`until` given) or a lift (`None`) and, for a suspend,
/// revoke every session of the account, in one transaction that `publish`
/// runs inside before the commit (so the router refuses the account before
/// the mutation returns, or nothing is recorded). `None` when there is no
/// such account.
pub async fn record<F, Fut>(
    db: &Db,
    account: Uuid,
    until: Option<DateTime<Utc>>,
    reason: &str,
    moderator: Uuid,
    publish: F,
) -> Result<Option<SuspensionAction>, anyhow::Error>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut tx = db.begin().await?;
    db.count_statement();
    let action = sqlx::query_as!(
        SuspensionAction,
        "INSERT INTO account_suspensions (account_id, action, until, reason, moderator_id) \
         SELECT id, CASE WHEN $2::timestamptz IS NULL THEN 'lift' ELSE 'suspend' END, $2, $3, $4 \
         FROM accounts WHERE id = $1 \
         RETURNING id, account_id, action, until, reason, moderator_id, at",
        account,
        until,
        reason,
        moderator,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(action) = action else {
        return Ok(None);
    };
    if until.is_some() {
        db.count_statement();
        sqlx::query!(
            "UPDATE session_families SET revoked_at = now(), revoked_reason = 'suspended' \
             WHERE account_id = $1 AND revoked_at IS NULL",
            account,
        )
        .execute(&mut *tx)
        .await?;
    }
    publish().await?;
    tx.commit().await?;
    Ok(Some(action))
}

/// The suspend and lift actions, newest first: the `limit` before `before`.
pub async fn log(
    db: &Db,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<SuspensionAction>, sqlx::Error> {
    sqlx::query_as!(
        SuspensionAction,
        "SELECT id, account_id, action, until, reason, moderator_id, at FROM account_suspensions \
         WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        before,
        limit,
    )
    .fetch_all(db.statement())
    .await
}

/// Accounts suspended now, with the end of each suspension: what identity
/// writes to Redis again at start (a Redis that restarted empty). A deleted
/// account is not among them: its key says `deleted` while its tokens live.
pub async fn in_force(pool: &PgPool) -> Result<Vec<(Uuid, DateTime<Utc>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT DISTINCT ON (account_id) account_id, action, until AS "until?"
           FROM account_suspensions s
           WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.id = s.account_id)
           ORDER BY account_id, id DESC"#,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            in_force_until(&row.action, row.until).map(|until| (row.account_id, until))
        })
        .collect())
}

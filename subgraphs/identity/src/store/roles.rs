//! Roles: granted and revoked only by the operator command (`nova admin`), read
//! when an access token is issued (each role is one of its scopes).

use nova_core::db::Db;
use sqlx::PgPool;
use uuid::Uuid;

/// The roles there are; the table's check constraint lists the same.
pub const ROLES: &[&str] = &["moderator"];

/// The account's roles, sorted: the scopes of its next access token.
pub async fn roles_of(db: &Db, account: Uuid) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT role FROM account_roles WHERE account_id = $1 ORDER BY role",
        account,
    )
    .fetch_all(db.statement())
    .await
}

/// Grant `role` to the account named `username`: its id, or `None` when no
/// account has that name. Granting twice changes nothing.
pub async fn grant_role(
    pool: &PgPool,
    username: &str,
    role: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "WITH account AS (SELECT id FROM accounts WHERE lower(username) = lower($1)) \
         INSERT INTO account_roles (account_id, role) SELECT id, $2 FROM account \
         ON CONFLICT (account_id, role) DO UPDATE SET role = EXCLUDED.role \
         RETURNING account_id",
        username,
        role,
    )
    .fetch_optional(pool)
    .await
}

/// Take `role` from the account named `username`: whether it had it.
pub async fn revoke_role(pool: &PgPool, username: &str, role: &str) -> Result<bool, sqlx::Error> {
    let removed = sqlx::query!(
        "DELETE FROM account_roles r USING accounts a \
         WHERE r.account_id = a.id AND lower(a.username) = lower($1) AND r.role = $2",
        username,
        role,
    )
    .execute(pool)
    .await?;
    Ok(removed.rows_affected() > 0)
}

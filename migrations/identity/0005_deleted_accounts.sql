-- Accounts deleted by their owners (`deleteAccount`): only the opaque id and
-- when. The router refuses the id's still-valid access tokens until they have
-- expired (identity writes `nova:suspended:<id>` = 'deleted'), a second
-- deletion is told the account is gone, and the rows are pruned after the
-- moderation retention (docs/deletion.md).
CREATE TABLE deleted_accounts (
    id         uuid PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deleted_accounts_age ON deleted_accounts (deleted_at);

-- The suspension log outlives a deleted account (opaque ids and the
-- moderator's reason, kept for the moderation retention), so it no longer
-- cascades from `accounts`.
ALTER TABLE account_suspensions DROP CONSTRAINT account_suspensions_account_id_fkey;

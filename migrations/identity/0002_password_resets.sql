-- Password reset tokens, sent by e-mail: stored only as SHA-256 hashes, single
-- use (used_at), short-lived (expires_at). Asking again voids the earlier ones.
CREATE TABLE password_reset_tokens (
    token_hash bytea PRIMARY KEY,
    account_id uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX password_reset_tokens_account ON password_reset_tokens (account_id);

-- Suspensions by moderators, append-only: each suspend or lift is one row (the
-- audit trail of identity's moderator actions). An account is suspended while
-- its latest row is a `suspend` whose `until` is still ahead.
CREATE TABLE account_suspensions (
    id           bigserial   PRIMARY KEY,
    account_id   uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    action       text        NOT NULL CHECK (action IN ('suspend', 'lift')),
    until        timestamptz,
    reason       text        NOT NULL,
    moderator_id uuid        NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_suspensions_account ON account_suspensions (account_id, id DESC);

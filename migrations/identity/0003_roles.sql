-- Roles an operator granted (`nova admin grant-role`); never granted through
-- the API. Each role is a scope in the account's access tokens from its next
-- sign-in or refresh.
CREATE TABLE account_roles (
    account_id uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       text        NOT NULL CHECK (role IN ('moderator')),
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, role)
);

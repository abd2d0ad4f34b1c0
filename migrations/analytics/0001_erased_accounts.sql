-- Accounts deleted (identity.user_deleted). Their events are erased from
-- ClickHouse, and an event naming one that arrives later (a redelivery, another
-- topic's lag) is not ingested, so an erased account never comes back.
CREATE TABLE erased_accounts (
    user_id   uuid PRIMARY KEY,
    erased_at timestamptz NOT NULL DEFAULT now()
);

-- Which read-model backfills have completed (nova_core::internal::backfilled).
-- Feed and search created this table in their first migrations; every database
-- that runs the event backbone's migrations has it now, so nova-core's statements
-- can be checked against the backbone's tables alone.
CREATE TABLE IF NOT EXISTS backfills (
    source       text PRIMARY KEY,
    completed_at timestamptz NOT NULL DEFAULT now()
);

-- A relay claims the rows it publishes for the delivery timeout and a margin,
-- instead of holding their row locks while it waits for the broker
-- (crates/nova-core/src/events/outbox.rs). A claim that runs out (its relay died)
-- makes the row due again.
ALTER TABLE outbox ADD COLUMN claimed_until TIMESTAMPTZ;

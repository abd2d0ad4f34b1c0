-- Consumers forget processed events older than twice the broker's retention
-- (nova_core::events::pruning); this index finds them without a full scan.
CREATE INDEX processed_events_by_age ON processed_events (consumer, processed_at);

-- Messages a consumer cannot apply now go to the `nova.dead-letter` topic, where
-- every consumer's can be listed and replayed (crates/nova-core/src/events/dead_letter.rs).
DROP TABLE parked_messages;

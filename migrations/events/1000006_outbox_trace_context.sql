-- The W3C traceparent of the span that wrote the event (nova_core::telemetry):
-- the relay sends it as the Kafka header `traceparent`, and the consumer's span
-- links to it. Empty when traces were off.
ALTER TABLE outbox ADD COLUMN traceparent text;

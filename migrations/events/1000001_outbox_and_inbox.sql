-- The event backbone's tables, in every subgraph database (see nova_core::events).
-- Version 1000001 keeps these apart from each subgraph's own 0001, 0002, ...

-- Events written in the same transaction as the change they describe; the relay
-- publishes them to Kafka in `seq` order per key and marks them sent.
CREATE TABLE outbox (
    seq             BIGSERIAL PRIMARY KEY,
    event_id        UUID NOT NULL UNIQUE,
    topic           TEXT NOT NULL,
    event_key       TEXT NOT NULL,
    envelope        JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    sent_at         TIMESTAMPTZ,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE sent_at IS NULL;
CREATE INDEX outbox_pending_by_key ON outbox (event_key, seq) WHERE sent_at IS NULL;

-- Wake the relay as soon as a transaction with events commits (NOTIFY is delivered
-- at commit), instead of waiting for its next poll.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('nova_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Events a consumer has applied: written in the same transaction as the effect, so
-- a redelivered event is recognised and changes nothing.
CREATE TABLE processed_events (
    consumer     TEXT NOT NULL,
    event_id     UUID NOT NULL,
    event_type   TEXT NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Messages a consumer could not read (not an event envelope, or a payload that does
-- not match its type): kept for an operator, skipped by the consumer.
CREATE TABLE parked_messages (
    id          BIGSERIAL PRIMARY KEY,
    consumer    TEXT NOT NULL,
    topic       TEXT NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset    BIGINT NOT NULL,
    payload     BYTEA,
    error       TEXT NOT NULL,
    parked_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (consumer, topic, kafka_partition, kafka_offset)
);

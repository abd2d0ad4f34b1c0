-- Documents whose entry in an instance's index is out of date. Each search
-- instance keeps its own index (and its own consumer), so the queue is per
-- instance. The consumer adds a row in the event's own transaction; the index
-- writer (`indexing.rs`) writes a batch of queued documents into the index as
-- the tables hold them, commits the index once for the batch, and only then
-- deletes the rows it wrote — those whose `version` it read, so a document
-- queued again meanwhile stays queued. A crash between the index commit and the
-- delete redoes the batch (idempotent by document id); nothing is lost.
CREATE TABLE index_queue (
    instance    text NOT NULL,
    document_id uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('user', 'post')),
    version     bigint NOT NULL DEFAULT 1,
    queued_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (instance, document_id)
);
CREATE INDEX index_queue_oldest ON index_queue (instance, queued_at);

-- The rebuild's catch-up no longer reads changes by time.
DROP INDEX posts_updated;
DROP INDEX users_updated;

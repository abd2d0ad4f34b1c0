-- A deleted account's followers and posts, written in the event's transaction
-- as its rows go, so that the Redis effect (its posts out of those timelines,
-- its own timeline dropped) can be redone after a crash; the row goes when
-- the effect is done (subgraphs/feed/src/events.rs, docs/deletion.md).
CREATE TABLE erasures (
    user_id   uuid PRIMARY KEY,
    followers uuid[] NOT NULL,
    posts     uuid[] NOT NULL
);

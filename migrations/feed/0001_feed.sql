-- The feed's own copy of what it needs from other domains, kept from their
-- events (and first filled by the backfill): it never reads another subgraph's
-- database. Redis holds the timelines; these tables are the truth they are
-- rebuilt from.

-- Posts by id (UUIDv7: id order is time order). A deleted post stays as a
-- tombstone, so a redelivered content.post_created never brings it back.
CREATE TABLE posts (
    post_id    uuid PRIMARY KEY,
    author_id  uuid NOT NULL,
    created_at timestamptz NOT NULL,
    deleted    boolean NOT NULL DEFAULT false
);
CREATE INDEX posts_author ON posts (author_id, post_id DESC) WHERE NOT deleted;

CREATE TABLE follows (
    follower_id uuid NOT NULL,
    followee_id uuid NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX follows_followee ON follows (followee_id, follower_id);

-- Follower counts, kept with follows: accounts at or above the fan-out limit
-- are merged into pages at read time instead of being fanned out.
CREATE TABLE authors (
    user_id        uuid PRIMARY KEY,
    follower_count integer NOT NULL CHECK (follower_count >= 0)
);

CREATE TABLE blocks (
    blocker_id uuid NOT NULL,
    blocked_id uuid NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks (blocked_id, blocker_id);

CREATE TABLE mutes (
    muter_id uuid NOT NULL,
    muted_id uuid NOT NULL,
    PRIMARY KEY (muter_id, muted_id)
);

-- When each user last opened the feed: fan-out skips users inactive for longer
-- than FEED_INACTIVE_DAYS, and their next read rebuilds their timeline.
CREATE TABLE readers (
    user_id      uuid PRIMARY KEY,
    last_read_at timestamptz NOT NULL
);
CREATE INDEX readers_last_read ON readers (last_read_at);

-- Which owners' exports have been copied (one row per source).
CREATE TABLE backfills (
    source       text PRIMARY KEY,
    completed_at timestamptz NOT NULL DEFAULT now()
);

-- search's own copy of the documents it indexes, kept from events (and first
-- filled by the backfill from the owners' exports). The tantivy index on disk
-- is derived from these tables: a missing or corrupt index is rebuilt from
-- them, and `reindex` builds a fresh one from them while queries go on.

CREATE TABLE users (
    user_id      uuid PRIMARY KEY,
    username     text NOT NULL,
    display_name text,
    bio          text NOT NULL DEFAULT '',
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- A deleted post stays as a tombstone, so a late post_created or post_edited
-- never brings it back.
CREATE TABLE posts (
    post_id    uuid PRIMARY KEY,
    author_id  uuid NOT NULL,
    body       text NOT NULL,
    hashtags   text[] NOT NULL,
    created_at timestamptz NOT NULL,
    deleted    boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX posts_updated ON posts (updated_at);
CREATE INDEX users_updated ON users (updated_at);

-- Hashtag uses of live posts: `hashtag(name)` pages and trending counts.
CREATE TABLE post_tags (
    tag        text NOT NULL,
    post_id    uuid NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tag, post_id)
);
CREATE INDEX post_tags_recent ON post_tags (created_at);
CREATE INDEX post_tags_post ON post_tags (post_id);

CREATE TABLE blocks (
    blocker_id uuid NOT NULL,
    blocked_id uuid NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks (blocked_id, blocker_id);

CREATE TABLE backfills (
    source       text PRIMARY KEY,
    completed_at timestamptz NOT NULL DEFAULT now()
);

-- Posts and comments. Ids are UUIDv7 (time-ordered): lists page by id.
CREATE TABLE posts (
    id         uuid PRIMARY KEY,
    author_id  uuid        NOT NULL,
    body       text        NOT NULL,
    hashtags   text[]      NOT NULL DEFAULT '{}',
    mentions   text[]      NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    edited_at  timestamptz
);
CREATE INDEX posts_author ON posts (author_id, id DESC);

-- One row per (tag, post), so a hashtag page is an index range scan.
CREATE TABLE post_hashtags (
    tag     text NOT NULL,
    post_id uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, post_id)
);

-- Deleting a post deletes its comments.
CREATE TABLE comments (
    id         uuid PRIMARY KEY,
    post_id    uuid        NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    author_id  uuid        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_post ON comments (post_id, id);

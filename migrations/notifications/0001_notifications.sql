-- Notifications, built from other domains' events, and what notifications
-- needs to know to build them (post authors, usernames for mentions).

-- Orders a recipient's notifications: a grouped notification that gains an
-- actor takes the next value and moves to the top.
CREATE SEQUENCE notification_position;

CREATE TABLE notifications (
    id              uuid PRIMARY KEY,
    recipient_id    uuid NOT NULL,
    kind            text NOT NULL
                    CHECK (kind IN ('followed', 'post_liked', 'commented', 'mentioned', 'message')),
    -- Unread notifications with the same recipient, kind and group key are one:
    -- '' for follows, the post for likes/comments/mentions, the conversation for messages.
    group_key       text NOT NULL,
    post_id         uuid,
    conversation_id uuid,
    -- Distinct actors, most recent first.
    actor_ids       uuid[] NOT NULL,
    -- Events folded into this notification (a conversation's messages, ...).
    event_count     integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    position        bigint NOT NULL DEFAULT nextval('notification_position'),
    read_at         timestamptz
);

CREATE UNIQUE INDEX notifications_open_group
    ON notifications (recipient_id, kind, group_key) WHERE read_at IS NULL;
CREATE INDEX notifications_recipient_position ON notifications (recipient_id, position);
CREATE INDEX notifications_recipient_unread ON notifications (recipient_id) WHERE read_at IS NULL;

-- From content.post_created / post_deleted: whom a like notifies.
CREATE TABLE post_authors (
    post_id   uuid PRIMARY KEY,
    author_id uuid NOT NULL
);

-- Likes that arrived (on nova.social) before their post's creation (on
-- nova.content): topics are not ordered with each other. Applied when the post
-- arrives.
CREATE TABLE pending_likes (
    post_id  uuid NOT NULL,
    user_id  uuid NOT NULL,
    PRIMARY KEY (post_id, user_id)
);

-- From identity.user_registered: whom a mention notifies.
CREATE TABLE usernames (
    username text PRIMARY KEY,
    user_id  uuid NOT NULL
);

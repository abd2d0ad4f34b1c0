-- Conversations, members, messages (encrypted) and the blocks chat learns from
-- social's events.

-- Orders conversations by last activity: each new message takes the next value.
CREATE SEQUENCE conversation_activity;

CREATE TABLE conversations (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('direct', 'group')),
    -- Groups only.
    title            text,
    -- Direct conversations only: "<smaller id>:<larger id>", one per pair.
    direct_pair      text UNIQUE,
    created_by       uuid NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    -- The sequence number of the newest message; the next one gets last_seq + 1.
    -- Updated in the message's transaction, which also serializes sends.
    last_seq         bigint NOT NULL DEFAULT 0,
    activity         bigint NOT NULL DEFAULT nextval('conversation_activity')
);

CREATE INDEX conversations_activity ON conversations (activity);

CREATE TABLE conversation_members (
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL,
    joined_at       timestamptz NOT NULL DEFAULT now(),
    -- Set when the member leaves; a member who left reads and receives nothing.
    left_at         timestamptz,
    -- The newest message this member has read.
    last_read_seq   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);

CREATE INDEX conversation_members_user ON conversation_members (user_id) WHERE left_at IS NULL;

CREATE TABLE messages (
    id                uuid PRIMARY KEY,
    conversation_id   uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq               bigint NOT NULL,
    sender_id         uuid NOT NULL,
    -- AES-256-GCM of the body under MESSAGE_ENCRYPTION_MASTER_KEY (key_version),
    -- with this row's conversation and message ids as associated data.
    body_ciphertext   bytea NOT NULL,
    body_nonce        bytea NOT NULL,
    key_version       smallint NOT NULL,
    client_message_id text NOT NULL,
    sent_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id, seq),
    -- A retried send is the same message.
    UNIQUE (conversation_id, sender_id, client_message_id)
);

-- Who blocked whom, from social.blocked / social.unblocked.
CREATE TABLE blocks (
    blocker_id uuid NOT NULL,
    blocked_id uuid NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);

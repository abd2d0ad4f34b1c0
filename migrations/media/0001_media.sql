-- media: what users upload (images, videos) and the variants made from it. The
-- bytes live in the S3 bucket; these rows say what each object is and who owns it.

CREATE TABLE media (
    media_id      uuid PRIMARY KEY,
    owner_id      uuid NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('image', 'video')),
    -- What the client declared at the intent: the presigned PUT is signed for it.
    declared_type text NOT NULL,
    byte_size     bigint NOT NULL CHECK (byte_size > 0),
    status        text NOT NULL CHECK (status IN ('awaiting_upload', 'processing', 'ready', 'failed', 'deleted')),
    -- Why processing refused it, in words the client can show.
    failure       text,
    -- What the bytes are (sniffed at completeUpload), never the client's claim.
    content_type  text,
    width         integer,
    height        integer,
    duration_ms   bigint,
    object_key    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- When the presigned upload URL stops working.
    upload_expires_at timestamptz NOT NULL,
    completed_at  timestamptz,
    processed_at  timestamptz
);
-- The cleanup of intents never completed.
CREATE INDEX media_awaiting ON media (created_at) WHERE status = 'awaiting_upload';
CREATE INDEX media_owner ON media (owner_id);

-- The sizes made from an upload (a video's poster frame is a variant too).
CREATE TABLE media_variants (
    media_id     uuid NOT NULL REFERENCES media ON DELETE CASCADE,
    name         text NOT NULL,
    width        integer NOT NULL,
    height       integer NOT NULL,
    content_type text NOT NULL,
    object_key   text NOT NULL,
    byte_size    bigint NOT NULL,
    PRIMARY KEY (media_id, name)
);

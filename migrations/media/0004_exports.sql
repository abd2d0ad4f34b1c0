-- `exportMyData` archives: a JSON object in the bucket, readable through a
-- presigned URL until `expires_at`; the sweep then deletes object and row, and
-- an account's deletion expires its archives at once (docs/deletion.md).
CREATE TABLE exports (
    export_id  uuid PRIMARY KEY,
    owner_id   uuid        NOT NULL,
    object_key text        NOT NULL,
    byte_size  bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX exports_owner ON exports (owner_id, created_at DESC);
CREATE INDEX exports_expiry ON exports (expires_at);

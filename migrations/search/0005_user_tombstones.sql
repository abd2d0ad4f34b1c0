-- A deleted account stays as an empty tombstone (no username, name or bio),
-- so a profile change still on its way cannot bring its profile back
-- (docs/deletion.md).
ALTER TABLE users ADD COLUMN deleted boolean NOT NULL DEFAULT false;

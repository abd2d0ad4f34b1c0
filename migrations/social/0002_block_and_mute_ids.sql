-- Blocks and mutes get ids, UUIDv7 from the service (newest largest), so the
-- viewer's own lists page by keyset like follows. Rows from before get random
-- ids: they still page, in no particular order among themselves.
ALTER TABLE blocks ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX blocks_page ON blocks (blocker_id, id);
ALTER TABLE mutes ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX mutes_page ON mutes (muter_id, id);

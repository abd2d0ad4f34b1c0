-- What shows a media (`post:<id>` or `avatar:<user id>`), set at the write of
-- that post or profile (nova_core::attachments). A media shows in one place
-- only: deleting the place deletes the media.
ALTER TABLE media ADD COLUMN used_by text;
CREATE INDEX media_used_by ON media (used_by) WHERE used_by IS NOT NULL;

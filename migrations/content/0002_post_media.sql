-- The media a post carries, in order (owned by media; attached at createPost).
ALTER TABLE posts ADD COLUMN media_ids uuid[] NOT NULL DEFAULT '{}';

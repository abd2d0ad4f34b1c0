-- Likes get ids, UUIDv7 from the service (newest largest), so a post's likers
-- page by keyset (Post.likedBy), newest first. Rows from before get random ids:
-- they still page, in no particular order among themselves.
ALTER TABLE likes ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX likes_page ON likes (post_id, id);

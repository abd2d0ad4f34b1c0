-- The liked post's author, as content answered at the like (social asks before
-- each like for the block rule), so a block removes the likes between the two in
-- its own transaction. Likes from before have none: a block leaves those.
ALTER TABLE likes ADD COLUMN post_author_id uuid;
CREATE INDEX likes_between ON likes (user_id, post_author_id) WHERE post_author_id IS NOT NULL;

-- A hashtag no live post uses any more is forgotten, not kept at zero: its
-- text came from posts, and a deleted account's words must not stay behind
-- (docs/deletion.md).
CREATE OR REPLACE FUNCTION count_hashtag_use() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO hashtags (tag, post_count) VALUES (NEW.tag, 1)
        ON CONFLICT (tag) DO UPDATE SET post_count = hashtags.post_count + 1;
        RETURN NEW;
    END IF;
    UPDATE hashtags SET post_count = post_count - 1 WHERE tag = OLD.tag;
    DELETE FROM hashtags WHERE tag = OLD.tag AND post_count = 0;
    RETURN OLD;
END
$$;
DELETE FROM hashtags WHERE post_count = 0;

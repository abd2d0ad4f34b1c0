-- Live posts per hashtag, kept by a trigger on post_tags in the same
-- transaction as the tag's use, so the hashtags a search suggests come from
-- this small table instead of counting every use of every tag per query.
CREATE TABLE hashtags (
    tag        text PRIMARY KEY,
    post_count bigint NOT NULL CHECK (post_count >= 0)
);
INSERT INTO hashtags (tag, post_count) SELECT tag, count(*) FROM post_tags GROUP BY tag;
CREATE INDEX hashtags_most_used ON hashtags (post_count DESC, tag) WHERE post_count > 0;

CREATE FUNCTION count_hashtag_use() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO hashtags (tag, post_count) VALUES (NEW.tag, 1)
        ON CONFLICT (tag) DO UPDATE SET post_count = hashtags.post_count + 1;
        RETURN NEW;
    END IF;
    UPDATE hashtags SET post_count = post_count - 1 WHERE tag = OLD.tag;
    RETURN OLD;
END
$$;

CREATE TRIGGER post_tags_counted AFTER INSERT OR DELETE ON post_tags
    FOR EACH ROW EXECUTE FUNCTION count_hashtag_use();

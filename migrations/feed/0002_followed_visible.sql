-- What a viewer's feed may show, written once: besides the viewer's own posts,
-- the posts of accounts the viewer follows when neither blocked the other and
-- the viewer did not mute them (nova_feed::store applies it in every statement
-- that fans out, rebuilds or pages). A plain view: the planner expands it into
-- each statement, as if the condition were written there.
CREATE VIEW followed_visible (viewer_id, author_id) AS
SELECT f.follower_id, f.followee_id
FROM follows f
WHERE NOT EXISTS (SELECT 1 FROM blocks b
                  WHERE (b.blocker_id = f.follower_id AND b.blocked_id = f.followee_id)
                     OR (b.blocker_id = f.followee_id AND b.blocked_id = f.follower_id))
  AND NOT EXISTS (SELECT 1 FROM mutes m
                  WHERE m.muter_id = f.follower_id AND m.muted_id = f.followee_id);

-- A taken-down post's notifications are deleted by post (content.post_taken_down).
CREATE INDEX notifications_post ON notifications (post_id) WHERE post_id IS NOT NULL;

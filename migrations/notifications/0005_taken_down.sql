-- A moderator took the recipient's post down: a notification without actor
-- (the moderator is not named; content's myModerationNotices has the reason).
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('followed', 'post_liked', 'commented', 'mentioned', 'message', 'taken_down'));

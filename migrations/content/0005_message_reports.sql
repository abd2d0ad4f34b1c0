-- Messages can be reported too: the report keeps the message id; chat keeps
-- the sealed body aside for moderators (chat's reported_messages).
ALTER TABLE reports DROP CONSTRAINT reports_subject_kind_check;
ALTER TABLE reports ADD CONSTRAINT reports_subject_kind_check
    CHECK (subject_kind IN ('post', 'comment', 'user', 'message'));

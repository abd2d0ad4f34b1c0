-- Users can be reported too (a moderator then suspends them in identity, or
-- dismisses the reports).
ALTER TABLE reports DROP CONSTRAINT reports_subject_kind_check;
ALTER TABLE reports ADD CONSTRAINT reports_subject_kind_check
    CHECK (subject_kind IN ('post', 'comment', 'user'));

-- Reports and moderation of posts and comments. A takedown keeps the row (a
-- restore brings it back as it was) but content stops serving it at once:
-- every read filters `taken_down_at IS NULL`.
ALTER TABLE posts ADD COLUMN taken_down_at timestamptz;
ALTER TABLE comments ADD COLUMN taken_down_at timestamptz;

-- One report by one user about one subject. A moderator's decision resolves
-- every open report of the subject.
CREATE TABLE reports (
    id           bigserial   PRIMARY KEY,
    reporter_id  uuid        NOT NULL,
    subject_kind text        NOT NULL CHECK (subject_kind IN ('post', 'comment')),
    subject_id   uuid        NOT NULL,
    reason       text        NOT NULL,
    details      text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz
);
CREATE INDEX reports_open ON reports (created_at) WHERE resolved_at IS NULL;
CREATE INDEX reports_subject ON reports (subject_kind, subject_id);
CREATE INDEX reports_reporter ON reports (reporter_id, created_at);

-- Every moderator action, append-only (no statement updates or deletes it).
CREATE TABLE moderation_log (
    id           bigserial   PRIMARY KEY,
    moderator_id uuid        NOT NULL,
    action       text        NOT NULL CHECK (action IN ('take_down', 'restore', 'dismiss')),
    subject_kind text        NOT NULL,
    subject_id   uuid        NOT NULL,
    author_id    uuid        NOT NULL,
    reason       text        NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);

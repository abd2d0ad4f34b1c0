-- Mentions arrive as account ids in `content.post_created` (events carry no
-- usernames: docs/deletion.md), so notifications no longer keeps every
-- account's username.
DROP TABLE usernames;

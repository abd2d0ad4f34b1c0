-- A media whose place a moderator took down (`content.post_taken_down`): kept
-- with its objects (a restore shows it again), but not served to anyone.
ALTER TABLE media ADD COLUMN hidden_at timestamptz;

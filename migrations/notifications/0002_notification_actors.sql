-- Every distinct actor of a notification, so `actorCount` stays exact while the
-- row keeps only the most recent actors (`actor_ids`, at most 50: a post liked by
-- thousands must not carry thousands of ids in one row).
CREATE TABLE notification_actors (
    notification_id uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    actor_id        uuid NOT NULL,
    PRIMARY KEY (notification_id, actor_id)
);
INSERT INTO notification_actors (notification_id, actor_id)
    SELECT id, unnest(actor_ids) FROM notifications
    ON CONFLICT DO NOTHING;

ALTER TABLE notifications ADD COLUMN actor_count integer NOT NULL DEFAULT 1;
UPDATE notifications SET actor_count = cardinality(actor_ids);

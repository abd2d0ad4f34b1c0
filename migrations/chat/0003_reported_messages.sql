-- A message a member reported, copied as it was when reported: still sealed
-- under the master key (same nonce, key version and associated data, so it
-- opens like the original), kept for the moderation record even if the
-- message later goes. Moderators read it through content's queue, which asks
-- chat's /internal/messages/evidence; bodies are never stored in clear.
CREATE TABLE reported_messages (
    message_id      uuid PRIMARY KEY,
    conversation_id uuid        NOT NULL,
    sender_id       uuid        NOT NULL,
    body_ciphertext bytea       NOT NULL,
    body_nonce      bytea       NOT NULL,
    key_version     smallint    NOT NULL,
    sent_at         timestamptz NOT NULL,
    reported_at     timestamptz NOT NULL DEFAULT now()
);

//! Reported messages: a member's report copies the sealed body aside
//! (`reported_messages`), and moderators' evidence is read from that copy.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::crypto::SealedBody;

/// A reported message as copied.
pub struct ReportedMessage {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    pub sender_id: Uuid,
    pub body: SealedBody,
    pub sent_at: DateTime<Utc>,
}

/// Copy `message` aside for a report by `reporter`: its sender, or `None`
/// when there is no such message in a conversation the reporter belonged to
/// when it was sent. Reporting again keeps the first copy.
pub async fn copy_for_report(
    pool: &PgPool,
    reporter: Uuid,
    message: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO reported_messages \
           (message_id, conversation_id, sender_id, body_ciphertext, body_nonce, key_version, sent_at) \
         SELECT m.id, m.conversation_id, m.sender_id, m.body_ciphertext, m.body_nonce, \
                m.key_version, m.sent_at \
         FROM messages m JOIN conversation_members c \
           ON c.conversation_id = m.conversation_id AND c.user_id = $1 AND c.joined_at <= m.sent_at \
         WHERE m.id = $2 \
         ON CONFLICT (message_id) DO UPDATE SET message_id = EXCLUDED.message_id \
         RETURNING sender_id",
        reporter,
        message,
    )
    .fetch_optional(pool)
    .await
}

/// The copies of `ids` that were reported.
pub async fn reported(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<ReportedMessage>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT message_id, conversation_id, sender_id, body_ciphertext, body_nonce, key_version, \
                sent_at \
         FROM reported_messages WHERE message_id = ANY($1)",
        ids,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ReportedMessage {
            message_id: row.message_id,
            conversation_id: row.conversation_id,
            sender_id: row.sender_id,
            body: SealedBody {
                ciphertext: row.body_ciphertext,
                nonce: row.body_nonce,
                key_version: row.key_version,
            },
            sent_at: row.sent_at,
        })
        .collect())
}

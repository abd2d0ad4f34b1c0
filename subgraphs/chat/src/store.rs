//! SQL of `nova_chat`. Every statement is counted through the `Db`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use nova_core::events::envelope::MessageSent;
use nova_core::events::{self, Event};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use uuid::Uuid;

use crate::crypto::{MessageCipher, SealedBody};

/// Either of the two users has blocked the other.
const BLOCKED_EITHER_WAY: &str = "EXISTS (SELECT 1 FROM blocks WHERE \
     (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1))";

const CONVERSATION_COLUMNS: &str =
    "c.id, c.kind, c.title, c.created_at, c.last_activity_at, c.last_seq, c.activity";

const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.seq, m.sender_id, m.body_ciphertext, \
     m.body_nonce, m.key_version, m.client_message_id, m.sent_at";

#[derive(Clone, Debug)]
pub struct ConversationRow {
    pub id: Uuid,
    pub is_group: bool,
    pub title: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub last_seq: i64,
    /// Position in "most recently active first" lists.
    pub activity: i64,
}

fn conversation_row(row: &sqlx::postgres::PgRow) -> ConversationRow {
    ConversationRow {
        id: row.get("id"),
        is_group: row.get::<String, _>("kind") == "group",
        title: row.get("title"),
        created_at: row.get("created_at"),
        last_activity_at: row.get("last_activity_at"),
        last_seq: row.get("last_seq"),
        activity: row.get("activity"),
    }
}

/// A message as stored: the body sealed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub seq: i64,
    pub sender_id: Uuid,
    #[serde(with = "base64_bytes")]
    pub ciphertext: Vec<u8>,
    #[serde(with = "base64_bytes")]
    pub nonce: Vec<u8>,
    pub key_version: i16,
    pub client_message_id: String,
    pub sent_at: DateTime<Utc>,
}

impl MessageRow {
    pub fn sealed(&self) -> SealedBody {
        SealedBody {
            ciphertext: self.ciphertext.clone(),
            nonce: self.nonce.clone(),
            key_version: self.key_version,
        }
    }
}

fn message_row(row: &sqlx::postgres::PgRow) -> MessageRow {
    MessageRow {
        id: row.get("id"),
        conversation_id: row.get("conversation_id"),
        seq: row.get("seq"),
        sender_id: row.get("sender_id"),
        ciphertext: row.get("body_ciphertext"),
        nonce: row.get("body_nonce"),
        key_version: row.get("key_version"),
        client_message_id: row.get("client_message_id"),
        sent_at: row.get("sent_at"),
    }
}

/// Live events carry sealed bodies as base64 rather than JSON number arrays.
mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug)]
pub enum Refusal {
    /// The caller is not a member (or the conversation does not exist).
    NotMember,
    /// A block between the two users (or between the caller and this user).
    Blocked(Uuid),
    /// Only groups have members added, titles, leaving.
    NotAGroup,
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("refused: {0:?}")]
    Refused(Refusal),
}

impl From<Refusal> for ChatError {
    fn from(refusal: Refusal) -> Self {
        ChatError::Refused(refusal)
    }
}

/// The one direct conversation of two users (created the first time).
pub async fn start_direct(db: &Db, me: Uuid, other: Uuid) -> Result<ConversationRow, ChatError> {
    if blocked_either_way(db, me, other).await? {
        return Err(Refusal::Blocked(other).into());
    }
    let (low, high) = if me < other { (me, other) } else { (other, me) };
    let pair = format!("{low}:{high}");
    let mut tx = db.begin().await?;
    db.count_statement();
    sqlx::query(
        "INSERT INTO conversations (id, kind, direct_pair, created_by) \
         VALUES ($1, 'direct', $2, $3) ON CONFLICT (direct_pair) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(&pair)
    .bind(me)
    .execute(&mut *tx)
    .await?;
    db.count_statement();
    let row = sqlx::query(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.direct_pair = $1"
    ))
    .bind(&pair)
    .fetch_one(&mut *tx)
    .await?;
    let conversation = conversation_row(&row);
    // Both are members again, even if one had left.
    add_member_rows(db, &mut tx, conversation.id, &[me, other]).await?;
    tx.commit().await?;
    Ok(conversation)
}

/// A new group of the creator and `members`.
pub async fn create_group(
    db: &Db,
    me: Uuid,
    title: &str,
    members: &[Uuid],
) -> Result<ConversationRow, ChatError> {
    if let Some(blocked) = first_blocked(db, me, members).await? {
        return Err(Refusal::Blocked(blocked).into());
    }
    let mut everyone = vec![me];
    everyone.extend(members.iter().filter(|m| **m != me));
    let mut tx = db.begin().await?;
    db.count_statement();
    let row = sqlx::query(&format!(
        "INSERT INTO conversations AS c (id, kind, title, created_by) VALUES ($1, 'group', $2, $3) \
         RETURNING {CONVERSATION_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(title)
    .bind(me)
    .fetch_one(&mut *tx)
    .await?;
    let conversation = conversation_row(&row);
    add_member_rows(db, &mut tx, conversation.id, &everyone).await?;
    tx.commit().await?;
    Ok(conversation)
}

/// Add `members` to a group the caller belongs to. A member added back reads
/// from where they left off.
pub async fn add_members(
    db: &Db,
    conversation_id: Uuid,
    me: Uuid,
    members: &[Uuid],
) -> Result<ConversationRow, ChatError> {
    let conversation = member_conversation(db, conversation_id, me).await?;
    if !conversation.is_group {
        return Err(Refusal::NotAGroup.into());
    }
    if let Some(blocked) = first_blocked(db, me, members).await? {
        return Err(Refusal::Blocked(blocked).into());
    }
    let mut tx = db.begin().await?;
    add_member_rows(db, &mut tx, conversation_id, members).await?;
    tx.commit().await?;
    Ok(conversation)
}

/// Make `users` current members (again, for one who had left: they read on
/// from their old marker).
async fn add_member_rows(
    db: &Db,
    tx: &mut sqlx::PgConnection,
    conversation_id: Uuid,
    users: &[Uuid],
) -> Result<(), sqlx::Error> {
    db.count_statement();
    sqlx::query(
        "INSERT INTO conversation_members (conversation_id, user_id) \
         SELECT $1, unnest($2::uuid[]) \
         ON CONFLICT (conversation_id, user_id) DO UPDATE SET left_at = NULL",
    )
    .bind(conversation_id)
    .bind(users)
    .execute(tx)
    .await?;
    Ok(())
}

/// The caller leaves a conversation (they can be added back, or restart a
/// direct one).
/// Returns the conversation's newest `seq` (for the live event).
pub async fn leave(db: &Db, conversation_id: Uuid, me: Uuid) -> Result<i64, ChatError> {
    let last_seq: Option<i64> = sqlx::query_scalar(
        "UPDATE conversation_members cm SET left_at = now() FROM conversations c \
         WHERE c.id = cm.conversation_id AND cm.conversation_id = $1 AND cm.user_id = $2 \
           AND cm.left_at IS NULL \
         RETURNING c.last_seq",
    )
    .bind(conversation_id)
    .bind(me)
    .fetch_optional(db.statement())
    .await?;
    last_seq.ok_or(ChatError::Refused(Refusal::NotMember))
}

/// The conversation, if `user` is a current member of it.
pub async fn member_conversation(
    db: &Db,
    conversation_id: Uuid,
    user: Uuid,
) -> Result<ConversationRow, ChatError> {
    let row = sqlx::query(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations c \
         JOIN conversation_members cm ON cm.conversation_id = c.id \
         WHERE c.id = $1 AND cm.user_id = $2 AND cm.left_at IS NULL"
    ))
    .bind(conversation_id)
    .bind(user)
    .fetch_optional(db.statement())
    .await?;
    row.map(|row| conversation_row(&row))
        .ok_or(ChatError::Refused(Refusal::NotMember))
}

/// The caller's conversations, most recently active first.
pub async fn conversations_page(
    db: &Db,
    user: Uuid,
    before_activity: Option<i64>,
    limit: i64,
) -> Result<Vec<ConversationRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations c \
         JOIN conversation_members cm ON cm.conversation_id = c.id \
         WHERE cm.user_id = $1 AND cm.left_at IS NULL AND c.activity < $2 \
         ORDER BY c.activity DESC LIMIT $3"
    ))
    .bind(user)
    .bind(before_activity.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(db.statement())
    .await?;
    Ok(rows.iter().map(conversation_row).collect())
}

#[derive(Debug)]
pub enum Sent {
    /// A new message; `recipients` are the other current members.
    New {
        message: MessageRow,
        recipients: Vec<Uuid>,
    },
    /// The sender had already sent this `clientMessageId`: the same message.
    Repeated(MessageRow),
}

/// Store a message: the next sequence number of its conversation, the body
/// sealed, the sender's read marker moved to it, and `chat.message_sent` in the
/// outbox, all in one transaction. A repeated `client_message_id` returns the
/// message already stored and changes nothing.
pub async fn send_message(
    db: &Db,
    cipher: &MessageCipher,
    conversation_id: Uuid,
    sender: Uuid,
    body: &str,
    client_message_id: &str,
) -> Result<Sent, ChatError> {
    if let Some(existing) = sent_before(db, conversation_id, sender, client_message_id).await? {
        return Ok(Sent::Repeated(existing));
    }
    match insert_message(db, cipher, conversation_id, sender, body, client_message_id).await {
        Err(ChatError::Database(sqlx::Error::Database(error))) if error.is_unique_violation() => {
            // The same send raced itself (a retry while the first was in flight);
            // the loser's transaction, sequence number included, rolled back.
            sent_before(db, conversation_id, sender, client_message_id)
                .await?
                .map(Sent::Repeated)
                .ok_or(ChatError::Database(sqlx::Error::RowNotFound))
        }
        other => other,
    }
}

async fn sent_before(
    db: &Db,
    conversation_id: Uuid,
    sender: Uuid,
    client_message_id: &str,
) -> Result<Option<MessageRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m \
         WHERE m.conversation_id = $1 AND m.sender_id = $2 AND m.client_message_id = $3"
    ))
    .bind(conversation_id)
    .bind(sender)
    .bind(client_message_id)
    .fetch_optional(db.statement())
    .await?;
    Ok(row.map(|row| message_row(&row)))
}

async fn insert_message(
    db: &Db,
    cipher: &MessageCipher,
    conversation_id: Uuid,
    sender: Uuid,
    body: &str,
    client_message_id: &str,
) -> Result<Sent, ChatError> {
    let mut tx = db.begin().await?;
    // Members, and whether a block stands between the sender and anyone of a
    // direct conversation. Locks nothing yet.
    db.count_statement();
    let members = sqlx::query(
        "SELECT cm.user_id, c.kind, \
         EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = cm.user_id AND b.blocked_id = $2) \
                 OR (b.blocker_id = $2 AND b.blocked_id = cm.user_id)) AS blocked \
         FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id \
         WHERE cm.conversation_id = $1 AND cm.left_at IS NULL",
    )
    .bind(conversation_id)
    .bind(sender)
    .fetch_all(&mut *tx)
    .await?;
    if !members
        .iter()
        .any(|m| m.get::<Uuid, _>("user_id") == sender)
    {
        return Err(Refusal::NotMember.into());
    }
    let is_direct = members
        .first()
        .is_some_and(|m| m.get::<String, _>("kind") == "direct");
    if is_direct {
        if let Some(blocked) = members.iter().find(|m| m.get::<bool, _>("blocked")) {
            return Err(Refusal::Blocked(blocked.get("user_id")).into());
        }
    }
    let recipients: Vec<Uuid> = members
        .iter()
        .map(|m| m.get::<Uuid, _>("user_id"))
        .filter(|id| *id != sender)
        .collect();

    // The row lock on the conversation orders concurrent sends: each gets the
    // next number, with no gaps (a rolled-back send gives its number back).
    db.count_statement();
    let seq: i64 = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = now(), \
         activity = nextval('conversation_activity') WHERE id = $1 RETURNING last_seq",
    )
    .bind(conversation_id)
    .fetch_one(&mut *tx)
    .await?;
    let message_id = Uuid::now_v7();
    let sealed = cipher.seal(conversation_id, message_id, body);
    db.count_statement();
    let row = sqlx::query(&format!(
        "INSERT INTO messages AS m (id, conversation_id, seq, sender_id, body_ciphertext, \
         body_nonce, key_version, client_message_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING {MESSAGE_COLUMNS}"
    ))
    .bind(message_id)
    .bind(conversation_id)
    .bind(seq)
    .bind(sender)
    .bind(&sealed.ciphertext)
    .bind(&sealed.nonce)
    .bind(sealed.key_version)
    .bind(client_message_id)
    .fetch_one(&mut *tx)
    .await?;
    let message = message_row(&row);
    db.count_statement();
    sqlx::query(
        "UPDATE conversation_members SET last_read_seq = GREATEST(last_read_seq, $3) \
         WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(sender)
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    let event = Event::MessageSent(MessageSent {
        message_id,
        conversation_id,
        seq,
        sender_id: sender,
        recipient_ids: recipients.clone(),
        sent_at: message.sent_at,
    });
    events::enqueue(db, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(Sent::New {
        message,
        recipients,
    })
}

/// Move the reader's marker forward to `up_to` (never back, never past the
/// newest message). Returns the marker and the conversation.
pub async fn mark_read(
    db: &Db,
    conversation_id: Uuid,
    reader: Uuid,
    up_to: i64,
) -> Result<(i64, ConversationRow), ChatError> {
    let row = sqlx::query(&format!(
        "UPDATE conversation_members cm \
         SET last_read_seq = GREATEST(cm.last_read_seq, LEAST($3, c.last_seq)) \
         FROM conversations c \
         WHERE c.id = cm.conversation_id AND cm.conversation_id = $1 AND cm.user_id = $2 \
           AND cm.left_at IS NULL \
         RETURNING cm.last_read_seq, {CONVERSATION_COLUMNS}"
    ))
    .bind(conversation_id)
    .bind(reader)
    .bind(up_to)
    .fetch_optional(db.statement())
    .await?;
    let row = row.ok_or(ChatError::Refused(Refusal::NotMember))?;
    Ok((row.get("last_read_seq"), conversation_row(&row)))
}

/// One page of messages of each conversation. `after`/`before` are exclusive
/// sequence numbers; `forward` pages upward from `after`, otherwise downward from
/// `before` (the newest first). Rows come back oldest first per conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageWindow {
    pub conversation_id: Uuid,
    pub after: i64,
    pub before: i64,
    pub forward: bool,
    /// Rows to fetch (one more than the page, to learn whether there are more).
    pub limit: i64,
}

pub async fn message_windows(
    db: &Db,
    windows: &[MessageWindow],
) -> Result<HashMap<MessageWindow, Vec<MessageRow>>, sqlx::Error> {
    let conversations: Vec<Uuid> = windows.iter().map(|w| w.conversation_id).collect();
    let afters: Vec<i64> = windows.iter().map(|w| w.after).collect();
    let befores: Vec<i64> = windows.iter().map(|w| w.before).collect();
    let forwards: Vec<bool> = windows.iter().map(|w| w.forward).collect();
    let limits: Vec<i64> = windows.iter().map(|w| w.limit).collect();
    let rows = sqlx::query(&format!(
        "SELECT k.idx, {MESSAGE_COLUMNS} \
         FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bool[], $5::bigint[]) \
              WITH ORDINALITY AS k(conversation_id, after_seq, before_seq, forward, lim, idx) \
         CROSS JOIN LATERAL ( \
             SELECT * FROM messages m \
             WHERE m.conversation_id = k.conversation_id \
               AND m.seq > k.after_seq AND m.seq < k.before_seq \
             ORDER BY CASE WHEN k.forward THEN m.seq ELSE -m.seq END \
             LIMIT k.lim) m"
    ))
    .bind(&conversations)
    .bind(&afters)
    .bind(&befores)
    .bind(&forwards)
    .bind(&limits)
    .fetch_all(db.statement())
    .await?;
    let mut pages: HashMap<MessageWindow, Vec<MessageRow>> = HashMap::new();
    for row in rows {
        let index = usize::try_from(row.get::<i64, _>("idx") - 1).unwrap_or(usize::MAX);
        if let Some(window) = windows.get(index) {
            pages.entry(*window).or_default().push(message_row(&row));
        }
    }
    Ok(pages)
}

/// Unread messages (from others, after the reader's marker) per conversation.
pub async fn unread_counts(
    db: &Db,
    reader: Uuid,
    conversations: &[Uuid],
) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT cm.conversation_id, count(m.id) AS unread \
         FROM conversation_members cm \
         LEFT JOIN messages m ON m.conversation_id = cm.conversation_id \
              AND m.seq > cm.last_read_seq AND m.sender_id <> cm.user_id \
         WHERE cm.user_id = $1 AND cm.conversation_id = ANY($2) \
         GROUP BY cm.conversation_id",
    )
    .bind(reader)
    .bind(conversations)
    .fetch_all(db.statement())
    .await?;
    Ok(rows
        .iter()
        .map(|row| (row.get("conversation_id"), row.get("unread")))
        .collect())
}

/// Current members per conversation, in the order they joined.
pub async fn members(
    db: &Db,
    conversations: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Uuid>>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT conversation_id, user_id FROM conversation_members \
         WHERE conversation_id = ANY($1) AND left_at IS NULL ORDER BY joined_at, user_id",
    )
    .bind(conversations)
    .fetch_all(db.statement())
    .await?;
    let mut members: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for row in rows {
        members
            .entry(row.get("conversation_id"))
            .or_default()
            .push(row.get("user_id"));
    }
    Ok(members)
}

async fn blocked_either_way(db: &Db, a: Uuid, b: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT {BLOCKED_EITHER_WAY}"))
        .bind(a)
        .bind(b)
        .fetch_one(db.statement())
        .await
}

/// The first of `others` with a block between them and `me`, if any.
async fn first_blocked(db: &Db, me: Uuid, others: &[Uuid]) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT o FROM unnest($2::uuid[]) AS o WHERE EXISTS (SELECT 1 FROM blocks \
         WHERE (blocker_id = $1 AND blocked_id = o) OR (blocker_id = o AND blocked_id = $1)) \
         LIMIT 1",
    )
    .bind(me)
    .bind(others)
    .fetch_optional(db.statement())
    .await
}

/// Apply social's block events (chat keeps its own copy of who blocked whom).
pub async fn apply_block(
    tx: &mut sqlx::PgConnection,
    blocker: Uuid,
    blocked: Uuid,
    is_blocked: bool,
) -> Result<(), sqlx::Error> {
    let sql = if is_blocked {
        "INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2"
    };
    sqlx::query(sql)
        .bind(blocker)
        .bind(blocked)
        .execute(tx)
        .await?;
    Ok(())
}

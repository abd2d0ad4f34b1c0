//! Messages: sending, read markers, pages and unread counts.

use super::*;

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

/// A message as its sender sends it.
#[derive(Clone, Copy)]
pub struct Outgoing<'a> {
    pub conversation_id: Uuid,
    pub sender: Uuid,
    pub body: &'a str,
    /// The client's id for this send: a retry with the same one is the same
    /// message.
    pub client_message_id: &'a str,
}

/// Store a message: the next sequence number of its conversation, the body
/// sealed, the sender's read marker moved to it, and `chat.message_sent` in the
/// outbox, all in one transaction. A repeated `client_message_id` returns the
/// message already stored and changes nothing.
pub async fn send_message(
    db: &Db,
    blocks: &Blocks,
    cipher: &MessageCipher,
    message: Outgoing<'_>,
) -> Result<Sent, ChatError> {
    if let Some(existing) = sent_before(db, &message).await? {
        return Ok(Sent::Repeated(existing));
    }
    match insert_message(db, blocks, cipher, message).await {
        Err(ChatError::Database(sqlx::Error::Database(error))) if error.is_unique_violation() => {
            // The same send raced itself (a retry while the first was in flight);
            // the loser's transaction, sequence number included, rolled back.
            sent_before(db, &message)
                .await?
                .map(Sent::Repeated)
                .ok_or(ChatError::Database(sqlx::Error::RowNotFound))
        }
        other => other,
    }
}

/// Every message `sender` sent, oldest first (their data export).
pub async fn sent_by(db: &Db, sender: Uuid) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as!(
        MessageRow,
        r#"SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.body_ciphertext AS ciphertext,
               m.body_nonce AS nonce, m.key_version, m.client_message_id, m.sent_at
           FROM messages m WHERE m.sender_id = $1 ORDER BY m.sent_at, m.id"#,
        sender,
    )
    .fetch_all(db.background_pool())
    .await
}

async fn sent_before(db: &Db, message: &Outgoing<'_>) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as!(
        MessageRow,
        r#"SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.body_ciphertext AS ciphertext,
               m.body_nonce AS nonce, m.key_version, m.client_message_id, m.sent_at
           FROM messages m
           WHERE m.conversation_id = $1 AND m.sender_id = $2 AND m.client_message_id = $3"#,
        message.conversation_id,
        message.sender,
        message.client_message_id,
    )
    .fetch_optional(db.statement())
    .await
}

async fn insert_message(
    db: &Db,
    blocks: &Blocks,
    cipher: &MessageCipher,
    message: Outgoing<'_>,
) -> Result<Sent, ChatError> {
    let Outgoing {
        conversation_id,
        sender,
        body,
        client_message_id,
    } = message;
    // The current members; no lock, and no transaction open yet, as a direct
    // message then waits for social's answer on blocks.
    let members = sqlx::query!(
        r#"SELECT cm.user_id, c.kind
           FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
           WHERE cm.conversation_id = $1 AND cm.left_at IS NULL"#,
        conversation_id,
    )
    .fetch_all(db.statement())
    .await?;
    if !members.iter().any(|member| member.user_id == sender) {
        return Err(Refusal::NotMember.into());
    }
    let recipients: Vec<Uuid> = members
        .iter()
        .map(|member| member.user_id)
        .filter(|id| *id != sender)
        .collect();
    let is_direct = members
        .first()
        .is_some_and(|member| member.kind == "direct");
    if is_direct {
        if let Some(blocked) = blocks.first_blocked(sender, &recipients).await? {
            return Err(Refusal::Blocked(blocked).into());
        }
    }

    let mut tx = db.begin().await?;
    // The row lock on the conversation orders concurrent sends: each gets the
    // next number, with no gaps (a rolled-back send gives its number back).
    db.count_statement();
    let seq = sqlx::query_scalar!(
        "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = now(), \
         activity = nextval('conversation_activity') WHERE id = $1 RETURNING last_seq",
        conversation_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let message_id = Uuid::now_v7();
    let sealed = cipher.seal(conversation_id, message_id, body);
    db.count_statement();
    let message = sqlx::query_as!(
        MessageRow,
        r#"INSERT INTO messages AS m (id, conversation_id, seq, sender_id, body_ciphertext,
             body_nonce, key_version, client_message_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           RETURNING m.id, m.conversation_id, m.seq, m.sender_id, m.body_ciphertext AS ciphertext,
               m.body_nonce AS nonce, m.key_version, m.client_message_id, m.sent_at"#,
        message_id,
        conversation_id,
        seq,
        sender,
        sealed.ciphertext,
        sealed.nonce,
        sealed.key_version,
        client_message_id,
    )
    .fetch_one(&mut *tx)
    .await?;
    db.count_statement();
    sqlx::query!(
        "UPDATE conversation_members SET last_read_seq = GREATEST(last_read_seq, $3) \
         WHERE conversation_id = $1 AND user_id = $2",
        conversation_id,
        sender,
        seq,
    )
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
    let row = sqlx::query!(
        r#"UPDATE conversation_members cm
           SET last_read_seq = GREATEST(cm.last_read_seq, LEAST($3, c.last_seq))
           FROM conversations c
           WHERE c.id = cm.conversation_id AND cm.conversation_id = $1 AND cm.user_id = $2
             AND cm.left_at IS NULL
           RETURNING cm.last_read_seq, c.id AS "id!", c.kind = 'group' AS "is_group!",
             c.title, c.created_at AS "created_at!", c.last_activity_at AS "last_activity_at!",
             c.last_seq AS "last_seq!", c.activity AS "activity!""#,
        conversation_id,
        reader,
        up_to,
    )
    .fetch_optional(db.statement())
    .await?
    .ok_or(ChatError::Refused(Refusal::NotMember))?;
    let conversation = ConversationRow {
        id: row.id,
        is_group: row.is_group,
        title: row.title,
        created_at: row.created_at,
        last_activity_at: row.last_activity_at,
        last_seq: row.last_seq,
        activity: row.activity,
    };
    Ok((row.last_read_seq, conversation))
}

/// One page of messages of each conversation. `after`/`before` are exclusive
/// sequence numbers; `forward` pages upward from `after`, otherwise downward from
/// `before` (the newest first). Rows come back oldest first per conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageWindow {
    pub conversation_id: Uuid,
    /// Whose page it is: the senders blocked either way with them are left out.
    pub viewer: Uuid,
    pub after: i64,
    pub before: i64,
    pub forward: bool,
    /// Rows to fetch (one more than the page, to learn whether there are more).
    pub limit: i64,
}

/// Each window's messages, leaving out those of `hidden` senders (per
/// conversation and viewer, `crate::blocks::hidden_senders`).
pub async fn message_windows(
    db: &Db,
    windows: &[MessageWindow],
    hidden: &HiddenSenders,
) -> Result<HashMap<MessageWindow, Vec<MessageRow>>, sqlx::Error> {
    let conversations: Vec<Uuid> = windows.iter().map(|w| w.conversation_id).collect();
    // (window's ordinal, sender) pairs, as two arrays.
    let mut hidden_windows: Vec<i64> = Vec::new();
    let mut hidden_senders: Vec<Uuid> = Vec::new();
    for (index, window) in windows.iter().enumerate() {
        for sender in hidden.of(window.conversation_id, window.viewer) {
            hidden_windows.push(index as i64 + 1);
            hidden_senders.push(*sender);
        }
    }
    let afters: Vec<i64> = windows.iter().map(|w| w.after).collect();
    let befores: Vec<i64> = windows.iter().map(|w| w.before).collect();
    let forwards: Vec<bool> = windows.iter().map(|w| w.forward).collect();
    let limits: Vec<i64> = windows.iter().map(|w| w.limit).collect();
    let rows = sqlx::query!(
        r#"SELECT k.idx AS "idx!", m.id AS "id!", m.conversation_id AS "conversation_id!",
             m.seq AS "seq!", m.sender_id AS "sender_id!", m.body_ciphertext AS "ciphertext!",
             m.body_nonce AS "nonce!", m.key_version AS "key_version!",
             m.client_message_id AS "client_message_id!", m.sent_at AS "sent_at!"
           FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bool[], $5::bigint[])
                WITH ORDINALITY AS k(conversation_id, after_seq, before_seq, forward, lim, idx)
           CROSS JOIN LATERAL (
               SELECT * FROM messages m
               WHERE m.conversation_id = k.conversation_id
                 AND m.seq > k.after_seq AND m.seq < k.before_seq
                 AND NOT EXISTS (
                     SELECT 1 FROM unnest($6::bigint[], $7::uuid[]) AS h(idx, sender_id)
                     WHERE h.idx = k.idx AND h.sender_id = m.sender_id)
               ORDER BY CASE WHEN k.forward THEN m.seq ELSE -m.seq END
               LIMIT k.lim) m"#,
        &conversations,
        &afters,
        &befores,
        &forwards,
        &limits,
        &hidden_windows,
        &hidden_senders,
    )
    .fetch_all(db.statement())
    .await?;
    let mut pages: HashMap<MessageWindow, Vec<MessageRow>> = HashMap::new();
    for row in rows {
        let index = usize::try_from(row.idx - 1).unwrap_or(usize::MAX);
        if let Some(window) = windows.get(index) {
            pages.entry(*window).or_default().push(MessageRow {
                id: row.id,
                conversation_id: row.conversation_id,
                seq: row.seq,
                sender_id: row.sender_id,
                ciphertext: row.ciphertext,
                nonce: row.nonce,
                key_version: row.key_version,
                client_message_id: row.client_message_id,
                sent_at: row.sent_at,
            });
        }
    }
    Ok(pages)
}

/// Unread messages (from others, after the reader's marker) per conversation.
/// Hidden senders' messages (`crate::blocks::hidden_senders`) are not counted.
pub async fn unread_counts(
    db: &Db,
    reader: Uuid,
    conversations: &[Uuid],
    hidden: &HiddenSenders,
) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    let mut hidden_conversations: Vec<Uuid> = Vec::new();
    let mut hidden_senders: Vec<Uuid> = Vec::new();
    for conversation in conversations {
        for sender in hidden.of(*conversation, reader) {
            hidden_conversations.push(*conversation);
            hidden_senders.push(*sender);
        }
    }
    let rows = sqlx::query!(
        r#"SELECT cm.conversation_id, count(m.id) AS "unread!"
           FROM conversation_members cm
           LEFT JOIN messages m ON m.conversation_id = cm.conversation_id
                AND m.seq > cm.last_read_seq AND m.sender_id <> cm.user_id
                AND NOT EXISTS (
                    SELECT 1 FROM unnest($3::uuid[], $4::uuid[]) AS h(conversation_id, sender_id)
                    WHERE h.conversation_id = m.conversation_id AND h.sender_id = m.sender_id)
           WHERE cm.user_id = $1 AND cm.conversation_id = ANY($2)
           GROUP BY cm.conversation_id"#,
        reader,
        conversations,
        &hidden_conversations,
        &hidden_senders,
    )
    .fetch_all(db.statement())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.conversation_id, row.unread))
        .collect())
}

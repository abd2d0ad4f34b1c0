//! Conversations and their members.

use super::*;

/// The one direct conversation of two users (created the first time).
pub async fn start_direct(
    db: &Db,
    blocks: &Blocks,
    me: Uuid,
    other: Uuid,
) -> Result<ConversationRow, ChatError> {
    if let Some(blocked) = blocks.first_blocked(me, &[other]).await? {
        return Err(Refusal::Blocked(blocked).into());
    }
    let (low, high) = if me < other { (me, other) } else { (other, me) };
    let pair = format!("{low}:{high}");
    let mut tx = db.begin().await?;
    db.count_statement();
    sqlx::query!(
        "INSERT INTO conversations (id, kind, direct_pair, created_by) \
         VALUES ($1, 'direct', $2, $3) ON CONFLICT (direct_pair) DO NOTHING",
        Uuid::now_v7(),
        pair,
        me,
    )
    .execute(&mut *tx)
    .await?;
    db.count_statement();
    let conversation = sqlx::query_as!(
        ConversationRow,
        r#"SELECT c.id, c.kind = 'group' AS "is_group!", c.title, c.created_at, c.last_activity_at,
               c.last_seq, c.activity
           FROM conversations c WHERE c.direct_pair = $1"#,
        pair
    )
    .fetch_one(&mut *tx)
    .await?;
    // Both are members again, even if one had left.
    add_member_rows(db, &mut tx, conversation.id, &[me, other]).await?;
    tx.commit().await?;
    Ok(conversation)
}

/// A new group of the creator and `members`.
pub async fn create_group(
    db: &Db,
    blocks: &Blocks,
    me: Uuid,
    title: &str,
    members: &[Uuid],
) -> Result<ConversationRow, ChatError> {
    if let Some(blocked) = blocks.first_blocked(me, members).await? {
        return Err(Refusal::Blocked(blocked).into());
    }
    let mut everyone = vec![me];
    everyone.extend(members.iter().filter(|m| **m != me));
    let mut tx = db.begin().await?;
    db.count_statement();
    let conversation = sqlx::query_as!(
        ConversationRow,
        r#"INSERT INTO conversations AS c (id, kind, title, created_by)
           VALUES ($1, 'group', $2, $3)
           RETURNING c.id, c.kind = 'group' AS "is_group!", c.title, c.created_at, c.last_activity_at,
               c.last_seq, c.activity"#,
        Uuid::now_v7(),
        title,
        me,
    )
    .fetch_one(&mut *tx)
    .await?;
    add_member_rows(db, &mut tx, conversation.id, &everyone).await?;
    tx.commit().await?;
    Ok(conversation)
}

/// Add `members` to a group the caller belongs to. A member added back reads
/// from where they left off. Concurrent additions to one group take turns on
/// the group's row, so the size cap holds however many race.
pub async fn add_members(
    db: &Db,
    blocks: &Blocks,
    conversation_id: Uuid,
    me: Uuid,
    members: &[Uuid],
) -> Result<ConversationRow, ChatError> {
    if let Some(blocked) = blocks.first_blocked(me, members).await? {
        return Err(Refusal::Blocked(blocked).into());
    }
    let mut tx = db.begin().await?;
    db.count_statement();
    let conversation = sqlx::query_as!(
        ConversationRow,
        r#"SELECT c.id, c.kind = 'group' AS "is_group!", c.title, c.created_at, c.last_activity_at,
               c.last_seq, c.activity
           FROM conversations c
           JOIN conversation_members cm ON cm.conversation_id = c.id
           WHERE c.id = $1 AND cm.user_id = $2 AND cm.left_at IS NULL
           FOR UPDATE OF c"#,
        conversation_id,
        me,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ChatError::Refused(Refusal::NotMember))?;
    if !conversation.is_group {
        return Err(Refusal::NotAGroup.into());
    }
    add_member_rows(db, &mut tx, conversation_id, members).await?;
    db.count_statement();
    let size = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM conversation_members
           WHERE conversation_id = $1 AND left_at IS NULL"#,
        conversation_id
    )
    .fetch_one(&mut *tx)
    .await?;
    if size > MAX_GROUP_MEMBERS {
        // Dropping the transaction rolls the additions back.
        return Err(Refusal::GroupFull.into());
    }
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
    sqlx::query!(
        "INSERT INTO conversation_members (conversation_id, user_id) \
         SELECT $1, unnest($2::uuid[]) \
         ON CONFLICT (conversation_id, user_id) DO UPDATE SET left_at = NULL",
        conversation_id,
        users,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// The caller leaves a conversation (they can be added back, or restart a
/// direct one).
/// Returns the conversation's newest `seq` (for the live event).
pub async fn leave(db: &Db, conversation_id: Uuid, me: Uuid) -> Result<i64, ChatError> {
    let last_seq = sqlx::query_scalar!(
        r#"UPDATE conversation_members cm SET left_at = now() FROM conversations c
           WHERE c.id = cm.conversation_id AND cm.conversation_id = $1 AND cm.user_id = $2
             AND cm.left_at IS NULL
           RETURNING c.last_seq AS "last_seq!""#,
        conversation_id,
        me,
    )
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
    sqlx::query_as!(
        ConversationRow,
        r#"SELECT c.id, c.kind = 'group' AS "is_group!", c.title, c.created_at, c.last_activity_at,
               c.last_seq, c.activity
           FROM conversations c
           JOIN conversation_members cm ON cm.conversation_id = c.id
           WHERE c.id = $1 AND cm.user_id = $2 AND cm.left_at IS NULL"#,
        conversation_id,
        user,
    )
    .fetch_optional(db.statement())
    .await?
    .ok_or(ChatError::Refused(Refusal::NotMember))
}

/// The caller's conversations, most recently active first.
pub async fn conversations_page(
    db: &Db,
    user: Uuid,
    before_activity: Option<i64>,
    limit: i64,
) -> Result<Vec<ConversationRow>, sqlx::Error> {
    sqlx::query_as!(
        ConversationRow,
        r#"SELECT c.id, c.kind = 'group' AS "is_group!", c.title, c.created_at, c.last_activity_at,
               c.last_seq, c.activity
           FROM conversations c
           JOIN conversation_members cm ON cm.conversation_id = c.id
           WHERE cm.user_id = $1 AND cm.left_at IS NULL AND c.activity < $2
           ORDER BY c.activity DESC LIMIT $3"#,
        user,
        before_activity.unwrap_or(i64::MAX),
        limit,
    )
    .fetch_all(db.statement())
    .await
}

/// Current members per conversation, in the order they joined.
/// (conversation, user) pairs gathered per conversation, in their order.
fn by_conversation(pairs: impl Iterator<Item = (Uuid, Uuid)>) -> HashMap<Uuid, Vec<Uuid>> {
    let mut members: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (conversation, user) in pairs {
        members.entry(conversation).or_default().push(user);
    }
    members
}

/// Everyone who is or was a member of each conversation (their messages stay).
pub async fn members_ever(
    db: &Db,
    conversations: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Uuid>>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT conversation_id, user_id FROM conversation_members \
         WHERE conversation_id = ANY($1)",
        conversations
    )
    .fetch_all(db.statement())
    .await?;
    Ok(by_conversation(
        rows.into_iter()
            .map(|row| (row.conversation_id, row.user_id)),
    ))
}

pub async fn members(
    db: &Db,
    conversations: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Uuid>>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT conversation_id, user_id FROM conversation_members \
         WHERE conversation_id = ANY($1) AND left_at IS NULL ORDER BY joined_at, user_id",
        conversations
    )
    .fetch_all(db.statement())
    .await?;
    Ok(by_conversation(
        rows.into_iter()
            .map(|row| (row.conversation_id, row.user_id)),
    ))
}

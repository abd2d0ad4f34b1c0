//! SQL of reports and moderation (posts and comments): reports in, the queue
//! of open reports grouped by subject, takedowns and restores, and the
//! append-only moderation log. See docs/moderation.md.

use chrono::{DateTime, Utc};
use nova_core::db::Db;
use nova_core::events::envelope::{CommentCreated, PostModerated};
use nova_core::events::{self, Event};
use uuid::Uuid;

/// What a report or a moderator action is about: its table's name in
/// `subject_kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubjectKind {
    Post,
    Comment,
    /// An account (identity's): reported here, suspended there.
    User,
    /// A chat message (chat keeps the reported body sealed).
    Message,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Post => "post",
            SubjectKind::Comment => "comment",
            SubjectKind::User => "user",
            SubjectKind::Message => "message",
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            "post" => Some(SubjectKind::Post),
            "comment" => Some(SubjectKind::Comment),
            "user" => Some(SubjectKind::User),
            "message" => Some(SubjectKind::Message),
            _ => None,
        }
    }
}

/// One subject in the queue: its open reports, summed up.
pub struct QueuedSubject {
    pub kind: String,
    pub id: Uuid,
    pub reports: i64,
    pub reasons: Vec<String>,
    pub details: Vec<String>,
    pub first_reported_at: DateTime<Utc>,
}

/// One line of the moderation log.
pub struct LoggedAction {
    pub id: i64,
    pub moderator_id: Uuid,
    pub action: String,
    pub subject_kind: String,
    pub subject_id: Uuid,
    pub author_id: Uuid,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// The author of a post or comment, whether or not it is taken down; `None`
/// when it does not exist (or was deleted), and for a user or a message
/// (identity and chat know).
pub async fn subject_author(
    db: &Db,
    kind: SubjectKind,
    id: Uuid,
) -> Result<Option<(Uuid, bool)>, sqlx::Error> {
    let row = match kind {
        SubjectKind::Post => sqlx::query!(
            r#"SELECT author_id, taken_down_at IS NOT NULL AS "taken_down!" FROM posts WHERE id = $1"#,
            id
        )
        .fetch_optional(db.statement())
        .await?
        .map(|r| (r.author_id, r.taken_down)),
        SubjectKind::Comment => sqlx::query!(
            r#"SELECT author_id, taken_down_at IS NOT NULL AS "taken_down!" FROM comments WHERE id = $1"#,
            id
        )
        .fetch_optional(db.statement())
        .await?
        .map(|r| (r.author_id, r.taken_down)),
        SubjectKind::User | SubjectKind::Message => None,
    };
    Ok(row)
}

/// Reports `reporter` filed since `since`: the per-user report limit.
pub async fn reports_since(
    db: &Db,
    reporter: Uuid,
    since: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM reports WHERE reporter_id = $1 AND created_at > $2"#,
        reporter,
        since,
    )
    .fetch_one(db.statement())
    .await
}

/// File a report: its id and time.
pub async fn add_report(
    db: &Db,
    reporter: Uuid,
    kind: SubjectKind,
    subject: Uuid,
    reason: &str,
    details: &str,
) -> Result<(i64, DateTime<Utc>), sqlx::Error> {
    let row = sqlx::query!(
        "INSERT INTO reports (reporter_id, subject_kind, subject_id, reason, details) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at",
        reporter,
        kind.as_str(),
        subject,
        reason,
        details,
    )
    .fetch_one(db.statement())
    .await?;
    Ok((row.id, row.created_at))
}

/// Subjects with open reports, the longest waiting first, at most `limit`.
pub async fn queue(db: &Db, limit: i64) -> Result<Vec<QueuedSubject>, sqlx::Error> {
    sqlx::query_as!(
        QueuedSubject,
        r#"SELECT subject_kind AS kind, subject_id AS id, count(*) AS "reports!",
             array_agg(DISTINCT reason) AS "reasons!",
             coalesce(array_agg(details ORDER BY id) FILTER (WHERE details <> ''), '{}')
               AS "details!",
             min(created_at) AS "first_reported_at!"
           FROM reports WHERE resolved_at IS NULL
           GROUP BY subject_kind, subject_id
           ORDER BY min(created_at), subject_id LIMIT $1"#,
        limit,
    )
    .fetch_all(db.statement())
    .await
}

/// A moderator's decision on a subject, in one transaction: the subject taken
/// down (`Some(true)`), restored (`Some(false)`) or left as it is (`None`,
/// a dismissal); its open reports resolved; one line in the log. `None` when
/// the subject does not exist. A user or a message, which content does not
/// hold, is only dismissed here (`take_down` `None`), with `owner` (the account,
/// the sender) found by the caller.
pub async fn decide(
    db: &Db,
    moderator: Uuid,
    kind: SubjectKind,
    subject: Uuid,
    take_down: Option<bool>,
    reason: &str,
    owner: Option<Uuid>,
) -> Result<Option<LoggedAction>, sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let author = match kind {
        SubjectKind::Post => {
            sqlx::query_scalar!(
                "UPDATE posts SET taken_down_at = CASE WHEN $2::bool IS NULL THEN taken_down_at \
             WHEN $2 THEN coalesce(taken_down_at, now()) END WHERE id = $1 RETURNING author_id",
                subject,
                take_down,
            )
            .fetch_optional(&mut *tx)
            .await?
        }
        SubjectKind::Comment => {
            let row = sqlx::query!(
                r#"WITH old AS (SELECT id, taken_down_at FROM comments WHERE id = $1 FOR UPDATE)
                   UPDATE comments c SET taken_down_at = CASE WHEN $2::bool IS NULL THEN c.taken_down_at
                     WHEN $2 THEN coalesce(c.taken_down_at, now()) END
                   FROM old, posts p WHERE c.id = old.id AND p.id = c.post_id
                   RETURNING c.author_id, c.post_id, p.author_id AS post_author_id,
                     (old.taken_down_at IS NULL) <> (c.taken_down_at IS NULL) AS "changed!""#,
                subject,
                take_down,
            )
            .fetch_optional(&mut *tx)
            .await?;
            // Only a change is an event: analytics counts comments served.
            if let Some(row) = row.as_ref().filter(|row| row.changed) {
                let moderated = CommentCreated {
                    comment_id: subject,
                    post_id: row.post_id,
                    post_author_id: row.post_author_id,
                    author_id: row.author_id,
                };
                let event = if take_down == Some(true) {
                    Event::CommentTakenDown(moderated)
                } else {
                    Event::CommentRestored(moderated)
                };
                events::enqueue(db, &mut tx, &event).await?;
            }
            row.map(|row| row.author_id)
        }
        SubjectKind::User | SubjectKind::Message => owner,
    };
    let Some(author) = author else {
        return Ok(None);
    };
    // Read models that keep posts (media's objects, notifications) learn of it
    // by event; content itself stopped serving it in the statement above.
    if kind == SubjectKind::Post {
        let moderated = PostModerated {
            post_id: subject,
            author_id: author,
        };
        let event = match take_down {
            Some(true) => Some(Event::PostTakenDown(moderated)),
            Some(false) => Some(Event::PostRestored(moderated)),
            None => None,
        };
        if let Some(event) = event {
            events::enqueue(db, &mut tx, &event).await?;
        }
    }
    db.count_statement();
    sqlx::query!(
        "UPDATE reports SET resolved_at = now() \
         WHERE subject_kind = $1 AND subject_id = $2 AND resolved_at IS NULL",
        kind.as_str(),
        subject,
    )
    .execute(&mut *tx)
    .await?;
    let action = match take_down {
        Some(true) => "take_down",
        Some(false) => "restore",
        None => "dismiss",
    };
    db.count_statement();
    let logged = sqlx::query_as!(
        LoggedAction,
        "INSERT INTO moderation_log (moderator_id, action, subject_kind, subject_id, author_id, reason) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, moderator_id, action, subject_kind, subject_id, author_id, reason, at",
        moderator,
        action,
        kind.as_str(),
        subject,
        author,
        reason,
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(logged))
}

/// The log, newest first: the `limit` lines before `before` (a line's id).
pub async fn log(
    db: &Db,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<LoggedAction>, sqlx::Error> {
    sqlx::query_as!(
        LoggedAction,
        "SELECT id, moderator_id, action, subject_kind, subject_id, author_id, reason, at \
         FROM moderation_log WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        before,
        limit,
    )
    .fetch_all(db.statement())
    .await
}

/// The takedowns of `author`'s content, newest first: what the author is told.
pub async fn takedowns_of(
    db: &Db,
    author: Uuid,
    limit: i64,
) -> Result<Vec<LoggedAction>, sqlx::Error> {
    sqlx::query_as!(
        LoggedAction,
        "SELECT id, moderator_id, action, subject_kind, subject_id, author_id, reason, at \
         FROM moderation_log WHERE author_id = $1 AND action IN ('take_down', 'restore') \
         ORDER BY id DESC LIMIT $2",
        author,
        limit,
    )
    .fetch_all(db.statement())
    .await
}

//! Reports and moderation of posts and comments: anyone signed in reports;
//! moderators (the `moderator` scope an operator grants with `nova admin
//! grant-role`) work the queue, take down, restore and dismiss, and read the
//! log; an author reads why their content was taken down. A takedown is
//! immediate here (content stops serving the subject in the same statement);
//! the feed and search ask content what it serves at each page, so it leaves
//! them at once too. docs/moderation.md.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Duration, Utc};
use nova_core::connection::PositionPage;
use nova_core::db::Db;
use nova_core::errors::{bad_input, parse_id, OrInternal};
use nova_core::sdl::authenticated;
use nova_core::{Caller, ErrorCode};

use super::User;
use crate::moderation::{self, LoggedAction, SubjectKind};

/// Reports one user may file in `REPORT_WINDOW`.
pub const REPORTS_PER_WINDOW: i64 = 20;
const REPORT_WINDOW: Duration = Duration::hours(1);
const DETAILS_MAX_CHARS: usize = 1000;
const REASON_MAX_CHARS: usize = 500;
const QUEUE_MAX: i32 = 100;
const MODERATOR: &str = "moderator";

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ReportSubjectKind {
    Post,
    Comment,
}

impl From<ReportSubjectKind> for SubjectKind {
    fn from(kind: ReportSubjectKind) -> Self {
        match kind {
            ReportSubjectKind::Post => SubjectKind::Post,
            ReportSubjectKind::Comment => SubjectKind::Comment,
        }
    }
}

fn kind_of(stored: &str) -> ReportSubjectKind {
    match SubjectKind::parse(stored) {
        Some(SubjectKind::Comment) => ReportSubjectKind::Comment,
        _ => ReportSubjectKind::Post,
    }
}

/// A post or a comment, by id.
#[derive(InputObject)]
pub struct ReportSubject {
    pub kind: ReportSubjectKind,
    pub id: ID,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ReportReason {
    Spam,
    Harassment,
    Hate,
    Violence,
    SexualContent,
    Misinformation,
    Other,
}

impl ReportReason {
    fn as_str(self) -> &'static str {
        match self {
            ReportReason::Spam => "spam",
            ReportReason::Harassment => "harassment",
            ReportReason::Hate => "hate",
            ReportReason::Violence => "violence",
            ReportReason::SexualContent => "sexual_content",
            ReportReason::Misinformation => "misinformation",
            ReportReason::Other => "other",
        }
    }

    fn parse(stored: &str) -> Self {
        [
            ReportReason::Spam,
            ReportReason::Harassment,
            ReportReason::Hate,
            ReportReason::Violence,
            ReportReason::SexualContent,
            ReportReason::Misinformation,
        ]
        .into_iter()
        .find(|r| r.as_str() == stored)
        .unwrap_or(ReportReason::Other)
    }
}

/// A report as its reporter gets it back.
#[derive(SimpleObject)]
pub struct Report {
    pub id: ID,
    pub reason: ReportReason,
    pub created_at: DateTime<Utc>,
}

/// A subject waiting for a moderator: its open reports, summed up.
#[derive(SimpleObject)]
pub struct QueuedSubject {
    pub kind: ReportSubjectKind,
    pub id: ID,
    pub reports: i64,
    pub reasons: Vec<ReportReason>,
    /// The reporters' details, oldest first (empty ones left out).
    pub details: Vec<String>,
    pub first_reported_at: DateTime<Utc>,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ModerationActionKind {
    TakeDown,
    Restore,
    Dismiss,
}

/// One moderator action, as the append-only log keeps it.
pub struct ModerationAction(LoggedAction);

#[Object]
impl ModerationAction {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn moderator(&self) -> User {
        User {
            id: self.0.moderator_id,
        }
    }
    async fn action(&self) -> ModerationActionKind {
        match self.0.action.as_str() {
            "take_down" => ModerationActionKind::TakeDown,
            "restore" => ModerationActionKind::Restore,
            _ => ModerationActionKind::Dismiss,
        }
    }
    async fn subject_kind(&self) -> ReportSubjectKind {
        kind_of(&self.0.subject_kind)
    }
    async fn subject_id(&self) -> ID {
        ID(self.0.subject_id.to_string())
    }
    /// The subject's author.
    async fn author(&self) -> User {
        User {
            id: self.0.author_id,
        }
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// What an author is told about their own content: taken down (and why), or
/// restored. The moderator is not named.
#[derive(SimpleObject)]
pub struct ModerationNotice {
    pub taken_down: bool,
    pub subject_kind: ReportSubjectKind,
    pub subject_id: ID,
    pub reason: String,
    pub at: DateTime<Utc>,
}

fn checked_reason(reason: &str) -> Result<String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(bad_input("reason", "reason must not be empty"));
    }
    if reason.chars().count() > REASON_MAX_CHARS {
        return Err(bad_input(
            "reason",
            format!("reason must be at most {REASON_MAX_CHARS} characters"),
        ));
    }
    Ok(reason.to_string())
}

/// A moderator's decision on `subject` (see `moderation::decide`).
async fn decide(
    ctx: &Context<'_>,
    subject: ReportSubject,
    take_down: Option<bool>,
    reason: &str,
) -> Result<ModerationAction> {
    let moderator = Caller::of(ctx).require_scope(MODERATOR)?;
    let reason = checked_reason(reason)?;
    let id = parse_id(&subject.id, "subject.id")?;
    let db = ctx.data_unchecked::<Db>();
    moderation::decide(db, moderator, subject.kind.into(), id, take_down, &reason)
        .await
        .or_internal()?
        .map(ModerationAction)
        .ok_or_else(|| ErrorCode::NotFound.error("no such post or comment"))
}

#[derive(Default)]
pub struct ModerationQuery;

#[Object]
impl ModerationQuery {
    /// Subjects with open reports, grouped, the longest waiting first
    /// (moderators).
    #[graphql(requires_scopes = "moderator")]
    async fn moderation_queue(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
    ) -> Result<Vec<QueuedSubject>> {
        Caller::of(ctx).require_scope(MODERATOR)?;
        if !(1..=QUEUE_MAX).contains(&first) {
            return Err(bad_input(
                "first",
                format!("first must be between 1 and {QUEUE_MAX}"),
            ));
        }
        let db = ctx.data_unchecked::<Db>();
        let queued = moderation::queue(db, i64::from(first))
            .await
            .or_internal()?;
        Ok(queued
            .into_iter()
            .map(|q| QueuedSubject {
                kind: kind_of(&q.kind),
                id: ID(q.id.to_string()),
                reports: q.reports,
                reasons: q.reasons.iter().map(|r| ReportReason::parse(r)).collect(),
                details: q.details,
                first_reported_at: q.first_reported_at,
            })
            .collect())
    }

    /// Every moderator action, newest first (moderators).
    #[graphql(requires_scopes = "moderator")]
    async fn moderation_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, ModerationAction>> {
        Caller::of(ctx).require_scope(MODERATOR)?;
        let page = PositionPage::new(first, after.as_deref())?;
        let db = ctx.data_unchecked::<Db>();
        let lines = moderation::log(db, page.after, page.limit())
            .await
            .or_internal()?;
        Ok(page.connection(
            lines
                .into_iter()
                .map(|line| (line.id, ModerationAction(line)))
                .collect(),
        ))
    }

    /// Takedowns and restores of your posts and comments, newest first, with
    /// the moderator's reason.
    #[graphql(directive = authenticated::apply())]
    async fn my_moderation_notices(&self, ctx: &Context<'_>) -> Result<Vec<ModerationNotice>> {
        let me = Caller::of(ctx).require_user()?;
        let db = ctx.data_unchecked::<Db>();
        let lines = moderation::takedowns_of(db, me, 50).await.or_internal()?;
        Ok(lines
            .into_iter()
            .map(|line| ModerationNotice {
                taken_down: line.action == "take_down",
                subject_kind: kind_of(&line.subject_kind),
                subject_id: ID(line.subject_id.to_string()),
                reason: line.reason,
                at: line.at,
            })
            .collect())
    }
}

#[derive(Default)]
pub struct ModerationMutation;

#[Object]
impl ModerationMutation {
    /// Report a post or a comment you can see; at most 20 reports an hour.
    #[graphql(directive = authenticated::apply())]
    async fn report_content(
        &self,
        ctx: &Context<'_>,
        subject: ReportSubject,
        reason: ReportReason,
        details: Option<String>,
    ) -> Result<Report> {
        let reporter = Caller::of(ctx).require_user()?;
        let details = details.unwrap_or_default().trim().to_string();
        if details.chars().count() > DETAILS_MAX_CHARS {
            return Err(bad_input(
                "details",
                format!("details must be at most {DETAILS_MAX_CHARS} characters"),
            ));
        }
        let id = parse_id(&subject.id, "subject.id")?;
        let kind = SubjectKind::from(subject.kind);
        let db = ctx.data_unchecked::<Db>();
        match moderation::subject_author(db, kind, id)
            .await
            .or_internal()?
        {
            Some((author, false)) if author == reporter => {
                return Err(bad_input("subject", "you cannot report your own content"));
            }
            Some((_, false)) => {}
            // Taken down, deleted or never there: nothing to report.
            _ => return Err(ErrorCode::NotFound.error("no such post or comment")),
        }
        let recent = moderation::reports_since(db, reporter, Utc::now() - REPORT_WINDOW)
            .await
            .or_internal()?;
        if recent >= REPORTS_PER_WINDOW {
            return Err(ErrorCode::RateLimited.error(format!(
                "at most {REPORTS_PER_WINDOW} reports an hour; try again later"
            )));
        }
        let (report_id, created_at) =
            moderation::add_report(db, reporter, kind, id, reason.as_str(), &details)
                .await
                .or_internal()?;
        Ok(Report {
            id: ID(report_id.to_string()),
            reason,
            created_at,
        })
    }

    /// Stop serving a post or a comment, at once, resolving its reports; the
    /// author is told why (`myModerationNotices`).
    #[graphql(requires_scopes = "moderator")]
    async fn take_down(
        &self,
        ctx: &Context<'_>,
        subject: ReportSubject,
        reason: String,
    ) -> Result<ModerationAction> {
        decide(ctx, subject, Some(true), &reason).await
    }

    /// Serve a taken-down post or comment again.
    #[graphql(requires_scopes = "moderator")]
    async fn restore(
        &self,
        ctx: &Context<'_>,
        subject: ReportSubject,
        reason: String,
    ) -> Result<ModerationAction> {
        decide(ctx, subject, Some(false), &reason).await
    }

    /// Close a subject's open reports without acting on it.
    #[graphql(requires_scopes = "moderator")]
    async fn dismiss_report(
        &self,
        ctx: &Context<'_>,
        subject: ReportSubject,
        reason: String,
    ) -> Result<ModerationAction> {
        decide(ctx, subject, None, &reason).await
    }
}

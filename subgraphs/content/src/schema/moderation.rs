//! Reports and moderation of posts and comments: anyone signed in reports;
//! moderators (the `moderator` scope an operator grants with `nova admin
//! grant-role`) work the queue, take down, restore and dismiss, and read the
//! log; an author reads why their content was taken down. A takedown is
//! immediate here (content stops serving the subject in the same statement);
//! the feed and search ask content what it serves at each page, so it leaves
//! them at once too. docs/moderation.md.

use async_graphql::connection::Connection;
use async_graphql::{Context, Object, Result, ID};
use std::collections::HashMap;

use chrono::{Duration, Utc};
use nova_core::connection::PositionPage;
use nova_core::db::Db;
use nova_core::errors::{bad_input, checked_text, parse_id, OrInternal};
use nova_core::internal::existing_accounts;
use nova_core::message_reports::{evidence, report_message, Evidence};
use nova_core::sdl::authenticated;
use nova_core::{Caller, ErrorCode};
use uuid::Uuid;

use super::moderation_types::{
    kind_of, ModerationAction, ModerationNotice, QueuedSubject, Report, ReportReason,
    ReportSubject, ReportedMessage,
};
use super::Chat;
use crate::moderation::{self, SubjectKind};
use crate::nodes::Identity;

/// Reports one user may file in `REPORT_WINDOW`.
pub const REPORTS_PER_WINDOW: i64 = 20;
const REPORT_WINDOW: Duration = Duration::hours(1);
const DETAILS_MAX_CHARS: usize = 1000;
const REASON_MAX_CHARS: usize = 500;
const QUEUE_MAX: i32 = 100;
const MODERATOR: &str = "moderator";

/// The account `id` when identity has it; `NOT_FOUND` else.
async fn account(ctx: &Context<'_>, id: Uuid) -> Result<Uuid> {
    let identity = &ctx.data_unchecked::<Identity>().0;
    let existing = existing_accounts(identity, &[id]).await.or_internal()?;
    if existing.contains(&id) {
        Ok(id)
    } else {
        Err(ErrorCode::NotFound.error("no such user"))
    }
}

/// The sender of a message the reporter may report, kept aside by chat;
/// `NOT_FOUND` when they could not have received it.
async fn reported_sender(ctx: &Context<'_>, reporter: Uuid, message: Uuid) -> Result<Uuid> {
    let chat = &ctx.data_unchecked::<Chat>().0;
    report_message(chat, reporter, message)
        .await
        .or_internal()?
        .ok_or_else(|| ErrorCode::NotFound.error("no such message in your conversations"))
}

/// The sender of a reported message, for a moderator; `NOT_FOUND` when it was
/// never reported.
async fn sender_of_reported(ctx: &Context<'_>, message: Uuid) -> Result<Uuid> {
    let chat = &ctx.data_unchecked::<Chat>().0;
    let found = evidence(chat, &[message]).await.or_internal()?;
    found
        .first()
        .map(|e| e.sender_id)
        .ok_or_else(|| ErrorCode::NotFound.error("no such reported message"))
}

/// A moderator's decision on `subject` (see `moderation::decide`). A user is
/// suspended in identity (`suspendUser`), never taken down; a message is not
/// taken down either (its reports are dismissed, or its sender suspended).
async fn decide(
    ctx: &Context<'_>,
    subject: ReportSubject,
    take_down: Option<bool>,
    reason: &str,
) -> Result<ModerationAction> {
    let moderator = Caller::of(ctx).require_scope(MODERATOR)?;
    let reason = checked_text("reason", reason, REASON_MAX_CHARS)?;
    let id = parse_id(&subject.id, "subject.id")?;
    let kind = SubjectKind::from(subject.kind);
    let owner = match kind {
        SubjectKind::User | SubjectKind::Message if take_down.is_some() => {
            return Err(bad_input(
                "subject",
                "a user or a message is not taken down: dismiss the reports, or suspend the account (suspendUser)",
            ));
        }
        SubjectKind::User => Some(account(ctx, id).await?),
        SubjectKind::Message => Some(sender_of_reported(ctx, id).await?),
        SubjectKind::Post | SubjectKind::Comment => None,
    };
    let db = ctx.data_unchecked::<Db>();
    moderation::decide(db, moderator, kind, id, take_down, &reason, owner)
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
        // The reported messages' bodies, in one call to chat.
        let message_ids: Vec<Uuid> = queued
            .iter()
            .filter(|q| q.kind == SubjectKind::Message.as_str())
            .map(|q| q.id)
            .collect();
        let chat = &ctx.data_unchecked::<Chat>().0;
        let mut bodies: HashMap<Uuid, Evidence> = evidence(chat, &message_ids)
            .await
            .or_internal()?
            .into_iter()
            .map(|e| (e.message_id, e))
            .collect();
        Ok(queued
            .into_iter()
            .map(|q| QueuedSubject {
                kind: kind_of(&q.kind),
                id: ID(q.id.to_string()),
                reports: q.reports,
                reasons: q.reasons.iter().map(|r| ReportReason::parse(r)).collect(),
                details: q.details,
                first_reported_at: q.first_reported_at,
                message: bodies.remove(&q.id).map(ReportedMessage::from),
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
    /// Report a post or a comment you can see, or a user; at most 20 reports
    /// an hour.
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
        let author = match kind {
            SubjectKind::User => account(ctx, id).await?,
            SubjectKind::Message => reported_sender(ctx, reporter, id).await?,
            _ => match moderation::subject_author(db, kind, id)
                .await
                .or_internal()?
            {
                Some((author, false)) => author,
                // Taken down, deleted or never there: nothing to report.
                _ => return Err(ErrorCode::NotFound.error("no such post or comment")),
            },
        };
        if author == reporter {
            return Err(bad_input(
                "subject",
                "you cannot report yourself or your own content",
            ));
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

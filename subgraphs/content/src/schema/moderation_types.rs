//! The GraphQL types of reports and moderation (`moderation.rs` has the
//! resolvers).

use async_graphql::dataloader::DataLoader;
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use nova_core::errors::{parse_id, OrInternal};

use super::{load_post, Comment, Post, User};
use crate::loaders::CommentLoader;
use crate::moderation::{LoggedAction, SubjectKind};
use nova_core::message_reports::Evidence;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ReportSubjectKind {
    Post,
    Comment,
    User,
    Message,
}

impl From<ReportSubjectKind> for SubjectKind {
    fn from(kind: ReportSubjectKind) -> Self {
        match kind {
            ReportSubjectKind::Post => SubjectKind::Post,
            ReportSubjectKind::Comment => SubjectKind::Comment,
            ReportSubjectKind::User => SubjectKind::User,
            ReportSubjectKind::Message => SubjectKind::Message,
        }
    }
}

pub(super) fn kind_of(stored: &str) -> ReportSubjectKind {
    match SubjectKind::parse(stored) {
        Some(SubjectKind::Comment) => ReportSubjectKind::Comment,
        Some(SubjectKind::User) => ReportSubjectKind::User,
        Some(SubjectKind::Message) => ReportSubjectKind::Message,
        _ => ReportSubjectKind::Post,
    }
}

/// A post, a comment, a user or a chat message, by id.
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
    pub(super) fn as_str(self) -> &'static str {
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

    pub(super) fn parse(stored: &str) -> Self {
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
#[graphql(complex)]
pub struct QueuedSubject {
    pub kind: ReportSubjectKind,
    pub id: ID,
    pub reports: i64,
    pub reasons: Vec<ReportReason>,
    /// The reporters' details, oldest first (empty ones left out).
    pub details: Vec<String>,
    pub first_reported_at: DateTime<Utc>,
    /// The reported message as the reporter received it (null for other kinds).
    pub message: Option<ReportedMessage>,
}

/// A reported chat message, read from chat's sealed copy for moderators.
#[derive(SimpleObject)]
pub struct ReportedMessage {
    pub sender: User,
    pub body: String,
    pub sent_at: DateTime<Utc>,
}

impl From<Evidence> for ReportedMessage {
    fn from(evidence: Evidence) -> Self {
        Self {
            sender: User {
                id: evidence.sender_id,
            },
            body: evidence.body,
            sent_at: evidence.sent_at,
        }
    }
}

#[ComplexObject]
impl QueuedSubject {
    /// The reported post (null for a comment, or once it is gone).
    async fn post(&self, ctx: &Context<'_>) -> Result<Option<Post>> {
        match self.kind {
            ReportSubjectKind::Post => load_post(ctx, parse_id(&self.id, "id")?).await,
            _ => Ok(None),
        }
    }

    /// The reported account (null for a post or a comment).
    async fn user(&self) -> Result<Option<User>> {
        match self.kind {
            ReportSubjectKind::User => Ok(Some(User {
                id: parse_id(&self.id, "id")?,
            })),
            _ => Ok(None),
        }
    }

    /// The reported comment (null for a post, or once it is gone).
    async fn comment(&self, ctx: &Context<'_>) -> Result<Option<Comment>> {
        if self.kind != ReportSubjectKind::Comment {
            return Ok(None);
        }
        let id = parse_id(&self.id, "id")?;
        Ok(ctx
            .data_unchecked::<DataLoader<CommentLoader>>()
            .load_one(id)
            .await
            .or_internal()?
            .map(Comment))
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ModerationActionKind {
    TakeDown,
    Restore,
    Dismiss,
}

/// One moderator action, as the append-only log keeps it.
pub struct ModerationAction(pub(super) LoggedAction);

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

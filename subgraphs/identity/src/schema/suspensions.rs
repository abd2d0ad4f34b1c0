//! Suspensions (moderators): a suspended account cannot sign in or refresh,
//! its sessions are revoked, and the router refuses its operations on every
//! transport from the moment `suspendUser` returns (`suspended_set.rs`) until
//! the suspension ends or is lifted. docs/moderation.md.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ErrorExtensions, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Duration, Utc};
use nova_core::connection::PositionPage;
use nova_core::db::Db;
use nova_core::errors::{bad_input, checked_text, parse_id, OrInternal};
use nova_core::{Caller, ErrorCode};
use uuid::Uuid;

use crate::store::suspensions::{self, SuspensionAction};
use crate::suspended_set::SuspendedSet;

const MODERATOR: &str = "moderator";
const REASON_MAX_CHARS: usize = 500;
/// The longest suspension: a permanent ban is an account deletion.
const LONGEST: Duration = Duration::days(3650);

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum SuspensionActionKind {
    Suspend,
    Lift,
}

/// One suspend or lift, as identity's append-only list keeps it.
#[derive(SimpleObject)]
pub struct Suspension {
    pub id: ID,
    pub user_id: ID,
    pub action: SuspensionActionKind,
    /// When a suspension ends; null for a lift.
    pub until: Option<DateTime<Utc>>,
    pub reason: String,
    pub moderator_id: ID,
    pub at: DateTime<Utc>,
}

impl From<SuspensionAction> for Suspension {
    fn from(row: SuspensionAction) -> Self {
        Self {
            id: ID(row.id.to_string()),
            user_id: ID(row.account_id.to_string()),
            action: if row.action == "suspend" {
                SuspensionActionKind::Suspend
            } else {
                SuspensionActionKind::Lift
            },
            until: row.until,
            reason: row.reason,
            moderator_id: ID(row.moderator_id.to_string()),
            at: row.at,
        }
    }
}

/// `FORBIDDEN` (reason `ACCOUNT_SUSPENDED`, with `until`) while the account
/// is suspended: asked before a session starts or is refreshed.
pub(crate) async fn refuse_if_suspended(ctx: &Context<'_>, account: Uuid) -> Result<()> {
    let db = ctx.data_unchecked::<Db>();
    match suspensions::suspended(db, account).await.or_internal()? {
        None => Ok(()),
        Some((until, reason)) => Err(ErrorCode::Forbidden
            .error(format!("this account is suspended until {until}: {reason}"))
            .extend_with(|_, ext| {
                ext.set("reason", "ACCOUNT_SUSPENDED");
                ext.set("until", until.to_rfc3339());
            })),
    }
}

async fn record(
    ctx: &Context<'_>,
    user_id: &ID,
    until: Option<DateTime<Utc>>,
    reason: &str,
) -> Result<Suspension> {
    let moderator = Caller::of(ctx).require_scope(MODERATOR)?;
    let reason = checked_text("reason", reason, REASON_MAX_CHARS)?;
    let account = parse_id(user_id, "userId")?;
    if account == moderator {
        return Err(bad_input("userId", "a moderator cannot suspend themselves"));
    }
    let db = ctx.data_unchecked::<Db>();
    let set = ctx.data_unchecked::<SuspendedSet>();
    // Redis first, inside the transaction: when it cannot be written nothing
    // is recorded and the moderator is told to retry.
    let publish = || async {
        match until {
            Some(until) => set.add(account, until).await,
            None => set.remove(account).await,
        }
    };
    match suspensions::record(db, account, until, &reason, moderator, publish).await {
        Ok(Some(action)) => Ok(action.into()),
        Ok(None) => Err(ErrorCode::NotFound.error("no such user")),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "suspension not recorded");
            Err(ErrorCode::Unavailable.error("the suspension could not be applied; try again"))
        }
    }
}

#[derive(Default)]
pub struct SuspensionQuery;

#[Object]
impl SuspensionQuery {
    /// Every suspend and lift, newest first (moderators).
    #[graphql(requires_scopes = "moderator")]
    async fn suspension_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Suspension>> {
        Caller::of(ctx).require_scope(MODERATOR)?;
        let page = PositionPage::new(first, after.as_deref())?;
        let rows = suspensions::log(ctx.data_unchecked::<Db>(), page.after, page.limit())
            .await
            .or_internal()?;
        Ok(page.connection(rows.into_iter().map(|r| (r.id, r.into())).collect()))
    }
}

#[derive(Default)]
pub struct SuspensionMutation;

#[Object]
impl SuspensionMutation {
    /// Suspend an account until `until`: its sessions end, it cannot sign in,
    /// and the router refuses its operations from now on (moderators).
    #[graphql(requires_scopes = "moderator")]
    async fn suspend_user(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        until: DateTime<Utc>,
        reason: String,
    ) -> Result<Suspension> {
        let now = Utc::now();
        if until <= now || until > now + LONGEST {
            return Err(bad_input(
                "until",
                "until must be in the future, at most 3650 days ahead",
            ));
        }
        record(ctx, &user_id, Some(until), &reason).await
    }

    /// End an account's suspension now (moderators).
    #[graphql(requires_scopes = "moderator")]
    async fn lift_suspension(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        reason: String,
    ) -> Result<Suspension> {
        record(ctx, &user_id, None, &reason).await
    }
}

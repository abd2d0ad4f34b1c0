//! Admitting an operation: rate limits and suspensions, on every transport
//! (`NovaPlugin::admit`, called from `on_graphql_analysis` and `on_execute`).

use hive_router::executor::plugin_context::PluginContext;

use super::{ClientIp, NovaPlugin};
use crate::rate_limit::{Decision, RedisDownPolicy, Subject};
use crate::refusal::{Quota, Refusal};

impl NovaPlugin {
    /// Take one token from the operation's bucket: the signed-in user's (`user`,
    /// read from a verified token), else the connection address's, and the
    /// address's credentials bucket for a sign-in; refuse a suspended `user`
    /// (the same Redis script). `None`: go ahead.
    pub(super) async fn admit(
        &self,
        context: &PluginContext,
        user: Option<String>,
        signs_in: bool,
    ) -> Option<Refusal> {
        if !self.rate_limiter.enabled() {
            return None;
        }
        // Copied out: the context is a map whose entries lock their shard while
        // borrowed, and the check awaits Redis.
        let client_ip = context
            .get_ref::<ClientIp>()
            .map_or_else(|| "unknown".to_string(), |ip| ip.0.clone());
        let subject = match (&user, signs_in) {
            (_, true) => Subject::Credentials(&client_ip),
            (Some(sub), false) => Subject::User(sub),
            (None, false) => Subject::Anonymous(&client_ip),
        };
        match self
            .rate_limiter
            .check(&subject, user.as_deref(), 1.0)
            .await
        {
            Decision::Allowed {
                limit,
                remaining,
                refilled_in,
            } => {
                context.insert(Quota {
                    limit,
                    remaining,
                    reset_seconds: refilled_in.as_secs_f64().ceil() as u64,
                });
                None
            }
            Decision::RedisDown(RedisDownPolicy::Open) => None,
            Decision::Suspended => Some(Refusal::suspended()),
            Decision::Deleted => Some(Refusal::account_deleted()),
            Decision::Limited { limit, retry_after } => {
                Some(Refusal::rate_limited(limit, retry_after))
            }
            Decision::RedisDown(RedisDownPolicy::Closed) => Some(Refusal::limits_unavailable()),
        }
    }
}

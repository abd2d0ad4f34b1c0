//! The feed's settings, from the environment, checked at start.

use nova_core::config::{parsed_or, required, ConfigError};

#[derive(Clone, Debug)]
pub struct FeedSettings {
    /// Posts a timeline keeps (`FEED_TIMELINE_CAP`, 800).
    pub timeline_cap: usize,
    /// Accounts with at least this many followers are not fanned out; their
    /// posts are merged into pages at read time (`FEED_FAN_OUT_LIMIT`, 10 000).
    pub fan_out_limit: i64,
    /// Users who have not opened the feed for this many days are skipped by
    /// fan-out and rebuilt on their next read (`FEED_INACTIVE_DAYS`, 30).
    pub inactive_days: i64,
    /// content's base URL, for `/internal/posts/*` (`CONTENT_SERVICE_URL`).
    pub content_url: String,
    /// A FOR_YOU first page within this many seconds of the viewer's last
    /// ranking shows that ranking again instead of making a new one
    /// (`FEED_FOR_YOU_REUSE_SECONDS`, 30; 0: every first page ranks anew).
    pub for_you_reuse_seconds: u64,
    /// social's base URL, for `/internal/graph/export` (`SOCIAL_SERVICE_URL`).
    pub social_url: String,
}

impl FeedSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let settings = Self {
            timeline_cap: parsed_or("FEED_TIMELINE_CAP", 800)?,
            fan_out_limit: parsed_or("FEED_FAN_OUT_LIMIT", 10_000)?,
            inactive_days: parsed_or("FEED_INACTIVE_DAYS", 30)?,
            for_you_reuse_seconds: parsed_or("FEED_FOR_YOU_REUSE_SECONDS", 30)?,
            content_url: required(
                "CONTENT_SERVICE_URL",
                "the content subgraph's base URL (http://host:port), which the feed asks which posts it still serves",
            )?,
            social_url: required(
                "SOCIAL_SERVICE_URL",
                "the social subgraph's base URL (http://host:port), from which a new feed copies the social graph",
            )?,
        };
        for (name, ok) in [
            ("FEED_TIMELINE_CAP", settings.timeline_cap >= 1),
            ("FEED_FAN_OUT_LIMIT", settings.fan_out_limit >= 1),
            ("FEED_INACTIVE_DAYS", settings.inactive_days >= 1),
        ] {
            if !ok {
                return Err(ConfigError::Malformed {
                    name: name.into(),
                    value: "<below 1>".into(),
                    reason: "must be at least 1".into(),
                });
            }
        }
        Ok(settings)
    }

    /// Timelines expire after the inactivity window (each read renews them).
    pub fn timeline_ttl_seconds(&self) -> i64 {
        self.inactive_days * 24 * 3600
    }
}

//! analytics' settings, from the environment, checked at start.

use std::time::Duration;

use nova_core::config::{optional, parsed_or, required, ConfigError};

#[derive(Clone, Debug)]
pub struct AnalyticsSettings {
    /// ClickHouse's HTTP interface (`CLICKHOUSE_URL`, `http://host:8123`).
    pub clickhouse_url: String,
    /// The database the tables live in (`CLICKHOUSE_DATABASE`, `nova_analytics`;
    /// created if missing).
    pub clickhouse_database: String,
    /// Credentials, if the server asks for them (`CLICKHOUSE_USER`,
    /// `CLICKHOUSE_PASSWORD`).
    pub clickhouse_user: Option<String>,
    pub clickhouse_password: Option<String>,
    /// Events one insert carries at most (`ANALYTICS_BATCH_MAX_EVENTS`, 5 000).
    pub batch_max_events: usize,
    /// How long a batch waits for more events after its first
    /// (`ANALYTICS_BATCH_LINGER_MS`, 1 000): each insert is a part on disk
    /// that background merges rewrite, so ClickHouse wants about one insert
    /// a second per table, not one per few events.
    pub batch_linger: Duration,
    /// How often the feed's ranking features are recomputed
    /// (`ANALYTICS_FEATURES_INTERVAL_MS`, 5 000).
    pub features_interval: Duration,
    /// content's base URL: post authors, and which posts it serves now.
    pub content_url: String,
    /// social's base URL: blocks, for `trendingPosts`.
    pub social_url: String,
}

impl AnalyticsSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let settings = Self {
            clickhouse_url: required(
                "CLICKHOUSE_URL",
                "ClickHouse's HTTP interface (http://host:8123), where analytics keeps its events",
            )?,
            clickhouse_database: optional("CLICKHOUSE_DATABASE")
                .unwrap_or_else(|| "nova_analytics".to_string()),
            clickhouse_user: optional("CLICKHOUSE_USER"),
            clickhouse_password: optional("CLICKHOUSE_PASSWORD"),
            batch_max_events: parsed_or("ANALYTICS_BATCH_MAX_EVENTS", 5_000)?,
            batch_linger: Duration::from_millis(parsed_or("ANALYTICS_BATCH_LINGER_MS", 1_000)?),
            features_interval: Duration::from_millis(parsed_or(
                "ANALYTICS_FEATURES_INTERVAL_MS",
                5_000,
            )?),
            content_url: required(
                "CONTENT_SERVICE_URL",
                "the content subgraph's base URL (http://host:port): post authors, and which posts it serves",
            )?,
            social_url: required(
                "SOCIAL_SERVICE_URL",
                "the social subgraph's base URL (http://host:port): blocks, for trending posts",
            )?,
        };
        let database_is_a_name = !settings.clickhouse_database.is_empty()
            && settings
                .clickhouse_database
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !database_is_a_name {
            return Err(ConfigError::Malformed {
                name: "CLICKHOUSE_DATABASE".into(),
                value: settings.clickhouse_database.clone(),
                reason: "must be letters, digits and _".into(),
            });
        }
        if settings.batch_max_events == 0 {
            return Err(ConfigError::Malformed {
                name: "ANALYTICS_BATCH_MAX_EVENTS".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(settings)
    }
}

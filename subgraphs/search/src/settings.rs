//! The search subgraph's settings, from the environment, checked at start.

use std::path::PathBuf;

use nova_core::config::{optional, required, ConfigError};

#[derive(Clone, Debug)]
pub struct SearchSettings {
    /// Where this instance keeps its index (`SEARCH_INDEX_PATH`, default
    /// `.nova/search/<instance>`).
    pub index_path: PathBuf,
    /// This instance's name (`SEARCH_INSTANCE`, default `main`): its consumer
    /// group is `nova.search.index.<instance>`, so each instance fills its own
    /// index from every event.
    pub instance: String,
    /// Base URLs of the owners (`IDENTITY_SERVICE_URL`, `USERS_SERVICE_URL`,
    /// `CONTENT_SERVICE_URL`, `SOCIAL_SERVICE_URL`).
    pub identity_url: String,
    pub users_url: String,
    pub content_url: String,
    pub social_url: String,
}

fn owner(name: &str, what: &str) -> Result<String, ConfigError> {
    required(
        name,
        &format!("the {what} subgraph's base URL (http://host:port), for its /internal/ routes"),
    )
}

impl SearchSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let instance = optional("SEARCH_INSTANCE").unwrap_or_else(|| "main".into());
        if !instance
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(ConfigError::Malformed {
                name: "SEARCH_INSTANCE".into(),
                value: instance,
                reason: "letters, digits and '-' only".into(),
            });
        }
        let index_path = optional("SEARCH_INDEX_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".nova/search").join(&instance));
        Ok(Self {
            index_path,
            instance,
            identity_url: owner("IDENTITY_SERVICE_URL", "identity")?,
            users_url: owner("USERS_SERVICE_URL", "users")?,
            content_url: owner("CONTENT_SERVICE_URL", "content")?,
            social_url: owner("SOCIAL_SERVICE_URL", "social")?,
        })
    }
}

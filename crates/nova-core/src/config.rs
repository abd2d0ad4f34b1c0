//! Configuration from environment variables. A missing or malformed variable stops
//! the process with a message that names it.

use std::fmt::Display;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {name}: {hint}")]
    Missing { name: String, hint: String },
    #[error("environment variable {name} is malformed ({value:?}): {reason}")]
    Malformed {
        name: String,
        value: String,
        reason: String,
    },
}

/// A variable that must be set (and not empty).
pub fn required(name: &str, hint: &str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::Missing {
            name: name.to_string(),
            hint: hint.to_string(),
        }),
    }
}

/// A variable that may be absent; an empty value counts as absent.
pub fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A variable parsed into `T`, with a default when it is absent.
pub fn parsed_or<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match optional(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Malformed {
                name: name.to_string(),
                value,
                reason: e.to_string(),
            }),
    }
}

/// Settings every subgraph process needs.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// The service name used in logs, traces and metrics (`identity`, `users`, ...).
    pub service_name: String,
    pub host: String,
    pub port: u16,
    pub database_url: String,
    pub database_max_connections: u32,
    /// The separate pool of background work (relay, consumers, index writers).
    pub database_background_connections: u32,
    /// The secret the router adds to every subgraph request (see `caller`).
    pub router_secret: String,
}

impl ServiceConfig {
    pub fn from_env(service_name: &str, default_port: u16) -> Result<Self, ConfigError> {
        let router_secret = required(
            "NOVA_ROUTER_SECRET",
            "the shared secret the router sends to subgraphs (at least 32 characters)",
        )?;
        if router_secret.len() < 32 {
            return Err(ConfigError::Malformed {
                name: "NOVA_ROUTER_SECRET".into(),
                value: "<hidden>".into(),
                reason: "must be at least 32 characters".into(),
            });
        }
        Ok(Self {
            service_name: service_name.to_string(),
            host: optional("HTTP_HOST").unwrap_or_else(|| "127.0.0.1".to_string()),
            port: parsed_or("HTTP_PORT", default_port)?,
            database_url: required(
                "DATABASE_URL",
                "the Postgres URL of this subgraph's own database",
            )?,
            database_max_connections: parsed_or("DATABASE_MAX_CONNECTIONS", 10)?,
            database_background_connections: parsed_or("DATABASE_BACKGROUND_CONNECTIONS", 4)?,
            router_secret,
        })
    }
}

/// Print a configuration error and stop the process: nothing can run without it.
pub fn exit_on_error<T>(result: Result<T, ConfigError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => {
            eprintln!("configuration error: {error}");
            std::process::exit(2);
        }
    }
}

/// `MODERATION_RETENTION_DAYS` (default 365): how long moderation records —
/// content's moderation log, identity's suspensions of deleted accounts and
/// its list of deleted accounts — are kept (docs/deletion.md).
pub fn moderation_retention() -> Result<chrono::Duration, ConfigError> {
    Ok(chrono::Duration::days(parsed_or(
        "MODERATION_RETENTION_DAYS",
        365,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_number_names_the_variable() {
        // A name no other test uses, so tests running in parallel cannot interfere.
        std::env::set_var("NOVA_TEST_MALFORMED_PORT", "eighty");
        let error = parsed_or::<u16>("NOVA_TEST_MALFORMED_PORT", 1).unwrap_err();
        assert!(error.to_string().contains("NOVA_TEST_MALFORMED_PORT"));
        assert!(error.to_string().contains("malformed"));
    }

    #[test]
    fn missing_variable_names_the_variable() {
        let error = required("NOVA_TEST_SURELY_UNSET", "why it matters").unwrap_err();
        assert_eq!(
            error.to_string(),
            "missing environment variable NOVA_TEST_SURELY_UNSET: why it matters"
        );
    }
}

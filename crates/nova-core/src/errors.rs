//! GraphQL error codes shared by every subgraph (`extensions.code`). Internal errors
//! are logged in full and reach the client only as a generic message.

use std::any::Any;
use std::sync::Arc;

use async_graphql::ErrorExtensions;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    BadUserInput,
    NotFound,
    RateLimited,
    /// A dependency the operation needs is down for now; retry later.
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// A GraphQL error with this code and a message meant for the client.
    pub fn error(self, message: impl Into<String>) -> async_graphql::Error {
        async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", self.as_str()))
    }
}

/// A bad-input error that also names the offending argument in `extensions.field`.
pub fn bad_input(field: &str, message: impl Into<String>) -> async_graphql::Error {
    let field = field.to_string();
    ErrorCode::BadUserInput
        .error(message)
        .extend_with(|_, ext| ext.set("field", field.as_str()))
}

/// Trim a text argument and check it: not empty, at most `max` characters;
/// `BAD_USER_INPUT` naming `field` else.
pub fn checked_text(field: &str, text: &str, max: usize) -> async_graphql::Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(bad_input(field, format!("{field} must not be empty")));
    }
    if text.chars().count() > max {
        return Err(bad_input(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(text.to_string())
}

/// Parse an `ID` argument as a UUID, or `BAD_USER_INPUT` naming the argument.
pub fn parse_id(id: &str, argument: &str) -> async_graphql::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(id).map_err(|_| bad_input(argument, format!("{argument} is not an id")))
}

/// Log an unexpected failure and hand the client a generic `INTERNAL` error —
/// or `UNAVAILABLE` when the failure is the database being out of reach (down,
/// restarting, no connection free in time): a client may retry that, and it is
/// no bug of ours.
pub fn internal(error: impl std::fmt::Display + 'static) -> async_graphql::Error {
    if database_unreachable(&error) {
        tracing::warn!(%error, "database unavailable");
        return ErrorCode::Unavailable.error("the database is unavailable; try again shortly");
    }
    tracing::error!(%error, "internal error");
    ErrorCode::Internal.error("internal error")
}

/// Is `error` (a `sqlx::Error`, as loaders share it in an `Arc`, or inside an
/// `anyhow::Error`) a failure to reach the database rather than a failing
/// statement?
fn database_unreachable(error: &dyn Any) -> bool {
    let sqlx_error = error
        .downcast_ref::<sqlx::Error>()
        .or_else(|| error.downcast_ref::<Arc<sqlx::Error>>().map(Arc::as_ref))
        .or_else(|| {
            error
                .downcast_ref::<anyhow::Error>()
                .and_then(|e| e.downcast_ref::<sqlx::Error>())
        });
    sqlx_error.is_some_and(is_unreachable)
}

/// Connection failures, pool exhaustion, and the SQLSTATEs of a server going
/// away or not accepting connections yet (class 08; 57P01–57P03: shutdown,
/// crash shutdown, starting up).
pub fn is_unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
        _ => false,
    }
}

/// `?` on a database call inside a resolver: logs and hides the details.
pub trait OrInternal<T> {
    fn or_internal(self) -> async_graphql::Result<T>;
}

impl<T, E: std::fmt::Display + 'static> OrInternal<T> for Result<T, E> {
    fn or_internal(self) -> async_graphql::Result<T> {
        self.map_err(internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(checked_text("body", "  hi  ", 10).unwrap(), "hi");
        assert!(checked_text("body", "   ", 10).is_err());
        assert!(checked_text("body", &"é".repeat(11), 10).is_err());
        assert!(checked_text("body", &"é".repeat(10), 10).is_ok());
    }

    fn code(error: &async_graphql::Error) -> String {
        error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn an_unreachable_database_is_unavailable_and_anything_else_internal() {
        assert_eq!(
            code(&internal(sqlx::Error::PoolTimedOut)),
            "\"UNAVAILABLE\""
        );
        assert_eq!(
            code(&internal(Arc::new(sqlx::Error::PoolClosed))),
            "\"UNAVAILABLE\""
        );
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(
            code(&internal(anyhow::Error::from(sqlx::Error::Io(io)))),
            "\"UNAVAILABLE\""
        );
        assert_eq!(code(&internal(sqlx::Error::RowNotFound)), "\"INTERNAL\"");
        assert_eq!(code(&internal("a bug".to_string())), "\"INTERNAL\"");
    }
}

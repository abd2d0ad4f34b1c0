//! GraphQL error codes shared by every subgraph (`extensions.code`). Internal errors
//! are logged in full and reach the client only as a generic message.

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

/// Parse an `ID` argument as a UUID, or `BAD_USER_INPUT` naming the argument.
pub fn parse_id(id: &str, argument: &str) -> async_graphql::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(id).map_err(|_| bad_input(argument, format!("{argument} is not an id")))
}

/// Log an unexpected failure and hand the client a generic `INTERNAL` error.
pub fn internal(error: impl std::fmt::Display) -> async_graphql::Error {
    tracing::error!(%error, "internal error");
    ErrorCode::Internal.error("internal error")
}

/// `?` on a database call inside a resolver: logs and hides the details.
pub trait OrInternal<T> {
    fn or_internal(self) -> async_graphql::Result<T>;
}

impl<T, E: std::fmt::Display> OrInternal<T> for Result<T, E> {
    fn or_internal(self) -> async_graphql::Result<T> {
        self.map_err(internal)
    }
}

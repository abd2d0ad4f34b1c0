//! The answers of operations the plugin refuses, on every transport.
//!
//! A refusal from `on_execute` is an early HTTP response. One from
//! `on_graphql_analysis` (subscriptions, and the checks every operation gets) is
//! a body and a status: on a WebSocket that body is the operation's one `next`
//! message, followed by `complete`; over HTTP Hive Router 0.2.19 would answer an
//! SSE client's refused subscription with `UNSUPPORTED_CONTENT_TYPE`, so the
//! refusal is also left in the request's plugin context and `on_http_request`'s
//! end hook answers with it: status, headers and JSON body, whatever the
//! client accepts.

use std::time::Duration;

use hive_router::executor::hooks::on_execute::OnExecuteResponse;
use hive_router::executor::hooks::on_graphql_analysis::OnGraphqlAnalysisHookResult;
use hive_router::executor::plugin_context::PluginContext;
use hive_router::executor::plugin_trait::EarlyHTTPResponse;
use hive_router::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use hive_router::ntex::http::Response;
use hive_router::{GraphQLError, PlanExecutionOutput};

/// What a client that sent no or the wrong request content type is told.
pub const UNSUPPORTED_CONTENT_TYPE_MESSAGE: &str =
    "send the request body as JSON with the header `Content-Type: application/json` \
     (or the operation as query parameters of a GET)";

/// A refused operation: what the client is told, and how over HTTP.
#[derive(Clone)]
pub struct Refusal {
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    error: GraphQLError,
}

impl Refusal {
    fn new(status: StatusCode, error: GraphQLError) -> Self {
        Self {
            status,
            headers: Vec::new(),
            error,
        }
    }

    /// A token was presented and failed verification.
    pub fn invalid_token() -> Self {
        let mut error = GraphQLError::from_message_and_code(
            "the access token is invalid or expired; refresh the session or sign in again",
            "UNAUTHENTICATED",
        );
        error
            .extensions
            .extensions
            .insert("reason".to_string(), "INVALID_TOKEN".into());
        Self::new(StatusCode::UNAUTHORIZED, error)
    }

    pub fn too_many_root_fields(selected: usize, allowed: usize) -> Self {
        let error = GraphQLError::from_message_and_code(
            format!("the operation selects {selected} root fields; at most {allowed} are allowed"),
            "MAX_ROOT_FIELDS_EXCEEDED",
        );
        Self::new(StatusCode::BAD_REQUEST, error)
    }

    /// The subject's bucket is empty: retry after `retry_after`, in whole
    /// seconds (at least one), in the error and the headers alike.
    pub fn rate_limited(limit: f64, retry_after: Duration) -> Self {
        let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
        let mut error = GraphQLError::from_message_and_code(
            format!("too many requests; retry in {seconds} s"),
            "RATE_LIMITED",
        );
        error
            .extensions
            .extensions
            .insert("retryAfter".to_string(), seconds.into());
        let quota = Quota {
            limit,
            remaining: 0,
            reset_seconds: seconds,
        };
        let mut headers = vec![("retry-after", seconds.to_string())];
        headers.extend(quota.headers());
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            headers,
            error,
        }
    }

    /// A moderator suspended the account (identity's `suspendUser`): every
    /// operation is refused until the suspension ends or is lifted.
    pub fn suspended() -> Self {
        let mut error =
            GraphQLError::from_message_and_code("this account is suspended", "FORBIDDEN");
        error
            .extensions
            .extensions
            .insert("reason".to_string(), "ACCOUNT_SUSPENDED".into());
        Self::new(StatusCode::FORBIDDEN, error)
    }

    /// The token's account was deleted (its owner's `deleteAccount`).
    pub fn account_deleted() -> Self {
        let mut error =
            GraphQLError::from_message_and_code("this account was deleted", "UNAUTHENTICATED");
        error
            .extensions
            .extensions
            .insert("reason".to_string(), "ACCOUNT_DELETED".into());
        Self::new(StatusCode::UNAUTHORIZED, error)
    }

    /// Redis is unreachable and the policy is to refuse.
    pub fn limits_unavailable() -> Self {
        let error = GraphQLError::from_message_and_code(
            "rate limits cannot be checked right now; try again shortly",
            "RATE_LIMITED",
        );
        Self::new(StatusCode::SERVICE_UNAVAILABLE, error)
    }

    fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "errors": [self.error] })).unwrap_or_default()
    }

    /// The answer of `on_graphql_analysis`; over HTTP the end hook replaces the
    /// router's response with `http_response`.
    pub fn end_analysis(self, context: &PluginContext) -> OnGraphqlAnalysisHookResult {
        let output = PlanExecutionOutput {
            body: self.body(),
            error_count: 1,
            status_code: self.status,
        };
        context.insert(self);
        OnGraphqlAnalysisHookResult::EndWithResponse(output)
    }

    /// The answer of `on_execute`: an early HTTP response.
    pub fn end_execute(self) -> OnExecuteResponse {
        let mut headers = HeaderMap::new();
        headers.insert(
            hive_router::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        OnExecuteResponse::EarlyResponse(EarlyHTTPResponse {
            body: self.body(),
            headers,
            status_code: self.status,
        })
    }

    /// A document of several operations and no `operationName`: which to run?
    pub fn operation_name_required(operations: usize) -> Self {
        let error = GraphQLError::from_message_and_code(
            format!(
                "the document holds {operations} operations; name the one to run in `operationName`"
            ),
            "OPERATION_RESOLUTION_FAILURE",
        );
        Self::new(StatusCode::BAD_REQUEST, error)
    }

    /// A path the router does not serve.
    pub fn not_found() -> Self {
        let error = GraphQLError::from_message_and_code(
            "nothing is served here: GraphQL is at /graphql (WebSocket: /ws)",
            "NOT_FOUND",
        );
        Self::new(StatusCode::NOT_FOUND, error)
    }

    /// A POST without `Content-Type`. Hive Router would call it a CSRF attempt
    /// (403) or answer 406; the client needs to know what to send.
    pub fn missing_content_type() -> Self {
        let error = GraphQLError::from_message_and_code(
            UNSUPPORTED_CONTENT_TYPE_MESSAGE,
            "UNSUPPORTED_CONTENT_TYPE",
        );
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, error)
    }

    /// The HTTP response of a refusal left in the context by `end_analysis`.
    pub fn http_response(context: &PluginContext) -> Option<Response> {
        let refusal = context.get_ref::<Refusal>()?.clone();
        Some(refusal.to_http())
    }

    /// This refusal as an HTTP response: status, headers, JSON body.
    pub fn to_http(&self) -> Response {
        let mut response = Response::build(self.status);
        response.content_type("application/json");
        for (name, value) in &self.headers {
            response.header(*name, value.as_str());
        }
        response.body(self.body())
    }
}

/// The caller's bucket after an admitted operation, told in the `RateLimit-*`
/// headers of every HTTP answer (a WebSocket has no per-operation headers). Left
/// in the plugin context by the check; `on_http_request`'s end hook adds it.
#[derive(Clone, Debug)]
pub struct Quota {
    pub limit: f64,
    pub remaining: i64,
    /// Seconds until the bucket is full again.
    pub reset_seconds: u64,
}

impl Quota {
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("ratelimit-limit", format!("{}", self.limit)),
            ("ratelimit-remaining", self.remaining.max(0).to_string()),
            ("ratelimit-reset", self.reset_seconds.to_string()),
        ]
    }

    /// The quota an earlier hook of this request left in `context`.
    pub fn of(context: &PluginContext) -> Option<Quota> {
        context.get_ref::<Quota>().map(|quota| quota.clone())
    }
}

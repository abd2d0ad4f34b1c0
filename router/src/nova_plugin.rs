//! The `nova` router plugin.
//!
//! 1. Checks at start that the router secret is set and long enough. The
//!    `headers:` rule in `router.yaml` adds it to every subgraph request (HTTP,
//!    and the `connection_init` of subscription WebSockets); subgraphs believe the
//!    forwarded JWT claims (`extensions.jwt`) only with it, so a client calling a
//!    subgraph directly cannot act as someone else.
//! 2. Refuses a request whose bearer token failed verification (expired, bad
//!    signature, wrong issuer, ...) with HTTP 401 and `UNAUTHENTICATED`. Hive
//!    Router, with `require_authentication: false`, would otherwise serve it as
//!    anonymous, and the client could not tell "refresh your token" from "sign in".
//! 3. Gives the router's refusals Nova's error codes, with the router's own code
//!    kept in `extensions.reason`: authentication failures (`MISSING_JWT`,
//!    `INVALID_JWT`, `UNAUTHORIZED_FIELD_OR_TYPE`, ...) become `UNAUTHENTICATED`,
//!    so clients handle one code whatever failed; an unknown persisted-query id
//!    becomes `PERSISTED_QUERY_NOT_FOUND` (the client resends with the body in
//!    development) and an operation outside the safelist `OPERATION_NOT_ALLOWED`.
//! 4. Enforces the rate limits (`rate_limit`): HTTP 429, `RATE_LIMITED`,
//!    `RateLimit-*` and `Retry-After` headers. The client IP is the peer address,
//!    stamped on the request as it arrives so a client cannot choose it.

use hive_router::executor::hooks::on_execute::{
    OnExecuteResponse, OnExecuteStartHookPayload, OnExecuteStartHookResult,
};
use hive_router::executor::hooks::on_graphql_error::{
    OnGraphQLErrorHookPayload, OnGraphQLErrorHookResult,
};
use hive_router::executor::hooks::on_http_request::{
    OnHttpRequestHookFuture, OnHttpRequestHookPayload,
};
use hive_router::executor::hooks::on_plugin_init::{OnPluginInitPayload, OnPluginInitResult};
use hive_router::executor::plugin_trait::{EarlyHTTPResponse, RouterPlugin, StartHookPayload};
use hive_router::http::{header::AUTHORIZATION, HeaderMap, HeaderValue, StatusCode};
use hive_router::ntex::http::header::ORIGIN;
use hive_router::GraphQLError;
use serde::Deserialize;

use crate::operation::{root_field_count, selects_any};
use crate::rate_limit::{
    Decision, RateLimitConfig, RateLimiter, RedisDownPolicy, Subject, CLIENT_IP_HEADER,
    CREDENTIAL_FIELDS,
};

/// Router error codes that mean "we do not know who you are".
const UNAUTHENTICATED_CODES: &[&str] = &[
    "MISSING_JWT",
    "INVALID_JWT",
    "INVALID_JWT_HEADER",
    "JWT_NOT_SUPPORTED",
    "JWK_ALGORITHM_NOT_SUPPORTED",
    "JWT_LOOKUP_FAILED",
    // Nova marks fields with `@authenticated` only (no `@requiresScopes` yet), so a
    // field refused by the authorization directives means "sign in first".
    "UNAUTHORIZED_FIELD_OR_TYPE",
];

/// Nova's code for a router error code, when Nova has its own.
fn nova_code(router_code: &str) -> Option<&'static str> {
    match router_code {
        code if UNAUTHENTICATED_CODES.contains(&code) => Some("UNAUTHENTICATED"),
        "PERSISTED_DOCUMENT_NOT_FOUND" => Some("PERSISTED_QUERY_NOT_FOUND"),
        // Safelist mode and a request without a manifest id.
        "PERSISTED_DOCUMENT_ID_REQUIRED" => Some("OPERATION_NOT_ALLOWED"),
        _ => None,
    }
}

#[derive(Deserialize)]
pub struct NovaPluginConfig {
    /// `{ from_env: NOVA_ROUTER_SECRET }`, the value the `headers:` rule sends;
    /// only checked here.
    router_secret: String,
    rate_limits: RateLimitConfig,
    /// Most root fields one operation may select (hive limits depth, aliases,
    /// tokens and directives itself).
    max_root_fields: crate::rate_limit::Lenient<usize>,
}

pub struct NovaPlugin {
    rate_limiter: RateLimiter,
    max_root_fields: usize,
}

#[hive_router::async_trait]
impl RouterPlugin for NovaPlugin {
    type Config = NovaPluginConfig;

    fn plugin_name() -> &'static str {
        "nova"
    }

    fn on_plugin_init(payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        let config = payload.config().map_err(|e| {
            format!("plugins.nova.config.router_secret (NOVA_ROUTER_SECRET) is required: {e}")
        })?;
        if config.router_secret.len() < 32 {
            return Err("NOVA_ROUTER_SECRET must be at least 32 characters".into());
        }
        if !config.router_secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("NOVA_ROUTER_SECRET must be printable ASCII".into());
        }
        let rate_limiter = RateLimiter::new(config.rate_limits)?;
        payload.initialize_plugin(NovaPlugin {
            rate_limiter,
            max_root_fields: config.max_root_fields.0,
        })
    }

    fn on_http_request<'req>(
        &'req self,
        mut payload: OnHttpRequestHookPayload<'req>,
    ) -> OnHttpRequestHookFuture<'req> {
        Box::pin(async move {
            let request = &mut payload.router_http_request;
            let peer = request
                .peer_addr()
                .map(|address| address.ip().to_string())
                .unwrap_or_else(|| "unknown".to_string());
            // Replaces whatever the client sent under this name.
            if let Ok(value) = hive_router::ntex::http::header::HeaderValue::from_str(&peer) {
                let name =
                    hive_router::ntex::http::header::HeaderName::from_static(CLIENT_IP_HEADER);
                request.headers_mut().insert(name, value);
            }
            // `Origin: null` (sandboxed frames, file: pages, some redirects) is no
            // origin anyone configured, but Hive answers every unmatched origin
            // with `Access-Control-Allow-Origin: null`, which a browser reads as a
            // grant for exactly that origin. Without the header the request is
            // answered as for a non-browser client: no CORS grant at all.
            if request.headers().get(ORIGIN).map(|o| o.as_bytes()) == Some(b"null".as_slice()) {
                request.headers_mut().remove(ORIGIN);
            }
            if request.path() == HEALTH_PATH {
                return payload.end_with_response(self.health_response());
            }
            if request.path() == METRICS_PATH {
                let text = self.rate_limiter.render_metrics();
                return payload.end_with_response(
                    hive_router::ntex::http::Response::Ok()
                        .content_type("text/plain; version=0.0.4")
                        .body(text),
                );
            }
            payload.proceed()
        })
    }

    async fn on_execute<'exec>(
        &'exec self,
        payload: OnExecuteStartHookPayload<'exec>,
    ) -> OnExecuteStartHookResult<'exec> {
        let headers = payload.router_http_request.headers;
        // Reading the request context takes a snapshot of it: only do that when a
        // token was presented at all. `Some(false)`: the router looked for a
        // verified token and found none.
        let verified = if headers.contains_key(AUTHORIZATION) {
            payload
                .request_context
                .read()
                .ok()
                .and_then(|context| context.authentication().jwt_status().copied())
        } else {
            None
        };
        if verified == Some(false) {
            let mut error = GraphQLError::from_message_and_code(
                "the access token is invalid or expired; refresh the session or sign in again",
                "UNAUTHENTICATED",
            );
            error
                .extensions
                .extensions
                .insert("reason".to_string(), "INVALID_TOKEN".into());
            return payload.end_with_graphql_error(error, StatusCode::UNAUTHORIZED);
        }
        let root_fields = root_field_count(&payload.operation_for_plan.selection_set);
        if root_fields > self.max_root_fields {
            let error = GraphQLError::from_message_and_code(
                format!(
                    "the operation selects {root_fields} root fields; at most {} are allowed",
                    self.max_root_fields
                ),
                "MAX_ROOT_FIELDS_EXCEEDED",
            );
            return payload.end_with_graphql_error(error, StatusCode::BAD_REQUEST);
        }
        if !self.rate_limiter.enabled() {
            return payload.proceed();
        }
        let client_ip = headers
            .get(CLIENT_IP_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown");
        let signs_in = selects_any(
            &payload.operation_for_plan.selection_set,
            CREDENTIAL_FIELDS,
            payload.variable_values,
        );
        // The token was verified by the router (`Some(true)`), so its `sub` is
        // trustworthy; reading it needs no second signature check.
        let user = match verified {
            Some(true) => bearer_subject(headers),
            _ => None,
        };
        let subject = match (&user, signs_in) {
            (_, true) => Subject::Credentials(client_ip),
            (Some(sub), false) => Subject::User(sub),
            (None, false) => Subject::Anonymous(client_ip),
        };
        match self.rate_limiter.check(&subject, 1.0).await {
            Decision::Allowed { .. } | Decision::RedisDown(RedisDownPolicy::Open) => {
                payload.proceed()
            }
            Decision::Limited { limit, retry_after } => {
                let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                let mut headers = HeaderMap::new();
                for (name, value) in [
                    ("retry-after", seconds.to_string()),
                    ("ratelimit-limit", format!("{limit}")),
                    ("ratelimit-remaining", "0".to_string()),
                    ("ratelimit-reset", seconds.to_string()),
                ] {
                    if let Ok(value) = HeaderValue::from_str(&value) {
                        headers.insert(name, value);
                    }
                }
                let error = GraphQLError::from_message_and_code(
                    format!("too many requests; retry in {seconds} s"),
                    "RATE_LIMITED",
                );
                payload.end_with_response(early_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    headers,
                    error,
                ))
            }
            Decision::RedisDown(RedisDownPolicy::Closed) => {
                let error = GraphQLError::from_message_and_code(
                    "rate limits cannot be checked right now; try again shortly",
                    "RATE_LIMITED",
                );
                payload.end_with_response(early_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    HeaderMap::new(),
                    error,
                ))
            }
        }
    }

    fn on_graphql_error<'req>(
        &'req self,
        mut payload: OnGraphQLErrorHookPayload<'req>,
    ) -> OnGraphQLErrorHookResult<'req> {
        let extensions = &mut payload.error.extensions;
        if let Some(code) = extensions.code.as_deref() {
            if let Some(nova) = nova_code(code) {
                let reason = code.to_string();
                extensions
                    .extensions
                    .insert("reason".to_string(), reason.as_str().into());
                extensions.code = Some(nova.to_string());
            }
        }
        payload.proceed()
    }
}

/// Where the plugin reports its own health (the rate limiter's Redis).
const HEALTH_PATH: &str = "/health/nova";
/// The plugin's Prometheus metrics (the router's own are its telemetry's).
const METRICS_PATH: &str = "/metrics/nova";

impl NovaPlugin {
    fn health_response(&self) -> hive_router::ntex::http::Response {
        let limiter = &self.rate_limiter;
        let body = serde_json::json!({
            "rate_limits": {
                "enabled": limiter.enabled(),
                "redis": if limiter.redis_healthy() { "up" } else { "down" },
                "when_redis_is_down": format!("{:?}", limiter.policy()).to_lowercase(),
                "redis_errors": limiter.redis_errors.get(),
                "limited": limiter.limited.with_label_values(&["user"]).get()
                    + limiter.limited.with_label_values(&["anonymous"]).get()
                    + limiter.limited.with_label_values(&["credentials"]).get(),
            }
        });
        hive_router::ntex::http::Response::Ok()
            .content_type("application/json")
            .body(body.to_string())
    }
}

/// A GraphQL error response sent before execution, with `headers`.
fn early_response(
    status: StatusCode,
    mut headers: HeaderMap,
    error: GraphQLError,
) -> OnExecuteResponse {
    headers.insert(
        hive_router::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = serde_json::to_vec(&serde_json::json!({ "errors": [error] })).unwrap_or_default();
    OnExecuteResponse::EarlyResponse(EarlyHTTPResponse {
        body,
        headers,
        status_code: status,
    })
}

/// The `sub` claim of the bearer token (already verified by the router).
fn bearer_subject(headers: &hive_router::ntex::http::HeaderMap) -> Option<String> {
    use base64::Engine;
    let token = headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let claims = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_string)
}

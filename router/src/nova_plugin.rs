//! The `nova` router plugin.
//!
//! 1. Adds `x-nova-router-secret` to every subgraph request. Subgraphs believe the
//!    forwarded JWT claims (`extensions.jwt`) only with this header, so a client
//!    calling a subgraph directly cannot act as someone else.
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

use hive_router::executor::hooks::on_execute::{
    OnExecuteStartHookPayload, OnExecuteStartHookResult,
};
use hive_router::executor::hooks::on_graphql_error::{
    OnGraphQLErrorHookPayload, OnGraphQLErrorHookResult,
};
use hive_router::executor::hooks::on_plugin_init::{OnPluginInitPayload, OnPluginInitResult};
use hive_router::executor::hooks::on_subgraph_http_request::{
    OnSubgraphHttpRequestHookPayload, OnSubgraphHttpRequestHookResult,
};
use hive_router::executor::plugin_trait::{RouterPlugin, StartHookPayload};
use hive_router::http::{header::AUTHORIZATION, HeaderValue, StatusCode};
use hive_router::GraphQLError;
use serde::Deserialize;

/// Must match `nova_core::caller::ROUTER_SECRET_HEADER`.
const ROUTER_SECRET_HEADER: &str = "x-nova-router-secret";

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
    /// Usually `{ from_env: NOVA_ROUTER_SECRET }` in the router config.
    router_secret: String,
}

pub struct NovaPlugin {
    router_secret: HeaderValue,
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
        let mut router_secret = HeaderValue::from_str(&config.router_secret)
            .map_err(|_| "NOVA_ROUTER_SECRET must be printable ASCII")?;
        router_secret.set_sensitive(true);
        payload.initialize_plugin(NovaPlugin { router_secret })
    }

    async fn on_subgraph_http_request<'exec>(
        &'exec self,
        mut payload: OnSubgraphHttpRequestHookPayload<'exec>,
    ) -> OnSubgraphHttpRequestHookResult<'exec> {
        payload
            .execution_request
            .headers
            .insert(ROUTER_SECRET_HEADER, self.router_secret.clone());
        payload.proceed()
    }

    async fn on_execute<'exec>(
        &'exec self,
        payload: OnExecuteStartHookPayload<'exec>,
    ) -> OnExecuteStartHookResult<'exec> {
        // Reading the request context takes a snapshot of it: only do that when a
        // token was presented at all.
        if !payload
            .router_http_request
            .headers
            .contains_key(AUTHORIZATION)
        {
            return payload.proceed();
        }
        // `Some(false)`: the router looked for a verified token and found none.
        let verified = payload
            .request_context
            .read()
            .ok()
            .and_then(|context| context.authentication().jwt_status().copied());
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
        payload.proceed()
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

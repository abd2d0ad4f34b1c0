//! The `nova` router plugin.
//!
//! 1. Checks at start that the router secret is set and long enough. The
//!    `headers:` rule in `router.yaml` adds it to every subgraph request (HTTP,
//!    and the `connection_init` of subscription WebSockets); subgraphs believe the
//!    forwarded JWT claims (`extensions.jwt`) only with it, so a client calling a
//!    subgraph directly cannot act as someone else.
//! 2. Refuses an operation whose bearer token failed verification (expired, bad
//!    signature, wrong issuer, ...) with `UNAUTHENTICATED` (HTTP 401; on a
//!    WebSocket, the subscription's one error). Hive Router, with
//!    `require_authentication: false`, would otherwise serve it as anonymous, and
//!    the client could not tell "refresh your token" from "sign in".
//! 3. Gives the router's refusals Nova's error codes, with the router's own code
//!    kept in `extensions.reason`: authentication failures (`MISSING_JWT`,
//!    `INVALID_JWT`, ...) become `UNAUTHENTICATED`, so clients handle one code
//!    whatever failed; a field the directives refused
//!    (`UNAUTHORIZED_FIELD_OR_TYPE`) is `UNAUTHENTICATED` signed out and
//!    `FORBIDDEN` signed in (only a missing scope refuses it then); an unknown persisted-query id
//!    becomes `PERSISTED_QUERY_NOT_FOUND` (the client resends with the body in
//!    development) and an operation outside the safelist `OPERATION_NOT_ALLOWED`.
//! 4. Enforces the rate limits (`rate_limit`) on every operation of every
//!    transport, subscriptions included: `RATE_LIMITED` with the retry delay in
//!    `extensions.retryAfter`, and over HTTP status 429 with `RateLimit-*` and
//!    `Retry-After` headers; an admitted operation's HTTP answer carries the
//!    `RateLimit-*` headers too. The client IP is the connection's peer address,
//!    or behind configured trusted proxies their `X-Forwarded-For` (`client_ip`).
//!
//! 5. Speaks GraphQL over HTTP as clients expect (`errors` shapes the router's
//!    errors): a document of several operations without `operationName` → 400
//!    `OPERATION_RESOLUTION_FAILURE` (Hive ran the first); a POST without a
//!    content type → 415 saying what to send; a path it does not serve → 404;
//!    validation errors → `GRAPHQL_VALIDATION_FAILED` with the rule in
//!    `extensions.rule`; variable-coercion messages without Rust debug forms.
//!
//! Check 2, the root-field bound and the rate limit of subscriptions run in
//! `on_graphql_analysis`: in Hive Router 0.2.19 it is the hook that runs for
//! subscriptions after the token is verified (`on_execute` does not run for
//! them). Queries and mutations are rate limited in `on_execute`, which has the
//! coerced variables a conditional sign-in depends on.

use hive_router::executor::execution::client_request_details::JwtRequestDetails;
use hive_router::executor::hooks::on_execute::{
    OnExecuteStartHookPayload, OnExecuteStartHookResult,
};
use hive_router::executor::hooks::on_graphql_analysis::{
    OnGraphqlAnalysisHookPayload, OnGraphqlAnalysisHookResult,
};
use hive_router::executor::hooks::on_graphql_error::{
    OnGraphQLErrorHookPayload, OnGraphQLErrorHookResult,
};
use hive_router::executor::hooks::on_graphql_params::{
    OnGraphQLParamsStartHookPayload, OnGraphQLParamsStartHookResult,
};
use hive_router::executor::hooks::on_graphql_parse::{
    OnGraphQLParseHookResult, OnGraphQLParseStartHookPayload,
};
use hive_router::executor::hooks::on_http_request::{
    OnHttpRequestHookFuture, OnHttpRequestHookPayload,
};
use hive_router::executor::hooks::on_plugin_init::{OnPluginInitPayload, OnPluginInitResult};
use hive_router::executor::hooks::on_subgraph_execute::{
    OnSubgraphExecuteStartHookPayload, OnSubgraphExecuteStartHookResult,
};
use hive_router::executor::plugin_trait::{EndHookPayload, RouterPlugin, StartHookPayload};
use hive_router::graphql_tools::static_graphql::query::Definition;
use hive_router::http::header::{AUTHORIZATION, CONTENT_TYPE};
use hive_router::http::Method;
use hive_router::ntex::http::header::{HeaderName, HeaderValue, ORIGIN};
use hive_router::query_planner::state::supergraph_state::OperationKind;
use hive_router::sonic_rs::JsonValueTrait;
use serde::Deserialize;

use crate::client_ip::TrustedProxies;
use crate::jwks_reloads::JwksReloadsConfig;
use crate::operation::{root_field_count, selects_any};
use crate::rate_limit::{RateLimitConfig, RateLimiter, CREDENTIAL_FIELDS};
use crate::refusal::{Quota, Refusal};
use crate::rollout::{Rollouts, RolloutsConfig};

mod admission;

/// The peer address of the connection an operation came on.
struct ClientIp(String);

/// The `sub` claim of the token the router verified for this request, read from
/// the verified claims in `on_graphql_analysis` for `on_execute` (which sees no
/// claims): decoding the token again cost 20 000 instructions a request. Its
/// presence also makes a field the authorization directives refused
/// `FORBIDDEN`, not `UNAUTHENTICATED` (`errors::shape`).
struct VerifiedSubject(String);

/// How many operations the request's document holds, and whether the request
/// named the one to run (left by `on_graphql_parse` for `on_graphql_analysis`).
/// Overwritten by each operation; a WebSocket's operations share one context, so
/// two parsed at once may see each other's (then Hive runs the first operation).
#[derive(Clone, Copy)]
struct DocumentOperations {
    count: usize,
    named: bool,
}

/// Paths the router serves (`router.yaml`: `http.graphql_endpoint`,
/// `subscriptions.websocket.path`, the Prometheus exporter's `path`; Hive's
/// health checks; the plugin's own).
/// Anything else is 404, not Hive's HTML landing page with status 200.
fn is_served_path(path: &str) -> bool {
    matches!(
        path,
        "/graphql" | "/ws" | "/health" | "/readiness" | "/metrics" | HEALTH_PATH | METRICS_PATH
    ) || path.starts_with("/graphql/")
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
    /// Proxies whose `X-Forwarded-For` is believed (`client_ip`); none by default.
    #[serde(default)]
    trusted_proxies: TrustedProxies,
    jwks_reloads: JwksReloadsConfig,
    rollouts: RolloutsConfig,
}

pub struct NovaPlugin {
    rate_limiter: RateLimiter,
    /// The plugin's metrics, served at `METRICS_PATH`.
    metrics: prometheus::Registry,
    max_root_fields: usize,
    trusted_proxies: TrustedProxies,
    rollouts: Rollouts,
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
        let metrics = prometheus::Registry::new();
        let rate_limiter = RateLimiter::new(config.rate_limits, &metrics)?;
        crate::jwks_reloads::start(config.jwks_reloads, &metrics)?;
        let rollouts = Rollouts::start(config.rollouts, &metrics)?;
        payload.initialize_plugin(NovaPlugin {
            rate_limiter,
            metrics,
            max_root_fields: config.max_root_fields.0,
            trusted_proxies: config.trusted_proxies,
            rollouts,
        })
    }

    fn on_http_request<'req>(
        &'req self,
        mut payload: OnHttpRequestHookPayload<'req>,
    ) -> OnHttpRequestHookFuture<'req> {
        Box::pin(async move {
            let request = &payload.router_http_request;
            let client = match request.peer_addr() {
                Some(peer) => {
                    let forwarded_for = request
                        .headers()
                        .get_all("x-forwarded-for")
                        .filter_map(|value| value.to_str().ok());
                    let client = self.trusted_proxies.client_ip(peer.ip(), forwarded_for);
                    client.to_string()
                }
                None => "unknown".to_string(),
            };
            // The context lives as long as the request, and a WebSocket's
            // operations share their upgrade request's: every transport's
            // operations carry the socket's address (or, behind trusted proxies,
            // the one they saw), never one the client wrote.
            payload.context.insert(ClientIp(client));
            let request = &mut payload.router_http_request;
            // `Origin: null` (sandboxed frames, file: pages, some redirects) is no
            // origin anyone configured, but Hive answers every unmatched origin
            // with `Access-Control-Allow-Origin: null`, which a browser reads as a
            // grant for exactly that origin. Without the header the request is
            // answered as for a non-browser client: no CORS grant at all.
            if request.headers().get(ORIGIN).map(|o| o.as_bytes()) == Some(b"null".as_slice()) {
                request.headers_mut().remove(ORIGIN);
            }
            if !is_served_path(request.path()) {
                return payload.end_with_response(Refusal::not_found().to_http());
            }
            if request.method() == Method::POST && !request.headers().contains_key(CONTENT_TYPE) {
                return payload.end_with_response(Refusal::missing_content_type().to_http());
            }
            if request.path() == HEALTH_PATH {
                return payload.end_with_response(self.health_response());
            }
            if request.path() == METRICS_PATH {
                let text = self.render_metrics();
                return payload.end_with_response(
                    hive_router::ntex::http::Response::Ok()
                        .content_type("text/plain; version=0.0.4")
                        .body(text),
                );
            }
            // A refusal decided in `on_graphql_analysis` answers over HTTP with its
            // own status, headers and JSON body (see `refusal`).
            // Otherwise the answer tells the caller's quota.
            payload.on_end(|end| {
                if let Some(refused) = Refusal::http_response(end.context) {
                    return end
                        .map_response(|response| response.into_response(refused))
                        .proceed();
                }
                match Quota::of(end.context) {
                    Some(quota) => end
                        .map_response(|mut response| {
                            for (name, value) in quota.headers() {
                                if let Ok(value) = HeaderValue::from_str(&value) {
                                    response
                                        .headers_mut()
                                        .insert(HeaderName::from_static(name), value);
                                }
                            }
                            response
                        })
                        .proceed(),
                    None => end.proceed(),
                }
            })
        })
    }

    /// 6. Progressive rollouts (`rollout`): each operation gets the labels of
    /// the rollouts drawn for it, before planning.
    async fn on_graphql_params<'exec>(
        &'exec self,
        payload: OnGraphQLParamsStartHookPayload<'exec>,
    ) -> OnGraphQLParamsStartHookResult<'exec> {
        self.rollouts.label_operation(payload)
    }

    /// Counts a rollout's new subgraph's answers on the requests it was drawn for.
    async fn on_subgraph_execute<'exec>(
        &'exec self,
        payload: OnSubgraphExecuteStartHookPayload<'exec>,
    ) -> OnSubgraphExecuteStartHookResult<'exec> {
        self.rollouts.count_answer(payload)
    }

    async fn on_graphql_analysis<'exec>(
        &'exec self,
        payload: &mut OnGraphqlAnalysisHookPayload<'exec>,
    ) -> OnGraphqlAnalysisHookResult {
        // This hook runs for every operation on every transport (HTTP, SSE and
        // each `subscribe` on a WebSocket), after the router has verified the
        // token and before planning.
        let request = &payload.client_request_details;
        let user = match &*request.jwt {
            JwtRequestDetails::Authenticated { claims, .. } => claims
                .get("sub")
                .and_then(|sub| sub.as_str())
                .map(str::to_string),
            JwtRequestDetails::Unauthenticated if request.headers.contains_key(AUTHORIZATION) => {
                return Refusal::invalid_token().end_analysis(payload.context);
            }
            JwtRequestDetails::Unauthenticated => None,
        };
        if let Some(user) = &user {
            payload.context.insert(VerifiedSubject(user.clone()));
        }
        // Copied out: the context's entries lock their shard while borrowed.
        let operations = payload.context.get_ref::<DocumentOperations>().map(|o| *o);
        if let Some(DocumentOperations {
            count,
            named: false,
        }) = operations
        {
            if count > 1 {
                return Refusal::operation_name_required(count).end_analysis(payload.context);
            }
        }
        let operation = payload.filtered_operation_for_plan;
        let root_fields = root_field_count(&operation.selection_set);
        if root_fields > self.max_root_fields {
            return Refusal::too_many_root_fields(root_fields, self.max_root_fields)
                .end_analysis(payload.context);
        }
        // Subscriptions are counted here, as `on_execute` does not run for them;
        // queries and mutations there, where the coerced variables tell whether
        // a conditional sign-in runs (coercion has taken them from the request
        // by now). A subscription never signs in.
        if operation.operation_kind != Some(OperationKind::Subscription) {
            return OnGraphqlAnalysisHookResult::Proceed;
        }
        match self.admit(payload.context, user, false).await {
            Some(refusal) => refusal.end_analysis(payload.context),
            None => OnGraphqlAnalysisHookResult::Proceed,
        }
    }

    async fn on_execute<'exec>(
        &'exec self,
        payload: OnExecuteStartHookPayload<'exec>,
    ) -> OnExecuteStartHookResult<'exec> {
        // Copied out: the context's entries lock their shard while borrowed.
        let user = payload
            .context
            .get_ref::<VerifiedSubject>()
            .map(|subject| subject.0.clone());
        let signs_in = selects_any(
            &payload.operation_for_plan.selection_set,
            CREDENTIAL_FIELDS,
            payload.variable_values.as_ref(),
        );
        match self.admit(payload.context, user, signs_in).await {
            Some(refusal) => payload.end_with_response(refusal.end_execute()),
            None => payload.proceed(),
        }
    }

    fn on_graphql_error<'req>(
        &'req self,
        mut payload: OnGraphQLErrorHookPayload<'req>,
    ) -> OnGraphQLErrorHookResult<'req> {
        let signed_in = payload.context.get_ref::<VerifiedSubject>().is_some();
        if let Some(status) = crate::errors::shape(&mut payload.error, signed_in) {
            payload.status_code = status;
        }
        payload.proceed()
    }

    async fn on_graphql_parse<'exec>(
        &'exec self,
        payload: OnGraphQLParseStartHookPayload<'exec>,
    ) -> OnGraphQLParseHookResult<'exec> {
        let named = payload.graphql_params.operation_name.is_some();
        let context = payload.context;
        payload.on_end(move |end| {
            let count = end
                .document
                .definitions
                .iter()
                .filter(|definition| matches!(definition, Definition::Operation(_)))
                .count();
            context.insert(DocumentOperations { count, named });
            end.proceed()
        })
    }
}

/// Where the plugin reports its own health (the rate limiter's Redis).
const HEALTH_PATH: &str = "/health/nova";
/// The plugin's Prometheus metrics (the router's own are its telemetry's).
const METRICS_PATH: &str = "/metrics/nova";

impl NovaPlugin {
    /// The plugin's metrics, Prometheus text.
    fn render_metrics(&self) -> String {
        let mut buffer = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &self.metrics.gather(),
            &mut buffer,
        )
        .expect("encoding to a Vec cannot fail");
        String::from_utf8(buffer).expect("Prometheus text is UTF-8")
    }

    fn health_response(&self) -> hive_router::ntex::http::Response {
        let body = serde_json::json!({ "rate_limits": self.rate_limiter.health() });
        hive_router::ntex::http::Response::Ok()
            .content_type("application/json")
            .body(body.to_string())
    }
}

//! The HTTP app every subgraph serves: `/graphql` (POST, GET, and
//! graphql-transport-ws on the same path), `/health/live`, `/health/ready` and
//! `/metrics`. Every `/graphql` request must carry the router secret (see `caller`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, ObjectType, Schema, SubscriptionType};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use sqlx::migrate::Migrator;

use crate::caller::{router_secret_matches, ROUTER_SECRET_HEADER};
use crate::config::{exit_on_error, ServiceConfig};
use crate::db::{Db, PoolSizes};
use crate::events::{EventMetrics, EventRuntime, KafkaConfig};
use crate::metrics::Metrics;
use crate::readiness::Readiness;
use crate::shutdown::ShutdownHooks;

/// What the `/graphql` handlers share.
pub struct AppState<Q, M, S> {
    pub schema: Schema<Q, M, S>,
    pub metrics: Metrics,
    pub db: Db,
    router_secret: Arc<str>,
    readiness: Readiness,
}

impl<Q, M, S> Clone for AppState<Q, M, S> {
    fn clone(&self) -> Self {
        Self {
            schema: self.schema.clone(),
            metrics: self.metrics.clone(),
            db: self.db.clone(),
            router_secret: self.router_secret.clone(),
            readiness: self.readiness.clone(),
        }
    }
}

impl<Q, M, S> AppState<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    pub fn new(
        schema: Schema<Q, M, S>,
        metrics: Metrics,
        db: Db,
        router_secret: &str,
        readiness: Readiness,
    ) -> Self {
        Self {
            schema,
            metrics,
            db,
            router_secret: Arc::from(router_secret),
            readiness,
        }
    }

    fn came_through_router(&self, headers: &HeaderMap) -> bool {
        let presented = headers.get(ROUTER_SECRET_HEADER).map(|v| v.as_bytes());
        router_secret_matches(presented, &self.router_secret)
    }

    /// Run one GraphQL request (the schema's `CallerFromClaims` extension reads
    /// the caller the router vouched for).
    pub async fn execute(&self, request: async_graphql::Request) -> GraphQLResponse {
        let operation = operation_kind(&request.query);
        let started = Instant::now();
        let response = crate::batching::dispatch_when_idle(self.schema.execute(request)).await;
        self.metrics.requests.with_label_values(&[operation]).inc();
        self.metrics
            .latency
            .with_label_values(&[operation])
            .observe(started.elapsed().as_secs_f64());
        for error in &response.errors {
            let code = error
                .extensions
                .as_ref()
                .and_then(|ext| ext.get("code"))
                .and_then(|code| match code {
                    async_graphql::Value::String(code) => Some(code.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "GRAPHQL_VALIDATION_FAILED".to_string());
            self.metrics
                .errors
                .with_label_values(&[code.as_str()])
                .inc();
        }
        response.into()
    }

    fn refuse(&self) -> Response {
        self.metrics.refused_direct_calls.inc();
        let body = serde_json::json!({
            "errors": [{
                "message": "subgraphs accept requests only from the Nova router",
                "extensions": { "code": "FORBIDDEN" }
            }]
        });
        (StatusCode::FORBIDDEN, Json(body)).into_response()
    }
}

/// A coarse label for metrics; the operation name would be unbounded.
fn operation_kind(query: &str) -> &'static str {
    let head = query.trim_start();
    if head.starts_with("mutation") {
        "mutation"
    } else if head.starts_with("subscription") {
        "subscription"
    } else {
        "query"
    }
}

async fn graphql_post<Q, M, S>(
    State(state): State<AppState<Q, M, S>>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    if !state.came_through_router(&headers) {
        return state.refuse();
    }
    state.execute(request.into_inner()).await.into_response()
}

/// GET serves both queries in the URL and the graphql-transport-ws upgrade.
async fn graphql_get<Q, M, S>(State(state): State<AppState<Q, M, S>>, request: Request) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let (mut parts, body) = request.into_parts();
    let wants_websocket = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if wants_websocket {
        let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
            Ok(protocol) => protocol,
            Err(rejection) => return rejection.into_response(),
        };
        let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(upgrade) => upgrade,
            Err(rejection) => return rejection.into_response(),
        };
        // Hive Router opens subgraph WebSockets without custom headers and sends
        // its subgraph headers (the router secret among them) as fields of the
        // `connection_init` payload instead; either place is accepted, and a
        // connection with neither is closed at `connection_init` (code 1002 and
        // the reason) before any operation runs.
        let secret_on_upgrade = state.came_through_router(&parts.headers);
        let schema = state.schema.clone();
        return upgrade
            .protocols(ALL_WEBSOCKET_PROTOCOLS)
            .on_upgrade(move |socket| {
                GraphQLWebSocket::new(socket, schema, protocol)
                    .on_connection_init(move |payload| async move {
                        let presented = payload
                            .get(ROUTER_SECRET_HEADER)
                            .and_then(|v| v.as_str())
                            .map(str::as_bytes);
                        if secret_on_upgrade
                            || router_secret_matches(presented, &state.router_secret)
                        {
                            Ok(Data::default())
                        } else {
                            state.metrics.refused_direct_calls.inc();
                            Err("subgraphs accept connections only from the Nova router".into())
                        }
                    })
                    .serve()
            })
            .into_response();
    }
    if !state.came_through_router(&parts.headers) {
        return state.refuse();
    }
    let request = Request::from_parts(parts, body);
    match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
        request,
        &(),
    )
    .await
    {
        Ok(request) => state.execute(request.into_inner()).await.into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

/// 200 when Postgres answers and every other store the subgraph needs
/// (`Readiness`) is up; else 503 naming each problem.
async fn ready<Q, M, S>(State(state): State<AppState<Q, M, S>>) -> Response {
    let mut problems = serde_json::Map::new();
    if let Err(problem) = state.db.ping().await {
        problems.insert("postgres".into(), problem.into());
    }
    for (name, problem) in state.readiness.problems() {
        problems.insert(name.into(), problem.into());
    }
    if problems.is_empty() {
        return (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready" })),
        )
            .into_response();
    }
    problems.insert("status".into(), "unavailable".into());
    (StatusCode::SERVICE_UNAVAILABLE, Json(problems)).into_response()
}

async fn metrics<Q, M, S>(State(state): State<AppState<Q, M, S>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// The subgraph's routes. `extra` adds service-specific routes (identity's JWKS).
pub fn app<Q, M, S>(state: AppState<Q, M, S>, extra: axum::Router) -> axum::Router
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    axum::Router::new()
        .route(
            "/graphql",
            get(graphql_get::<Q, M, S>).post(graphql_post::<Q, M, S>),
        )
        .route("/health/live", get(|| async { "ok" }))
        .route("/health/ready", get(ready::<Q, M, S>))
        .route("/metrics", get(metrics::<Q, M, S>))
        .with_state(state)
        .merge(extra)
        .layer(axum::middleware::from_fn(
            crate::telemetry::trace_http_request,
        ))
}

/// What a subgraph's `build` step gets: its database, its event runtime (to start
/// consumers) and its metrics registry (for live hubs and the like).
pub struct Startup {
    pub db: Db,
    /// The router secret: `/internal/` routes check it (`internal::protected`)
    /// and internal calls to other subgraphs present it.
    pub router_secret: String,
    pub events: EventRuntime,
    pub metrics: Metrics,
    /// Stores besides Postgres that readiness waits for (`Readiness::dependency`).
    pub readiness: Readiness,
    /// Work to finish after serving stopped (`ShutdownHooks::add`).
    pub shutdown: ShutdownHooks,
}

/// The one-off commands of every subgraph binary, run before its own settings
/// are read: `<subgraph> print-schema` prints the SDL (what `cargo xtask compose`
/// reads), `<subgraph> migrate` applies the migrations (`migrate_only`). True
/// when one ran, and `main` then exits.
pub async fn ran_command(
    service_name: &str,
    sdl: fn() -> String,
    migrator: &'static Migrator,
) -> anyhow::Result<bool> {
    match std::env::args().nth(1).as_deref() {
        Some("print-schema") => print!("{}", sdl()),
        Some("migrate") => migrate_only(service_name, migrator).await?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// `<subgraph> migrate` runs the subgraph's migrations against `DATABASE_URL` and
/// exits: what a deployment runs once before it starts new versions (the Helm
/// chart's pre-install/pre-upgrade Job), so instances of the old version never
/// race the new one's schema change. Starting a subgraph migrates as well; after
/// this, that finds nothing to do.
async fn migrate_only(service_name: &str, migrator: &'static Migrator) -> anyhow::Result<()> {
    let url = exit_on_error(crate::config::required(
        "DATABASE_URL",
        "the subgraph's own Postgres database (postgres://...)",
    ));
    let _telemetry = crate::telemetry::init(service_name)?;
    let statements =
        prometheus::IntCounter::new("migration_statements", "unused").expect("valid metric");
    Db::connect_and_migrate(
        &url,
        PoolSizes {
            requests: 1,
            background: 1,
        },
        migrator,
        statements,
        Duration::from_secs(60),
    )
    .await?;
    tracing::info!(service = service_name, "migrations applied");
    Ok(())
}

/// Everything a subgraph's `main` does: config, telemetry, database and
/// migrations, the outbox relay for its topic, then serve until SIGINT/SIGTERM.
/// `build` makes the schema (and any extra routes) once the database is there, and
/// starts the subgraph's event consumers on `startup.events`.
pub async fn run_subgraph<Q, M, S, B, F>(
    service_name: &'static str,
    default_port: u16,
    migrator: &'static Migrator,
    build: B,
) -> anyhow::Result<()>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
    B: FnOnce(Startup) -> F,
    F: std::future::Future<Output = anyhow::Result<(Schema<Q, M, S>, axum::Router)>>,
{
    let config = exit_on_error(ServiceConfig::from_env(service_name, default_port));
    let kafka = exit_on_error(KafkaConfig::from_env());
    let _telemetry = crate::telemetry::init(service_name)?;
    let metrics = Metrics::new(service_name);
    let db = Db::connect_and_migrate(
        &config.database_url,
        PoolSizes {
            requests: config.database_max_connections,
            background: config.database_background_connections,
        },
        migrator,
        metrics.sql_statements.clone(),
        Duration::from_secs(30),
    )
    .await?;
    let events = EventRuntime::new(db.clone(), kafka, EventMetrics::new(&metrics));
    events.spawn_relay(service_name)?;
    let readiness = Readiness::default();
    let shutdown = ShutdownHooks::default();
    let (schema, extra) = build(Startup {
        db: db.clone(),
        router_secret: config.router_secret.clone(),
        events,
        metrics: metrics.clone(),
        readiness: readiness.clone(),
        shutdown: shutdown.clone(),
    })
    .await?;
    let state = AppState::new(schema, metrics, db, &config.router_secret, readiness);
    let served = serve(&config, app(state, extra)).await;
    shutdown.run(SHUTDOWN_HOOK_LIMIT).await;
    served
}

/// How long each shutdown hook may take.
const SHUTDOWN_HOOK_LIMIT: Duration = Duration::from_secs(5);

/// Bind `HTTP_HOST:HTTP_PORT` and serve until SIGINT or SIGTERM.
pub async fn serve(config: &ServiceConfig, app: axum::Router) -> anyhow::Result<()> {
    let address = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
    tracing::info!(service = %config.service_name, %address, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler succeeds on Unix");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

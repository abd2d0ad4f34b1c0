//! `nova-registry`: the schema registry service.
//!
//! Environment: `DATABASE_URL` (its own database, `nova_registry`),
//! `NOVA_REGISTRY_TOKENS` (`name:role:sha256hex,...`, role operator or read;
//! `nova token hash <token>` prints a hash), `NOVA_PQ_MANIFEST_PATH` (the
//! persisted-query manifest the checks use), `NOVA_REGISTRY_USAGE_DAYS` (checks
//! fail on operations routers executed in the last this many days; default 30),
//! `NOVA_REGISTRY_ROUTER_METRICS` (comma-separated URLs of the routers'
//! `/metrics/nova`, each host resolved to every address: the rollout gate reads
//! them; none: rollouts are refused), `NOVA_REGISTRY_ROLLOUT_GATE_INTERVAL_MS`
//! (how often, default 1000), `HTTP_HOST`/`HTTP_PORT` (default 127.0.0.1:4100).

use std::sync::Arc;

use anyhow::Context;
use nova_registry::api::{router, watch_rollouts, Registry};
use nova_registry::auth::parse_tokens;
use nova_registry::rollout::GateConfig;
use nova_registry::MIGRATOR;

fn required(name: &str, hint: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => {
            eprintln!("configuration error: missing environment variable {name}: {hint}");
            std::process::exit(2);
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let database_url = required("DATABASE_URL", "the registry's Postgres database");
    let tokens = parse_tokens(&required(
        "NOVA_REGISTRY_TOKENS",
        "name:role:sha256hex entries (role operator, read or report)",
    ))
    .unwrap_or_else(|error| {
        eprintln!("configuration error: NOVA_REGISTRY_TOKENS is malformed: {error}");
        std::process::exit(2);
    });
    let manifest_path = required(
        "NOVA_PQ_MANIFEST_PATH",
        "the persisted-query manifest whose operations every publish must keep valid",
    );
    let usage_days = match std::env::var("NOVA_REGISTRY_USAGE_DAYS") {
        Err(_) => 30,
        Ok(text) => text.trim().parse::<u32>().unwrap_or_else(|_| {
            eprintln!(
                "configuration error: NOVA_REGISTRY_USAGE_DAYS must be a whole number of days, not {text:?}"
            );
            std::process::exit(2);
        }),
    };
    let rollout_gate = GateConfig {
        metrics_urls: std::env::var("NOVA_REGISTRY_ROUTER_METRICS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_string)
            .collect(),
        interval: std::time::Duration::from_millis(
            match std::env::var("NOVA_REGISTRY_ROLLOUT_GATE_INTERVAL_MS") {
                Err(_) => 1000,
                Ok(text) => text.trim().parse::<u64>().ok().filter(|ms| *ms > 0).unwrap_or_else(|| {
                    eprintln!(
                        "configuration error: NOVA_REGISTRY_ROLLOUT_GATE_INTERVAL_MS must be a positive number of milliseconds, not {text:?}"
                    );
                    std::process::exit(2);
                }),
            },
        ),
    };
    let host = std::env::var("HTTP_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("HTTP_PORT").unwrap_or_else(|_| "4100".into());

    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .connect(&database_url)
        .await
        .context("connecting to DATABASE_URL")?;
    MIGRATOR.run(&pool).await.context("running migrations")?;
    let registry = Arc::new(Registry {
        pool,
        tokens,
        manifest_path: manifest_path.into(),
        metrics: Default::default(),
        usage_days,
        rollout_gate,
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(2))
            .build()
            .context("an HTTP client")?,
    });
    tokio::spawn(watch_rollouts(registry.clone()));
    let address = format!("{host}:{port}");
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    tracing::info!(%address, "registry listening");
    axum::serve(listener, router(registry))
        .with_graceful_shutdown(async {
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("a SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        })
        .await?;
    Ok(())
}

//! A metric for JWKS reloads. Hive Router re-reads the JWKS in the background
//! (`jwt.jwks_providers[].polling_interval`) and only logs a failure, so a key
//! rotation that the routers cannot see would surface as 401s. The plugin reads
//! the same URL on the same interval, in a thread of its own, and counts each
//! outcome: `nova_router_jwks_reloads_total{outcome="loaded"|"failed"}` and
//! `nova_router_jwks_keys` (keys in the last set read). The alert
//! `NovaJwksReloadFailing` (deploy/prometheus) fires on them.

use std::time::Duration;

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use serde::Deserialize;

use crate::rate_limit::Lenient;

#[derive(Deserialize)]
pub struct JwksReloadsConfig {
    /// The JWKS URL of `jwt.jwks_providers` (the same `from_env`).
    url: String,
    /// Its polling interval (`30s`, `1m`, ...).
    interval: Lenient<humantime::Duration>,
}

/// Longest wait for one read of the JWKS.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

/// Register the metrics in `metrics` and start reading the JWKS every interval.
pub fn start(config: JwksReloadsConfig, metrics: &Registry) -> Result<(), String> {
    let interval: Duration = config.interval.0.into();
    if interval.is_zero() {
        return Err("plugins.nova.config.jwks_reloads.interval must be above 0".into());
    }
    let reloads = IntCounterVec::new(
        Opts::new(
            "nova_router_jwks_reloads_total",
            "reads of the JWKS the router trusts, by outcome: loaded, failed",
        ),
        &["outcome"],
    )
    .expect("valid metric");
    let keys = IntGauge::new(
        "nova_router_jwks_keys",
        "keys in the JWKS as last read successfully",
    )
    .expect("valid metric");
    // Both outcomes from the start: a router that never loads the JWKS shows
    // `loaded 0`, not a missing series.
    for outcome in ["loaded", "failed"] {
        reloads.with_label_values(&[outcome]);
    }
    metrics
        .register(Box::new(reloads.clone()))
        .and_then(|()| metrics.register(Box::new(keys.clone())))
        .expect("metrics registered once");
    let client = reqwest::Client::builder()
        .timeout(READ_TIMEOUT)
        .build()
        .map_err(|e| format!("JWKS client: {e}"))?;
    let url = config.url;
    std::thread::Builder::new()
        .name("nova-jwks-reloads".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the JWKS reads");
            runtime.block_on(async move {
                loop {
                    match read_keys(&client, &url).await {
                        Ok(count) => {
                            reloads.with_label_values(&["loaded"]).inc();
                            keys.set(count as i64);
                        }
                        Err(error) => {
                            reloads.with_label_values(&["failed"]).inc();
                            tracing::warn!(%url, %error, "cannot read the JWKS");
                        }
                    }
                    tokio::time::sleep(interval).await;
                }
            })
        })
        .map_err(|e| format!("cannot start the JWKS reads: {e}"))?;
    Ok(())
}

/// Read the JWKS at `url`: how many keys it holds. A set without keys is a
/// failure, as no token could be verified with it.
async fn read_keys(client: &reqwest::Client, url: &str) -> Result<usize, String> {
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let set: JwkSet = response.json().await.map_err(|e| e.to_string())?;
    if set.keys.is_empty() {
        return Err("the JWKS holds no keys".into());
    }
    Ok(set.keys.len())
}

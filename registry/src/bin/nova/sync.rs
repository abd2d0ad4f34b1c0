//! `nova supergraph fetch` and `sync`: the router's supergraph file kept equal to
//! the registry's current supergraph, written atomically, and left as it is
//! while the registry cannot be reached; beside it, the active rollout labels.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::client::{refused, Client, Failure, Outcome};

/// Fetch the current supergraph if it differs from `etag`; write it to `out`
/// atomically (a temporary file renamed over it) after checking it parses.
/// Returns the new ETag, or `None` when unchanged.
async fn fetch_once(
    client: &Client,
    out: &Path,
    etag: Option<&str>,
) -> Result<Option<String>, Failure> {
    let mut request = client.request(reqwest::Method::GET, "/v1/supergraph")?;
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    let response = request
        .send()
        .await
        .map_err(|e| Failure::Unreachable(format!("{}: {e}", client.base)))?;
    let status = response.status().as_u16();
    if status == 304 {
        return Ok(None);
    }
    let new_etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.text().await.unwrap_or_default();
    if status != 200 {
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        return Err(refused(status, &body));
    }
    // The registry only makes composed supergraphs current; this guards the
    // router against anything else arriving (a proxy's error page, a torn read).
    nova_schema::api_schema(&text).map_err(|e| {
        Failure::Unreachable(format!("the registry sent an unusable supergraph: {e}"))
    })?;
    let temporary = out.with_extension("graphql.partial");
    std::fs::write(&temporary, &text)
        .and_then(|()| std::fs::rename(&temporary, out))
        .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", out.display())))?;
    Ok(Some(new_etag.unwrap_or_default()))
}

pub async fn fetch(client: &Client, out: &Path) -> Outcome {
    fetch_once(client, out, None).await?;
    println!("wrote {}", out.display());
    Ok(())
}

/// Keep `--out` equal to the registry's current supergraph. While the registry
/// is unreachable the file stays as it is, so the router goes on serving.
/// With `rollouts_out`, also keep that file equal to the registry's active
/// rollout labels (`GET /v1/rollouts/labels`), which the router's plugin reads
/// to send a rollout's share of requests to the new subgraph.
pub async fn sync(
    client: &Client,
    out: &Path,
    rollouts_out: Option<&Path>,
    interval: Duration,
) -> Outcome {
    let mut etag: Option<String> = None;
    let mut labels: Option<String> = None;
    let mut failing = false;
    loop {
        if let Some(rollouts_out) = rollouts_out {
            match fetch_labels(client, rollouts_out, labels.as_deref()).await {
                Ok(Some(new)) => {
                    println!("{} wrote {}: {new}", now(), rollouts_out.display());
                    labels = Some(new);
                }
                Ok(None) => {}
                Err(Failure::Usage(message)) => return Err(Failure::Usage(message)),
                // Reported with the supergraph's own failure just below.
                Err(_) => {}
            }
        }
        match fetch_once(client, out, etag.as_deref()).await {
            Ok(Some(new)) => {
                println!("{} wrote {} (etag {new})", now(), out.display());
                etag = Some(new);
                failing = false;
            }
            Ok(None) => failing = false,
            Err(Failure::Usage(message)) => return Err(Failure::Usage(message)),
            Err(Failure::Rejected(message))
            | Err(Failure::Unreachable(message))
            | Err(Failure::Unauthorized(message)) => {
                if !failing {
                    eprintln!("{} {message}; keeping {} as it is", now(), out.display());
                }
                failing = true;
            }
        }
        tokio::time::sleep(interval).await;
    }
}

/// Write the active rollout labels to `out` when they differ from `last`;
/// returns what was written.
async fn fetch_labels(
    client: &Client,
    out: &Path,
    last: Option<&str>,
) -> Result<Option<String>, Failure> {
    let response = client
        .request(reqwest::Method::GET, "/v1/rollouts/labels")?
        .send()
        .await
        .map_err(|e| Failure::Unreachable(format!("{}: {e}", client.base)))?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status != 200 || !body["rollouts"].is_array() {
        return Err(refused(status, &body));
    }
    let text = body.to_string();
    if last == Some(text.as_str()) {
        return Ok(None);
    }
    let temporary = out.with_extension("json.partial");
    std::fs::write(&temporary, &text)
        .and_then(|()| std::fs::rename(&temporary, out))
        .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", out.display())))?;
    Ok(Some(text))
}

/// A log line's timestamp.
fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

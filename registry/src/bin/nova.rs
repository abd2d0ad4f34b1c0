//! `nova`: the operators' command line for the schema registry.
//!
//! ```text
//! nova subgraph publish --name chat --url http://chat:4005/graphql --schema chat.graphql [--new] [--message M] [--force]
//! nova subgraph check   --name chat --url http://chat:4005/graphql --schema chat.graphql [--new]
//! nova subgraph list
//! nova subgraph versions --name chat
//! nova supergraph history
//! nova supergraph rollback --to <supergraph id> [--force] [--message M]
//! nova supergraph fetch --out supergraph.graphql
//! nova supergraph sync  --out supergraph.graphql [--interval-ms 1000]
//! nova token hash <token>
//! ```
//!
//! `NOVA_REGISTRY_URL` (default http://127.0.0.1:4100) and `NOVA_REGISTRY_TOKEN`.
//! Exit codes: 0 done, 1 rejected by the registry (checks, bad input, unknown
//! subgraph), 2 bad usage or configuration, 3 the registry could not be reached
//! or failed, 4 the token was refused (401, 403).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};

const USAGE: &str = "usage:
  nova subgraph publish --name NAME --url URL --schema FILE [--new] [--message TEXT] [--force]
  nova subgraph check --name NAME --url URL --schema FILE [--new]
  nova subgraph list
  nova subgraph versions --name NAME
  nova supergraph history
  nova supergraph rollback --to SUPERGRAPH_ID [--message TEXT] [--force]
  nova supergraph fetch --out FILE
  nova supergraph sync --out FILE [--interval-ms N]
  nova token hash TOKEN
  (--new adds a subgraph the registry does not have yet)
environment: NOVA_REGISTRY_URL (default http://127.0.0.1:4100), NOVA_REGISTRY_TOKEN
exit codes: 0 done, 1 rejected, 2 bad usage, 3 registry unreachable or failing, 4 token refused";

enum Failure {
    Usage(String),
    Rejected(String),
    Unreachable(String),
    Unauthorized(String),
}

type Outcome = Result<(), Failure>;

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn required_option(args: &[String], name: &str) -> Result<String, Failure> {
    option(args, name).ok_or_else(|| Failure::Usage(format!("{name} is required")))
}

struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    fn from_env() -> Self {
        Self {
            base: std::env::var("NOVA_REGISTRY_URL")
                .unwrap_or_else(|_| "http://127.0.0.1:4100".into())
                .trim_end_matches('/')
                .to_string(),
            token: std::env::var("NOVA_REGISTRY_TOKEN").ok(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
        }
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, Failure> {
        let token = self
            .token
            .as_deref()
            .ok_or_else(|| Failure::Usage("NOVA_REGISTRY_TOKEN is not set".into()))?;
        Ok(self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token))
    }

    /// Send; the status and the JSON body (or the text as a JSON string).
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, Value), Failure> {
        let response = request
            .send()
            .await
            .map_err(|e| Failure::Unreachable(format!("{}: {e}", self.base)))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }
}

/// A 4xx/5xx answer as the right failure. The registry answers JSON with
/// `error`; anything in between (a proxy) may answer text, shown as it is.
fn refused(status: u16, body: &Value) -> Failure {
    let message = match (body["error"].as_str(), body.as_str()) {
        (Some(error), _) => error.to_string(),
        (None, Some(text)) if !text.trim().is_empty() => text.trim().to_string(),
        _ => "no reason given".to_string(),
    };
    match status {
        401 | 403 => Failure::Unauthorized(format!("refused ({status}): {message}")),
        500.. => Failure::Unreachable(format!("registry error ({status}): {message}")),
        _ => Failure::Rejected(format!("({status}) {message}")),
    }
}

fn print_report(report: &Value) {
    let errors = report["composition_errors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if errors.is_empty() {
        println!("composition: ok");
    } else {
        println!("composition: FAILED");
        for error in errors {
            println!("  - {}", error.as_str().unwrap_or(""));
        }
        return;
    }
    let changes = report["changes"].as_array().cloned().unwrap_or_default();
    let count = |severity: &str| changes.iter().filter(|c| c["severity"] == severity).count();
    println!(
        "changes: {} breaking, {} dangerous, {} safe",
        count("breaking"),
        count("dangerous"),
        count("safe")
    );
    for change in &changes {
        println!(
            "  {:<9} {}",
            change["severity"].as_str().unwrap_or(""),
            change["message"].as_str().unwrap_or("")
        );
    }
    let affected = report["affected_operations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !affected.is_empty() {
        println!(
            "shipped operations affected (not blocking): {}",
            affected.len()
        );
        for operation in affected {
            println!(
                "  {}: {}",
                operation["name"].as_str().unwrap_or(""),
                operation["reason"].as_str().unwrap_or("")
            );
        }
    }
    let broken = report["broken_operations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if broken.is_empty() {
        println!("shipped operations: all still valid");
    } else {
        println!("shipped operations broken: {}", broken.len());
        for operation in broken {
            // The compiler's first line says what is wrong; the full diagnostic
            // (with its source excerpt) is in the JSON report.
            let error = operation["error"].as_str().unwrap_or("");
            println!(
                "  {}: {}",
                operation["name"].as_str().unwrap_or(""),
                error.lines().next().unwrap_or("").trim()
            );
        }
    }
}

fn read_schema(args: &[String]) -> Result<(String, String, String), Failure> {
    let name = required_option(args, "--name")?;
    let url = required_option(args, "--url")?;
    let path = required_option(args, "--schema")?;
    let sdl = std::fs::read_to_string(&path)
        .map_err(|e| Failure::Usage(format!("cannot read {path}: {e}")))?;
    Ok((name, url, sdl))
}

async fn subgraph_publish(client: &Client, args: &[String]) -> Outcome {
    let (name, url, sdl) = read_schema(args)?;
    let body = json!({
        "url": url,
        "sdl": sdl,
        "message": option(args, "--message").unwrap_or_default(),
        "force": args.iter().any(|a| a == "--force"),
        "new": args.iter().any(|a| a == "--new"),
    });
    let request = client
        .request(
            reqwest::Method::POST,
            &format!("/v1/subgraphs/{name}/publish"),
        )?
        .json(&body);
    let (status, answer) = client.send(request).await?;
    if answer.get("report").is_some() {
        print_report(&answer["report"]);
    }
    match (status, answer["status"].as_str()) {
        (200, Some("unchanged")) => {
            println!(
                "unchanged: {name} is already current (supergraph {})",
                answer["supergraphId"].as_str().unwrap_or("")
            );
            Ok(())
        }
        (200, _) => {
            let forced = if answer["forced"] == true {
                " (forced past failing checks)"
            } else {
                ""
            };
            println!(
                "published {name} version {} → supergraph {}{forced}",
                answer["versionId"].as_str().unwrap_or(""),
                answer["supergraphId"].as_str().unwrap_or("")
            );
            Ok(())
        }
        _ => Err(refused(status, &answer)),
    }
}

async fn subgraph_check(client: &Client, args: &[String]) -> Outcome {
    let (name, url, sdl) = read_schema(args)?;
    let request = client
        .request(
            reqwest::Method::POST,
            &format!("/v1/subgraphs/{name}/check"),
        )?
        .json(&json!({ "url": url, "sdl": sdl, "new": args.iter().any(|a| a == "--new") }));
    let (status, answer) = client.send(request).await?;
    if status != 200 {
        return Err(refused(status, &answer));
    }
    let report = &answer["report"];
    print_report(report);
    if report["composition_errors"]
        .as_array()
        .is_some_and(|e| !e.is_empty())
        || report["passes"] != true
    {
        return Err(Failure::Rejected(
            "a publish of this schema would be rejected".into(),
        ));
    }
    println!("a publish of this schema would be accepted");
    Ok(())
}

/// The current supergraph's subgraphs, a line each: name and URL.
async fn subgraph_list(client: &Client) -> Outcome {
    let (status, answer) = client
        .send(client.request(reqwest::Method::GET, "/v1/subgraphs")?)
        .await?;
    if status != 200 {
        return Err(refused(status, &answer));
    }
    for subgraph in answer["subgraphs"].as_array().cloned().unwrap_or_default() {
        println!(
            "{} {}",
            subgraph["name"].as_str().unwrap_or(""),
            subgraph["url"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

async fn subgraph_versions(client: &Client, args: &[String]) -> Outcome {
    let name = required_option(args, "--name")?;
    let (status, answer) = client
        .send(client.request(
            reqwest::Method::GET,
            &format!("/v1/subgraphs/{name}/versions"),
        )?)
        .await?;
    if status != 200 {
        return Err(refused(status, &answer));
    }
    for version in answer["versions"].as_array().cloned().unwrap_or_default() {
        println!(
            "{}  {}  {}  by {}  {}",
            version["id"].as_str().unwrap_or(""),
            version["published_at"].as_str().unwrap_or(""),
            version["routing_url"].as_str().unwrap_or(""),
            version["published_by"].as_str().unwrap_or(""),
            version["message"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

async fn supergraph_history(client: &Client) -> Outcome {
    let (status, answer) = client
        .send(client.request(reqwest::Method::GET, "/v1/supergraphs")?)
        .await?;
    if status != 200 {
        return Err(refused(status, &answer));
    }
    let current = answer["current"].as_str().unwrap_or("");
    for supergraph in answer["supergraphs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let id = supergraph["id"].as_str().unwrap_or("");
        println!(
            "{} {id}  {}  {:<8}  by {}  {}",
            if id == current { "*" } else { " " },
            supergraph["created_at"].as_str().unwrap_or(""),
            supergraph["reason"].as_str().unwrap_or(""),
            supergraph["created_by"].as_str().unwrap_or(""),
            supergraph["message"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

async fn supergraph_rollback(client: &Client, args: &[String]) -> Outcome {
    let to = required_option(args, "--to")?;
    let body = json!({
        "to": to,
        "force": args.iter().any(|a| a == "--force"),
        "message": option(args, "--message").unwrap_or_default(),
    });
    let (status, answer) = client
        .send(
            client
                .request(reqwest::Method::POST, "/v1/supergraphs/rollback")?
                .json(&body),
        )
        .await?;
    if answer.get("report").is_some() {
        print_report(&answer["report"]);
    }
    if status != 200 {
        return Err(refused(status, &answer));
    }
    println!(
        "{}: supergraph {} is current",
        answer["status"].as_str().unwrap_or(""),
        answer["supergraphId"].as_str().unwrap_or("")
    );
    Ok(())
}

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

async fn supergraph_fetch(client: &Client, args: &[String]) -> Outcome {
    let out = required_option(args, "--out")?;
    fetch_once(client, Path::new(&out), None).await?;
    println!("wrote {out}");
    Ok(())
}

/// Keep `--out` equal to the registry's current supergraph. While the registry
/// is unreachable the file stays as it is, so the router goes on serving.
async fn supergraph_sync(client: &Client, args: &[String]) -> Outcome {
    let out = required_option(args, "--out")?;
    let interval = option(args, "--interval-ms")
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| Failure::Usage("--interval-ms is a number".into()))
        })
        .transpose()?
        .unwrap_or(1000);
    let mut etag: Option<String> = None;
    let mut failing = false;
    loop {
        match fetch_once(client, Path::new(&out), etag.as_deref()).await {
            Ok(Some(new)) => {
                println!("{} wrote {out} (etag {new})", now());
                etag = Some(new);
                failing = false;
            }
            Ok(None) => failing = false,
            Err(Failure::Usage(message)) => return Err(Failure::Usage(message)),
            Err(Failure::Rejected(message))
            | Err(Failure::Unreachable(message))
            | Err(Failure::Unauthorized(message)) => {
                if !failing {
                    eprintln!("{} {message}; keeping {out} as it is", now());
                }
                failing = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(interval)).await;
    }
}

/// A log line's timestamp.
fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let client = Client::from_env();
    let words: Vec<&str> = args.iter().take(2).map(String::as_str).collect();
    let rest = &args[args.len().min(2)..];
    let outcome = match words.as_slice() {
        ["subgraph", "publish"] => subgraph_publish(&client, rest).await,
        ["subgraph", "check"] => subgraph_check(&client, rest).await,
        ["subgraph", "list"] => subgraph_list(&client).await,
        ["subgraph", "versions"] => subgraph_versions(&client, rest).await,
        ["supergraph", "history"] => supergraph_history(&client).await,
        ["supergraph", "rollback"] => supergraph_rollback(&client, rest).await,
        ["supergraph", "fetch"] => supergraph_fetch(&client, rest).await,
        ["supergraph", "sync"] => supergraph_sync(&client, rest).await,
        ["token", "hash"] => match rest.first() {
            Some(token) => {
                println!("{}", nova_registry::auth::hash_token(token));
                Ok(())
            }
            None => Err(Failure::Usage("nova token hash TOKEN".into())),
        },
        _ => Err(Failure::Usage(String::new())),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Rejected(message)) => {
            eprintln!("rejected: {message}");
            ExitCode::from(1)
        }
        Err(Failure::Unreachable(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(3)
        }
        Err(Failure::Unauthorized(message)) => {
            eprintln!("not allowed: {message}");
            ExitCode::from(4)
        }
    }
}

//! What every bench shares: the release bench stack's layout (ports 14000+,
//! databases `nova_bench_*`, every router policy on), starting and stopping it,
//! shipped operations by their persisted-query ids, and seeding accounts
//! straight into the owners' databases.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::Rng;
use uuid::Uuid;

pub use crate::postgres::copy_csv;
use crate::postgres::{self, Postgres};
use crate::stack::{self, subgraphs, Layout, State};
use crate::{kafka, redis, s3};

pub const BENCH: Layout = Layout {
    name_prefix: "bench-",
    database_prefix: "nova_bench",
    router_port: 14000,
    kafka_port: 14092,
    redis_port: 14379,
    // Benchmarks send no mail.
    smtp_port: None,
    s3_port: 14900,
    clickhouse_port: 14123,
    // The router under test has every Nova policy on: safelist mode and rate
    // limits. wrk sends from one address as one user, so the buckets are big
    // enough that the run measures the cost of checking, not the refusals.
    router_env: &[
        ("NOVA_SAFELIST", "true"),
        ("NOVA_RATE_LIMIT_USER_BURST", "1000000000"),
        ("NOVA_RATE_LIMIT_USER_PER_SECOND", "1000000"),
        ("NOVA_RATE_LIMIT_ANONYMOUS_BURST", "1000000000"),
        ("NOVA_RATE_LIMIT_ANONYMOUS_PER_SECOND", "1000000"),
        // The subscription bench signs many users in from one address.
        ("NOVA_RATE_LIMIT_CREDENTIALS_BURST", "1000000000"),
        ("NOVA_RATE_LIMIT_CREDENTIALS_PER_SECOND", "1000000"),
    ],
};

pub const PASSWORD: &str = "bench password 1";

/// Run a shipped operation by its persisted-query id, as a client in safelist
/// mode does.
pub fn persisted(
    root: &Path,
    operation: &str,
    variables: serde_json::Value,
) -> Result<serde_json::Value> {
    persisted_as(root, operation, variables, None)
}

/// `persisted` on behalf of the user of `token`.
pub fn persisted_as(
    root: &Path,
    operation: &str,
    variables: serde_json::Value,
    token: Option<&str>,
) -> Result<serde_json::Value> {
    let body = persisted_body(operation, &document_id(root, operation)?, variables).to_string();
    let authorization = token.map(|token| format!("Bearer {token}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(authorization) = &authorization {
        headers.push(("Authorization", authorization.as_str()));
    }
    let (_, text) = stack::http(
        BENCH.router_port,
        "POST",
        "/graphql",
        &headers,
        &body,
        Duration::from_secs(30),
    )?;
    let value: serde_json::Value = serde_json::from_str(&text)?;
    if value.get("errors").is_some() {
        bail!("GraphQL errors: {value}");
    }
    Ok(value["data"].clone())
}

/// POST a shipped operation by its persisted-query id, as a safelisted client
/// does (the async load clients): the answer, its body unread.
async fn send_persisted(
    http: &reqwest::Client,
    url: &str,
    (operation, document_id): (&str, &str),
    variables: serde_json::Value,
    token: Option<&str>,
) -> Result<reqwest::Response> {
    let body = persisted_body(operation, document_id, variables);
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Ok(request.send().await?)
}

/// [`send_persisted`]'s `data`, or an error with the status and body when it
/// failed or answered errors.
pub async fn post_persisted(
    http: &reqwest::Client,
    url: &str,
    operation: (&str, &str),
    variables: serde_json::Value,
    token: Option<&str>,
) -> Result<serde_json::Value> {
    let response = send_persisted(http, url, operation, variables, token).await?;
    let status = response.status();
    let mut value: serde_json::Value = response.json().await?;
    if !status.is_success() || value.get("errors").is_some() {
        bail!("{status}: {value}");
    }
    Ok(value["data"].take())
}

/// What the load generator reads of an answer: whether it has `errors`; the
/// rest is skipped, not built (the generator shares the stack's cores).
#[derive(serde::Deserialize)]
struct Checked {
    errors: Option<serde::de::IgnoredAny>,
}

/// [`post_persisted`] for load: the answer is checked (status, no `errors`)
/// but not kept.
pub async fn post_persisted_checked(
    http: &reqwest::Client,
    url: &str,
    operation: (&str, &str),
    variables: serde_json::Value,
    token: &str,
) -> Result<()> {
    let response = send_persisted(http, url, operation, variables, Some(token)).await?;
    let status = response.status();
    let answer = response.bytes().await?;
    let checked: Checked = serde_json::from_slice(&answer)
        .with_context(|| format!("{status}: {}", String::from_utf8_lossy(&answer)))?;
    if !status.is_success() || checked.errors.is_some() {
        bail!("{status}: {}", String::from_utf8_lossy(&answer));
    }
    Ok(())
}

/// The request body of a shipped operation sent by its persisted-query id.
pub fn persisted_body(
    operation: &str,
    document_id: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "operationName": operation,
        "variables": variables,
        "extensions": { "persistedQuery": { "version": 1, "sha256Hash": document_id } }
    })
}

/// A bench user, signed up and in through the router.
pub struct Account {
    pub id: String,
    pub token: String,
}

/// Register `name` (`<name>@bench.test`) and log in, by persisted operations.
pub fn sign_up(root: &Path, name: &str) -> Result<Account> {
    let email = format!("{name}@bench.test");
    let registered = persisted(
        root,
        "Register",
        serde_json::json!({ "email": email, "username": name, "password": PASSWORD }),
    )?;
    let login = persisted(
        root,
        "Login",
        serde_json::json!({ "email": email, "password": PASSWORD }),
    )?;
    Ok(Account {
        id: registered["register"]["id"]
            .as_str()
            .context("register returned no id")?
            .to_string(),
        token: login["login"]["accessToken"]
            .as_str()
            .context("login returned no token")?
            .to_string(),
    })
}

/// The argon2 hash of a signed-up account, reused for seeded accounts (hashing
/// thousands of passwords would take the seed minutes).
pub fn password_hash(pg: &Postgres, account_id: &str) -> Result<String> {
    let id: Uuid = account_id.parse()?;
    postgres::value(
        pg,
        &BENCH.database("identity"),
        &format!("SELECT password_hash FROM accounts WHERE id = '{id}'"),
    )
}

/// `count` accounts `user<i>` (`user<i>@bench.test`, the password of `hash`)
/// with profiles, loaded straight into identity's and users' databases.
pub fn seed_accounts(pg: &Postgres, count: usize, hash: &str) -> Result<Vec<Uuid>> {
    let user_ids: Vec<Uuid> = (0..count).map(|_| Uuid::now_v7()).collect();
    let mut accounts = Vec::with_capacity(count);
    let mut profiles = Vec::with_capacity(count);
    for (i, id) in user_ids.iter().enumerate() {
        accounts.push((id, format!("user{i}@bench.test"), format!("user{i}"), hash));
        profiles.push((id, format!("User {i}"), format!("Bio of user {i}")));
    }
    let identity = BENCH.database("identity");
    copy_csv(
        pg,
        &identity,
        "accounts",
        "id, email, username, password_hash",
        &accounts,
    )?;
    let users = BENCH.database("users");
    copy_csv(
        pg,
        &users,
        "profiles",
        "user_id, display_name, bio",
        &profiles,
    )?;
    Ok(user_ids)
}

/// Load follow edges `(follower, followee, id)` into social's database.
pub fn copy_follows(pg: &Postgres, follows: &[(Uuid, Uuid, Uuid)]) -> Result<()> {
    let columns = "follower_id, followee_id, id";
    copy_csv(pg, &BENCH.database("social"), "follows", columns, follows)
}

/// Refresh the planner's statistics of the bench databases after a bulk load.
pub fn analyze(pg: &Postgres) -> Result<()> {
    for name in subgraphs() {
        postgres::execute(pg, &BENCH.database(name), "ANALYZE")?;
    }
    Ok(())
}

/// The manifest id of a shipped operation.
pub fn document_id(root: &Path, operation: &str) -> Result<String> {
    let text = std::fs::read_to_string(root.join("persisted-queries/manifest.json"))?;
    let manifest: serde_json::Value = serde_json::from_str(&text)?;
    manifest["operations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|op| op["name"] == operation)
        .and_then(|op| op["id"].as_str())
        .map(str::to_string)
        .with_context(|| format!("{operation} is not in persisted-queries/manifest.json"))
}

/// Whether a bench starts from empty databases.
pub enum Data {
    /// Recreate the bench databases (every bench but a `--reuse` run).
    Fresh,
    /// Keep them as the last run left them: measure again without seeding again.
    Keep,
}

/// A prepared bench stack, nothing started yet: `services` as the layout has
/// them (a bench may vary one before starting it).
pub struct BenchStack<'a> {
    pub state: &'a State,
    pub pg: &'a Postgres,
    pub bin_dir: &'a Path,
    pub services: Vec<stack::Service>,
}

impl BenchStack<'_> {
    /// Start these services in order, each ready before the next.
    pub fn start<'s>(
        &self,
        root: &Path,
        services: impl IntoIterator<Item = &'s stack::Service>,
    ) -> Result<()> {
        for service in services {
            stack::start_ready(self.state, self.bin_dir, root, service)?;
        }
        Ok(())
    }
}

/// Stop anything a previous bench left, start a fresh broker and Redis, build
/// release binaries (and recreate the bench databases for `Data::Fresh`), run
/// `bench`, then stop the stack whatever `bench` returned.
pub fn on_bench_stack<T>(
    root: &Path,
    data: Data,
    bench: impl FnOnce(&BenchStack) -> Result<T>,
) -> Result<T> {
    let state = State::open(root)?;
    let pg = postgres::ensure_running(&state)?;
    let recreate = match data {
        Data::Fresh => Some(&pg),
        Data::Keep => None,
    };
    let (bin_dir, kafka_brokers) = prepare_stack(root, &state, recreate)?;
    let result = stack::services(&state, &pg, &kafka_brokers, root, &BENCH).and_then(|services| {
        bench(&BenchStack {
            state: &state,
            pg: &pg,
            bin_dir: &bin_dir,
            services,
        })
    });
    stop_stack(&state)?;
    result
}

fn prepare_stack(
    root: &Path,
    state: &State,
    recreate: Option<&Postgres>,
) -> Result<(std::path::PathBuf, String)> {
    stack::stop(state, &BENCH)?;
    let kafka_brokers = kafka::start_fresh(state, root, &BENCH)?;
    redis::stop(state, &BENCH)?;
    redis::ensure_running(state, &BENCH)?;
    s3::ensure_running(state, root, &BENCH)?;
    if recreate.is_some() {
        crate::clickhouse::remove_data(state, &BENCH)?;
    }
    crate::clickhouse::ensure_running(state, &BENCH)?;
    crate::ffmpeg::ensure_installed()?;
    if let Some(pg) = recreate {
        for name in subgraphs() {
            postgres::recreate_database(pg, &BENCH.database(name))?;
        }
    }
    println!("building release binaries");
    let bin_dir = stack::build_binaries(root, true)?;
    Ok((bin_dir, kafka_brokers))
}

/// Stop the bench stack, its broker and its Redis.
pub fn stop_stack(state: &State) -> Result<()> {
    stack::stop(state, &BENCH)?;
    kafka::stop(state, &BENCH)?;
    s3::stop(state, &BENCH)?;
    crate::clickhouse::stop(state, &BENCH)?;
    redis::stop(state, &BENCH)
}

/// The subgraphs of `services` (all but the router, which is last), each
/// waiting 500 ms per broker fetch: the local broker (tansu) answers an idle
/// fetch only when its wait runs out, so at the default 100 ms the consumers'
/// polling costs it about 0.7 of a core here (0.24 at 500 ms), taken from the
/// stack under test; in production the broker has machines of its own. The
/// benches that use it time pages, not event delivery.
pub fn subgraphs_polling_slowly(services: &[stack::Service]) -> Vec<stack::Service> {
    services[..services.len() - 1]
        .iter()
        .map(|service| {
            service.variant(
                &service.name,
                service.port(),
                &[("KAFKA_FETCH_WAIT_MAX_MS", "500")],
            )
        })
        .collect()
}

/// A skewed pick in 0..n: low indices (the "popular" users and posts) are chosen
/// far more often (u³ puts about half the picks in the first 12.5%).
pub fn skewed(rng: &mut StdRng, n: usize) -> usize {
    let u: f64 = rng.gen();
    ((u * u * u) * n as f64) as usize % n
}

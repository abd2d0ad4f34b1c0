//! `cargo xtask bench logins`: what a login storm does to everything else.
//!
//! On the release bench stack (ports 14000+): `Me`, a cheap query identity
//! answers, at a fixed arrival rate (open model), first alone, then while
//! `--logins` clients log in back to back through the router (each login one
//! argon2 verification in identity) — once with identity's hashing unbounded
//! (`PASSWORD_HASH_CONCURRENCY` = `--logins`, as before the bound existed) and
//! once bounded as shipped (the default). Printed: `Me` p50/p99 and errors, and
//! the logins completed per second, for each.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::bench_stack::{
    document_id, on_bench_stack, post_persisted, sign_up, Data, BENCH, PASSWORD,
};
use crate::load::{ms, open_model};
use crate::stack;

#[derive(clap::Args)]
pub struct Options {
    /// Clients logging in back to back during the storm.
    #[arg(long, default_value_t = 50)]
    logins: usize,
    /// `Me` requests per second (open model).
    #[arg(long, default_value_t = 50)]
    rate: u64,
    /// Seconds of `Me` load per run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

/// Persisted operations through the bench router, as one signed-in client.
struct Client {
    http: reqwest::Client,
    url: String,
    token: String,
    me_id: String,
    login_id: String,
}

impl Client {
    async fn send(&self, operation: (&str, &str), variables: Value, signed_in: bool) -> Result<()> {
        let token = signed_in.then_some(self.token.as_str());
        post_persisted(&self.http, &self.url, operation, variables, token).await?;
        Ok(())
    }

    async fn me(&self) -> Result<()> {
        self.send(("Me", &self.me_id), json!({}), true).await
    }

    async fn login(&self) -> Result<()> {
        let variables = json!({ "email": "viewer@bench.test", "password": PASSWORD });
        self.send(("Login", &self.login_id), variables, false).await
    }
}

/// `Me` under load while `logins` clients log in: the `Me` latencies, its
/// failures, and logins completed per second.
async fn measure(client: Arc<Client>, options: &Options, logins: usize) -> Result<String> {
    let stop = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicU64::new(0));
    let storm: Vec<_> = (0..logins)
        .map(|_| {
            let (client, stop, completed) = (client.clone(), stop.clone(), completed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if client.login().await.is_ok() {
                        completed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    let me_client = client.clone();
    let (latency, errors) = open_model(options.rate, options.seconds, move |_| {
        let client = me_client.clone();
        async move { client.me().await.is_ok() }
    })
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in storm {
        task.await?;
    }
    Ok(format!(
        "Me p50 {:>7.2} ms   p99 {:>7.2} ms   errors {errors}/{}   logins {:.1}/s",
        ms(&latency, 0.5),
        ms(&latency, 0.99),
        options.rate * options.seconds,
        completed.load(Ordering::Relaxed) as f64 / elapsed
    ))
}

pub fn bench(root: &Path, options: Options) -> Result<()> {
    if options.logins < 1 || options.rate < 1 {
        bail!("--logins and --rate must be at least 1");
    }
    on_bench_stack(root, Data::Fresh, |bench_stack| {
        bench_stack.start(root, &bench_stack.services)?;
        let identity = bench_stack
            .services
            .iter()
            .find(|s| s.name == format!("{}identity", BENCH.name_prefix))
            .context("identity is a service of the stack")?;
        let viewer = sign_up(root, "viewer")?;
        let client = Arc::new(Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            url: format!("http://127.0.0.1:{}/graphql", BENCH.router_port),
            token: viewer.token,
            me_id: document_id(root, "Me")?,
            login_id: document_id(root, "Login")?,
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "\n{} Me/s for {} s (open model) on {cores} cores; storm: {} clients logging in \
             back to back through the router",
            options.rate, options.seconds, options.logins
        );
        let alone = runtime.block_on(measure(client.clone(), &options, 0))?;
        println!("{:<40} {alone}", "no logins");
        let unbounded = options.logins.to_string();
        let runs = [
            (
                "storm, hashing unbounded (before)",
                Some(unbounded.as_str()),
            ),
            ("storm, hashing bounded (default)", None),
        ];
        for (label, concurrency) in runs {
            stack::stop_process(bench_stack.state, &identity.name)?;
            let service = match concurrency {
                Some(limit) => identity.variant(
                    &identity.name,
                    identity.port(),
                    &[("PASSWORD_HASH_CONCURRENCY", limit)],
                ),
                None => identity.variant(&identity.name, identity.port(), &[]),
            };
            bench_stack.start(root, [&service])?;
            let line = runtime.block_on(measure(client.clone(), &options, options.logins))?;
            println!("{label:<40} {line}");
        }
        Ok(())
    })
}

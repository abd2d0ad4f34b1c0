//! `cargo xtask bench subscriptions`: many concurrent chat subscribers through
//! the router, a sender publishing at a fixed rate, and what arrives.
//!
//! The bench stack (release, ports 14000+, safelist and rate limits on) is
//! started fresh. `--users` accounts sign up and in through the router; the
//! sender creates `--subscribers / --group-size` groups of `--group-size` of them;
//! each member subscribes to each of its groups (`ChatEvents`, by persisted id)
//! over graphql-transport-ws, spread over `--connections-per-user` connections
//! per user. Then the sender sends `--rate` messages a second for `--seconds` to
//! random groups (`SendMessage` over HTTP), and every delivery is timed from just
//! before the send to its arrival. Printed: subscriptions open and how long they
//! took, delivered vs expected, fan-out latency p50/p99/max, errors, and the
//! resident memory of the router, chat and users (which resolves the sender's
//! profile for every event) idle, with the subscriptions open, and after the run.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::bench_stack::{
    document_id, on_bench_stack, persisted_as, sign_up, Account, Data, BENCH,
};
use crate::load::{histogram, ms};
use crate::stack::{self, State};
use hdrhistogram::Histogram;

#[derive(clap::Args)]
pub struct Options {
    /// Subscriptions in all (members × groups).
    #[arg(long, default_value_t = 10_000)]
    subscribers: usize,
    /// Members of each group.
    #[arg(long, default_value_t = 10)]
    group_size: usize,
    /// Accounts the subscribers are spread over.
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// WebSocket connections each account opens.
    #[arg(long, default_value_t = 10)]
    connections_per_user: usize,
    /// Messages sent per second.
    #[arg(long, default_value_t = 20)]
    rate: usize,
    /// Seconds of sending.
    #[arg(long, default_value_t = 20)]
    seconds: usize,
}

impl Options {
    fn validate(&self) -> Result<()> {
        if self.group_size == 0 || self.group_size > self.users {
            bail!("--group-size must be between 1 and --users");
        }
        if self.subscribers < self.group_size {
            bail!("--subscribers must be at least --group-size");
        }
        Ok(())
    }

    fn groups(&self) -> usize {
        self.subscribers / self.group_size
    }
}

/// Resident memory of a bench process, in MiB.
fn resident_mib(state: &State, process: &str) -> f64 {
    stack::process_status(state, process)
        .ok()
        .and_then(|status| status.vmrss)
        .map_or(f64::NAN, |kib| kib as f64 / 1024.0)
}

fn memory_line(state: &State, when: &str) -> String {
    let part = |name: &str| {
        format!(
            "{name} {:.0} MiB",
            resident_mib(state, &format!("{}{name}", BENCH.name_prefix))
        )
    };
    format!(
        "memory {when:<22} {}, {}, {}, {}",
        part("router"),
        part("chat"),
        part("users"),
        part("identity")
    )
}

/// `nova_live_subscribers` of the bench chat.
fn open_subscriptions() -> Result<f64> {
    stack::metric(BENCH.port_of("chat")?, "nova_live_subscribers")
}

/// What the receivers saw.
struct Tally {
    /// Send → arrival, in microseconds.
    latency: Histogram<u64>,
    errors: usize,
    unmatched: usize,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            latency: histogram(),
            errors: 0,
            unmatched: 0,
        }
    }
}

type SendTimes = Arc<Mutex<HashMap<u64, Instant>>>;

/// One client connection carrying several subscriptions; runs until `stop`.
async fn connection(
    token: String,
    conversations: Vec<String>,
    chat_events_id: String,
    sent: SendTimes,
    tally: Arc<Mutex<Tally>>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let url = format!("ws://127.0.0.1:{}/ws", BENCH.router_port);
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let init = json!({ "type": "connection_init",
        "payload": { "headers": { "authorization": format!("Bearer {token}") } } });
    socket.send(Message::text(init.to_string())).await?;
    for (index, conversation) in conversations.iter().enumerate() {
        let subscribe = json!({
            "id": index.to_string(),
            "type": "subscribe",
            "payload": {
                "operationName": "ChatEvents",
                "variables": { "conversationId": conversation },
                "extensions": { "persistedQuery": { "version": 1, "sha256Hash": chat_events_id } }
            }
        });
        socket.send(Message::text(subscribe.to_string())).await?;
    }
    let mut stop = stop;
    loop {
        let frame = tokio::select! {
            frame = socket.next() => frame,
            _ = stop.changed() => break,
        };
        let Some(frame) = frame else { break };
        let text = match frame? {
            Message::Text(text) => text,
            Message::Close(_) => break,
            _ => continue,
        };
        let arrived = Instant::now();
        let message: Value = serde_json::from_str(&text)?;
        if nova_smoke::answer_ping(&mut socket, &message).await? {
            continue;
        }
        match message["type"].as_str() {
            Some("next") if message["payload"].get("errors").is_none() => {
                let body = message["payload"]["data"]["chatEvents"]["message"]["body"]
                    .as_str()
                    .unwrap_or("");
                let number = body
                    .strip_prefix("bench ")
                    .and_then(|n| n.parse::<u64>().ok());
                let sent_at = number.and_then(|n| sent.lock().expect("lock").get(&n).copied());
                let mut tally = tally.lock().expect("lock");
                match sent_at {
                    Some(sent_at) => {
                        let micros = arrived.duration_since(sent_at).as_micros() as u64;
                        tally.latency.saturating_record(micros);
                    }
                    None => tally.unmatched += 1,
                }
            }
            Some("next") | Some("error") => {
                let mut tally = tally.lock().expect("lock");
                if tally.errors < 3 {
                    eprintln!("subscription error: {message}");
                }
                tally.errors += 1;
            }
            _ => {}
        }
    }
    Ok(())
}

pub fn bench(root: &Path, options: Options) -> Result<()> {
    options.validate()?;
    on_bench_stack(root, Data::Fresh, |bench_stack| {
        bench_stack.start(root, &bench_stack.services)?;
        run(root, bench_stack.state, &options)
    })
}

fn run(root: &Path, state: &State, options: &Options) -> Result<()> {
    let started = Instant::now();
    let sender = sign_up(root, "sender")?;
    let users: Vec<Account> = (0..options.users)
        .map(|i| sign_up(root, &format!("member{i}")))
        .collect::<Result<_>>()?;
    println!(
        "signed up and in {} users through the router in {:.1}s",
        options.users + 1,
        started.elapsed().as_secs_f64()
    );

    // Group g has members g*size .. g*size+size (mod users): distinct, and every
    // user is in about the same number of groups.
    let started = Instant::now();
    let mut groups = Vec::with_capacity(options.groups());
    let mut subscriptions_of: Vec<Vec<String>> = vec![Vec::new(); options.users];
    for g in 0..options.groups() {
        let members: Vec<usize> = (0..options.group_size)
            .map(|j| (g * options.group_size + j) % options.users)
            .collect();
        let ids: Vec<&str> = members.iter().map(|m| users[*m].id.as_str()).collect();
        let created = persisted_as(
            root,
            "CreateGroup",
            json!({ "title": format!("group {g}"), "memberIds": ids }),
            Some(&sender.token),
        )?;
        let id = created["createGroup"]["id"]
            .as_str()
            .context("createGroup returned no id")?
            .to_string();
        for member in members {
            subscriptions_of[member].push(id.clone());
        }
        groups.push(id);
    }
    println!(
        "created {} groups of {} in {:.1}s",
        groups.len(),
        options.group_size,
        started.elapsed().as_secs_f64()
    );
    println!("{}", memory_line(state, "idle"));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let chat_events_id = document_id(root, "ChatEvents")?;
    let sent: SendTimes = Arc::new(Mutex::new(HashMap::new()));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let expected_subscriptions = (options.groups() * options.group_size) as f64;

    // Open every connection and its subscriptions.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (user, conversations) in users.iter().zip(subscriptions_of) {
        let per_connection = conversations
            .len()
            .div_ceil(options.connections_per_user)
            .max(1);
        for chunk in conversations.chunks(per_connection) {
            tasks.push(runtime.spawn(connection(
                user.token.clone(),
                chunk.to_vec(),
                chat_events_id.clone(),
                sent.clone(),
                tally.clone(),
                stop_rx.clone(),
            )));
        }
    }
    let connections = tasks.len();
    while open_subscriptions()? < expected_subscriptions {
        if started.elapsed() > Duration::from_secs(300) {
            bail!(
                "only {} of {expected_subscriptions} subscriptions opened in 300s",
                open_subscriptions()?
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "{expected_subscriptions} subscriptions open over {connections} WebSocket connections in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    println!("{}", memory_line(state, "subscriptions open"));

    // Send at a fixed rate (HTTP through the router, the app's SendMessage).
    let total = (options.rate * options.seconds) as u64;
    let interval = Duration::from_secs_f64(1.0 / options.rate as f64);
    let mut rng = rand::thread_rng();
    let mut send_failures = 0;
    let started = Instant::now();
    for n in 0..total {
        let due = started + interval * n as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let conversation = &groups[rng.gen_range(0..groups.len())];
        sent.lock().expect("lock").insert(n, Instant::now());
        let result = persisted_as(
            root,
            "SendMessage",
            json!({ "conversationId": conversation, "body": format!("bench {n}"), "clientMessageId": format!("bench-{n}") }),
            Some(&sender.token),
        );
        if let Err(error) = result {
            if send_failures < 3 {
                eprintln!("send failed: {error:#}");
            }
            send_failures += 1;
        }
    }
    let sending = started.elapsed().as_secs_f64();
    // Let the last deliveries arrive.
    let expected_deliveries = (total as usize - send_failures) * options.group_size;
    let drain_started = Instant::now();
    while tally.lock().expect("lock").latency.len() < expected_deliveries as u64
        && drain_started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("{}", memory_line(state, "after sending"));
    let _ = stop_tx.send(true);
    runtime.block_on(async {
        for task in tasks {
            if let Ok(Err(error)) = task.await {
                eprintln!("a connection failed: {error:#}");
            }
        }
    });

    let tally = tally.lock().expect("lock");
    let latency = &tally.latency;
    println!(
        "sent {total} messages in {sending:.1}s ({:.1}/s, {send_failures} failed) to {} groups of {}",
        total as f64 / sending,
        groups.len(),
        options.group_size
    );
    println!(
        "delivered {} of {expected_deliveries} expected ({:.2}%), {} unmatched, {} errors",
        latency.len(),
        100.0 * latency.len() as f64 / expected_deliveries.max(1) as f64,
        tally.unmatched,
        tally.errors
    );
    println!(
        "fan-out latency (send → subscriber): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(latency, 0.50),
        ms(latency, 0.99),
        latency.max() as f64 / 1000.0
    );
    Ok(())
}

//! One shipped operation under load from `wrk` (a separate process, loopback
//! only, fixed duration): requests per second, p50/p99, errors and SQL
//! statements per request per subgraph.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use super::cpu::{Sample, StackCpu};
use crate::bench_stack::{document_id, persisted_body, BENCH};
use crate::stack::{self, subgraphs, State};

/// The wrk script: request bodies from a file, errors counted (see the file).
const SCRIPT: &str = include_str!("request.lua");

/// One request body per line, each sending the shipped operation by its
/// persisted-query id with its one variable set to one of `values`.
fn bodies(operation: &str, document_id: &str, variable: &str, values: &[String]) -> String {
    values
        .iter()
        .map(|value| {
            let variables = serde_json::json!({ variable: value });
            persisted_body(operation, document_id, variables).to_string() + "\n"
        })
        .collect()
}

fn statements(port: u16) -> Result<u64> {
    Ok(stack::metric(port, "nova_sql_statements_total")? as u64)
}

fn field(line: &str, name: &str) -> Result<f64> {
    line.split_whitespace()
        .find_map(|part| part.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("wrk printed no {name}"))
}

/// One shipped operation under load, with the values its one variable takes.
pub struct Scenario<'a> {
    pub name: &'a str,
    pub operation: &'a str,
    pub variable: &'a str,
    pub values: &'a [String],
}

/// Throughput, tail latency and the stack's CPU time per request of one run.
pub struct Measured {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub cpu_ms_per_request: f64,
    /// The CPU time each process of the stack spent during the run.
    pub cpu: Sample,
}

pub fn run_scenario(
    root: &Path,
    state: &State,
    scenario: &Scenario,
    (label, router_port): (&str, u16),
    token: &str,
    (seconds, connections): (u64, u32),
) -> Result<Measured> {
    let name = format!("{} ({label})", scenario.name);
    let script_path = state.dir.join("bench-request.lua");
    std::fs::write(&script_path, SCRIPT)?;
    let bodies_path = state
        .dir
        .join(format!("bench-{}.bodies", scenario.name.replace(' ', "-")));
    let document_id = document_id(root, scenario.operation)?;
    let bodies = bodies(
        scenario.operation,
        &document_id,
        scenario.variable,
        scenario.values,
    );
    std::fs::write(&bodies_path, bodies)?;
    let before: Vec<u64> = (0..subgraphs().len())
        .map(|i| statements(BENCH.subgraph_port(i)))
        .collect::<Result<_>>()?;
    let cpu = StackCpu::of(state)?;
    let cpu_before = cpu.sample()?;
    let output = Command::new("wrk")
        .args([
            &format!("-t{}", connections.min(2)),
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(&script_path)
        .arg(format!("http://127.0.0.1:{router_port}/graphql"))
        .arg("--")
        .arg(&bodies_path)
        .arg(token)
        .output()
        .context("running wrk")?;
    let cpu_spent = cpu.sample()?.since(&cpu_before);
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("NOVA "))
        .with_context(|| {
            format!(
                "wrk failed: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let requests = field(line, "requests")?;
    let per_request: Vec<String> = subgraphs()
        .iter()
        .enumerate()
        .map(|(i, subgraph)| {
            let spent = statements(BENCH.subgraph_port(i))? - before[i];
            Ok(format!(
                "{subgraph} {:.2}",
                spent as f64 / requests.max(1.0)
            ))
        })
        .collect::<Result<_>>()?;
    let measured = Measured {
        requests_per_second: requests / field(line, "seconds")?,
        p50_ms: field(line, "p50_us")? / 1000.0,
        p99_ms: field(line, "p99_us")? / 1000.0,
        cpu_ms_per_request: cpu_spent.total() * 1000.0 / requests.max(1.0),
        cpu: cpu_spent,
    };
    println!(
        "{name:<27} {:>8.1} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   CPU {:.2} ms/request   errors {:>3} (+{} socket)   SQL/request: {}",
        measured.requests_per_second,
        measured.p50_ms,
        measured.p99_ms,
        measured.cpu_ms_per_request,
        field(line, "errors")?,
        field(line, "socket_errors")?,
        per_request.join(", ")
    );
    Ok(measured)
}

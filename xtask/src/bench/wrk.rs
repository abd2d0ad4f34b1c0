//! One shipped operation under load from `wrk` (a separate process, loopback
//! only, fixed duration): requests per second, p50/p99, errors and SQL
//! statements per request per subgraph.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::bench_stack::{document_id, BENCH};
use crate::stack::{self, subgraphs, State};

/// A wrk script that sends one shipped operation by its persisted-query id with
/// its variable drawn at random from `values`, and counts GraphQL errors.
fn script(
    operation: &str,
    document_id: &str,
    variable: &str,
    values: &[String],
    token: &str,
) -> String {
    let values: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
    format!(
        r#"local values = {{{values}}}
local threads = {{}}
errors = 0
-- Each thread draws values at random from its own seed: threads walking one list
-- in lock step send identical requests together, and the router's in-flight
-- deduplication merges them, which flatters the figures.
setup = function(thread)
  table.insert(threads, thread)
  thread:set("seed", #threads)
end
init = function(args) math.randomseed(seed) end
request = function()
  local value = values[math.random(#values)]
  local body = '{{"operationName":"{operation}","extensions":{{"persistedQuery":{{"version":1,"sha256Hash":"{document_id}"}}}},"variables":{{"{variable}":"' .. value .. '"}}}}'
  return wrk.format("POST", "/graphql", {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer {token}"}}, body)
end
response = function(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then errors = errors + 1 end
end
done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("errors") end
  io.write(string.format("NOVA requests=%d seconds=%.3f p50_us=%d p99_us=%d errors=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    total, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"#,
        values = values.join(",")
    )
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

/// Throughput and tail latency of one run.
pub struct Measured {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
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
    let script_path = state
        .dir
        .join(format!("bench-{}.lua", scenario.name.replace(' ', "-")));
    let script = script(
        scenario.operation,
        &document_id(root, scenario.operation)?,
        scenario.variable,
        scenario.values,
        token,
    );
    std::fs::write(&script_path, script)?;
    let before: Vec<u64> = (0..subgraphs().len())
        .map(|i| statements(BENCH.subgraph_port(i)))
        .collect::<Result<_>>()?;
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
        .output()
        .context("running wrk")?;
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
    };
    println!(
        "{name:<27} {:>8.1} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   errors {:>3} (+{} socket)   SQL/request: {}",
        measured.requests_per_second,
        measured.p50_ms,
        measured.p99_ms,
        field(line, "errors")?,
        field(line, "socket_errors")?,
        per_request.join(", ")
    );
    Ok(measured)
}

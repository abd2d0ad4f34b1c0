//! `nova rollout start|status|step|promote|abort`: move fields to another
//! subgraph for a growing share of requests, gated on the new subgraph's error
//! rate (docs/registry.md, "Progressive rollout").

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{refused, Client, Failure, Outcome};
use crate::report::print_report;

#[derive(Subcommand)]
pub enum RolloutCommand {
    /// Publish a subgraph version whose new `@override(from: ...)` fields move
    /// for the first step's share of requests only.
    Start {
        /// The subgraph the fields move to.
        #[arg(long)]
        name: String,
        /// Where the router reaches it.
        #[arg(long)]
        url: String,
        /// Its SDL file, with `@override(from: "<old subgraph>")` on each field
        /// that moves.
        #[arg(long)]
        schema: PathBuf,
        /// The subgraph is not in the registry yet.
        #[arg(long)]
        new: bool,
        /// Percent of requests per step, ending at 100.
        #[arg(long, value_delimiter = ',', default_value = "5,50,100")]
        steps: Vec<i32>,
        /// The gate fails when more than this share of the new subgraph's
        /// answers are errors.
        #[arg(long, default_value_t = 0.01)]
        max_error_rate: f64,
        /// Answers the gate needs at a step before it judges.
        #[arg(long, default_value_t = 100)]
        min_requests: i64,
        #[arg(long, default_value = "")]
        message: String,
    },
    /// The active rollout (or the last one) and its gate.
    Status,
    /// Move to the next step's share (the gate must pass).
    Step,
    /// At 100 %: publish the schema without the label; the rollout ends.
    Promote,
    /// Send every request to the old subgraph again.
    Abort {
        #[arg(long, default_value = "")]
        reason: String,
    },
}

pub async fn run(client: &Client, command: RolloutCommand) -> Outcome {
    let (path, body) = match command {
        RolloutCommand::Status => {
            let answer = client.get("/v1/rollouts/current").await?;
            match answer.get("rollout").filter(|r| !r.is_null()) {
                Some(rollout) => print_rollout(rollout),
                None => println!("no rollout yet"),
            }
            return Ok(());
        }
        RolloutCommand::Start {
            name,
            url,
            schema,
            new,
            steps,
            max_error_rate,
            min_requests,
            message,
        } => {
            let sdl = std::fs::read_to_string(&schema)
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", schema.display())))?;
            let body = json!({
                "subgraph": name, "url": url, "sdl": sdl, "new": new, "message": message,
                "steps": steps, "maxErrorRate": max_error_rate, "minRequests": min_requests,
            });
            ("/v1/rollouts", body)
        }
        RolloutCommand::Step => ("/v1/rollouts/step", json!({})),
        RolloutCommand::Promote => ("/v1/rollouts/promote", json!({})),
        RolloutCommand::Abort { reason } => ("/v1/rollouts/abort", json!({ "reason": reason })),
    };
    let request = client.request(reqwest::Method::POST, path)?.json(&body);
    let (status, answer) = client.send(request).await?;
    if let Some(report) = answer.get("report").or(answer["publish"].get("report")) {
        print_report(report);
    }
    if !(200..300).contains(&status) {
        return Err(refused(status, &answer));
    }
    if answer["publish"]["status"] == "published" {
        println!(
            "published {} → supergraph {}",
            answer["publish"]["versionId"].as_str().unwrap_or(""),
            answer["publish"]["supergraphId"].as_str().unwrap_or("")
        );
    }
    print_rollout(&answer["rollout"]);
    Ok(())
}

fn print_rollout(rollout: &Value) {
    let text = |key: &str| rollout[key].as_str().unwrap_or("").to_string();
    println!(
        "rollout {} ({}): {}",
        rollout["id"],
        rollout["label"].as_str().unwrap_or("-"),
        text("state")
    );
    if !rollout["subgraph"].is_null() {
        let fields: Vec<&str> = rollout["fields"]
            .as_array()
            .map(|f| f.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        println!("  moves {} to {}", fields.join(", "), text("subgraph"));
        println!("  requests on the new subgraph: {} %", rollout["percent"]);
        let gate = &rollout["gate"];
        match gate["state"].as_str() {
            Some("waiting") => println!(
                "  gate: waiting ({} of {} answers)",
                gate["seen"], gate["needed"]
            ),
            Some(state) => println!(
                "  gate: {state}, error rate {:.2} % over {} answers (at most {:.2} %)",
                gate["errorRate"].as_f64().unwrap_or(0.0) * 100.0,
                rollout["stepRequests"],
                rollout["maxErrorRate"].as_f64().unwrap_or(0.0) * 100.0
            ),
            None => {}
        }
    }
    if !text("reason").is_empty() {
        println!("  {}", text("reason"));
    }
    if text("state") == "aborted" {
        println!(
            "  every request goes to the old subgraph; publish the subgraph again to drop the labelled @override"
        );
    }
}

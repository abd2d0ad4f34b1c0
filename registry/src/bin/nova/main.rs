//! `nova`: the operators' command line for the schema registry (`nova --help`),
//! and `nova admin` for roles (identity's database, `IDENTITY_DATABASE_URL`).
//!
//! `NOVA_REGISTRY_URL` (default http://127.0.0.1:4100) and `NOVA_REGISTRY_TOKEN`.
//! Exit codes: 0 done, 1 rejected by the registry (checks, bad input, unknown
//! subgraph), 2 bad usage or configuration, 3 the registry could not be reached
//! or failed, 4 the token was refused (401, 403).

mod admin;
mod client;
mod report;
mod rollout;
mod supergraph;
mod sync;
mod usage;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use client::{refused, Client, Failure, Outcome};
use report::print_report;

#[derive(Parser)]
#[command(
    name = "nova",
    about = "Operate Nova's schema registry: publish and check subgraphs, roll back, keep a router's supergraph file current",
    after_help = "environment: NOVA_REGISTRY_URL (default http://127.0.0.1:4100), NOVA_REGISTRY_TOKEN, IDENTITY_DATABASE_URL (admin)\n\
                  exit codes: 0 done, 1 rejected, 2 bad usage, 3 registry unreachable or failing, 4 token refused"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Publish, check and list subgraphs.
    #[command(subcommand)]
    Subgraph(SubgraphCommand),
    /// The composed supergraph: history, rollback, fetch, sync.
    #[command(subcommand)]
    Supergraph(SupergraphCommand),
    /// Tokens for the registry's configuration.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Roles of accounts, on identity's database (IDENTITY_DATABASE_URL).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Move fields to another subgraph step by step (start, status, step,
    /// promote, abort).
    #[command(subcommand)]
    Rollout(rollout::RolloutCommand),
    /// Which fields the routers' traffic used (their usage reports), and which
    /// none did.
    Usage {
        /// The last this many days (default: the registry's window).
        #[arg(long)]
        days: Option<u32>,
        /// Only the fields no request used.
        #[arg(long)]
        unused: bool,
    },
}

/// A subgraph's schema as published: name, routing URL, SDL file.
#[derive(Args)]
struct SchemaArgs {
    #[arg(long)]
    name: String,
    /// Where the router reaches the subgraph.
    #[arg(long)]
    url: String,
    /// The subgraph's SDL file.
    #[arg(long)]
    schema: PathBuf,
    /// Add a subgraph the registry does not have yet (a name it does not know
    /// is refused otherwise).
    #[arg(long)]
    new: bool,
    /// Hold the change against operations routers executed in the last this
    /// many days (default: the registry's window, NOVA_REGISTRY_USAGE_DAYS).
    #[arg(long)]
    usage_days: Option<u32>,
}

#[derive(Subcommand)]
enum SubgraphCommand {
    /// Compose, check and make current (exit 1 when rejected).
    Publish {
        #[command(flatten)]
        schema: SchemaArgs,
        /// Recorded with the version.
        #[arg(long, default_value = "")]
        message: String,
        /// Publish although shipped operations would break (never past a failed
        /// composition).
        #[arg(long)]
        force: bool,
    },
    /// The report a publish would get; nothing is stored (exit 1 when a
    /// publish would be rejected).
    Check {
        #[command(flatten)]
        schema: SchemaArgs,
    },
    /// The current supergraph's subgraphs: name and URL.
    List,
    /// Published versions of one subgraph.
    Versions {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum SupergraphCommand {
    /// Every supergraph, newest first; `*` marks the current one.
    History,
    /// Make an earlier supergraph current again, after the same checks.
    Rollback {
        /// The supergraph's id (from `history`).
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "")]
        message: String,
        #[arg(long)]
        force: bool,
    },
    /// Write the current supergraph to a file once.
    Fetch {
        #[arg(long)]
        out: PathBuf,
    },
    /// Keep a file equal to the current supergraph (what a router reads).
    Sync {
        #[arg(long)]
        out: PathBuf,
        /// Also keep this file equal to the active rollout labels (the
        /// router's NOVA_ROLLOUTS_PATH).
        #[arg(long)]
        rollouts_out: Option<PathBuf>,
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// The SHA-256 a registry is configured with for `token`.
    Hash { token: String },
}

fn read_sdl(schema: &SchemaArgs) -> Result<String, Failure> {
    std::fs::read_to_string(&schema.schema)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", schema.schema.display())))
}

async fn publish(client: &Client, schema: &SchemaArgs, message: &str, force: bool) -> Outcome {
    let name = &schema.name;
    let body = json!({
        "url": schema.url,
        "sdl": read_sdl(schema)?,
        "message": message,
        "force": force,
        "new": schema.new,
        "usageDays": schema.usage_days,
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

async fn check(client: &Client, schema: &SchemaArgs) -> Outcome {
    let body = json!({
        "url": schema.url,
        "sdl": read_sdl(schema)?,
        "new": schema.new,
        "usageDays": schema.usage_days,
    });
    let request = client
        .request(
            reqwest::Method::POST,
            &format!("/v1/subgraphs/{}/check", schema.name),
        )?
        .json(&body);
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

async fn list(client: &Client) -> Outcome {
    let answer = client.get("/v1/subgraphs").await?;
    for subgraph in answer["subgraphs"].as_array().cloned().unwrap_or_default() {
        println!(
            "{} {}",
            subgraph["name"].as_str().unwrap_or(""),
            subgraph["url"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

async fn versions(client: &Client, name: &str) -> Outcome {
    let answer = client
        .get(&format!("/v1/subgraphs/{name}/versions"))
        .await?;
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

async fn run(command: Command) -> Outcome {
    let client = Client::from_env();
    match command {
        Command::Subgraph(SubgraphCommand::Publish {
            schema,
            message,
            force,
        }) => publish(&client, &schema, &message, force).await,
        Command::Subgraph(SubgraphCommand::Check { schema }) => check(&client, &schema).await,
        Command::Subgraph(SubgraphCommand::List) => list(&client).await,
        Command::Subgraph(SubgraphCommand::Versions { name }) => versions(&client, &name).await,
        Command::Supergraph(SupergraphCommand::History) => supergraph::history(&client).await,
        Command::Supergraph(SupergraphCommand::Rollback { to, message, force }) => {
            supergraph::rollback(&client, &to, &message, force).await
        }
        Command::Supergraph(SupergraphCommand::Fetch { out }) => sync::fetch(&client, &out).await,
        Command::Supergraph(SupergraphCommand::Sync {
            out,
            rollouts_out,
            interval_ms,
        }) => {
            let interval = Duration::from_millis(interval_ms);
            sync::sync(&client, &out, rollouts_out.as_deref(), interval).await
        }
        Command::Admin(command) => admin::run(command).await,
        Command::Usage { days, unused } => usage::usage(&client, days, unused).await,
        Command::Rollout(command) => rollout::run(&client, command).await,
        Command::Token(TokenCommand::Hash { token }) => {
            println!("{}", nova_registry::auth::hash_token(&token));
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // Bad usage exits 2 with clap's message and usage, as documented.
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn publish_takes_new_and_force() {
        let cli = Cli::try_parse_from([
            "nova",
            "subgraph",
            "publish",
            "--name",
            "reviews",
            "--url",
            "http://r/graphql",
            "--schema",
            "r.graphql",
            "--new",
            "--force",
        ])
        .unwrap();
        let Command::Subgraph(SubgraphCommand::Publish { schema, force, .. }) = cli.command else {
            panic!("not a publish");
        };
        assert!(schema.new && force);
        assert_eq!(schema.name, "reviews");
    }

    #[test]
    fn a_missing_option_is_a_usage_error() {
        let error = Cli::try_parse_from(["nova", "subgraph", "publish", "--name", "x"])
            .err()
            .expect("refused");
        assert_eq!(error.exit_code(), 2);
    }
}

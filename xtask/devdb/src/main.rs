//! `cargo sql prepare | check` (an alias in .cargo/config.toml): the query macros'
//! data in `.sqlx/`. See `sql.rs`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo sql",
    bin_name = "cargo sql",
    about = "SQL checked at compile time: the scratch databases and the query macros' data in .sqlx/"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Recreate the scratch databases from the migrations and rewrite `.sqlx/`
    /// (after changing a statement or a migration; commit `.sqlx/`).
    Prepare,
    /// Fail when `.sqlx/` does not match the statements and migrations.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = nova_devdb::workspace_root();
    let check = matches!(cli.command, Command::Check);
    match nova_devdb::sql::prepare(&root, check) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

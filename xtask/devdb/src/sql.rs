//! SQL checked at compile time. Each statement is a `sqlx::query!` (or
//! `query_as!`, `query_scalar!`) macro, which checks it against a database migrated
//! like its crate's own: columns, parameter and result types, nullability.
//!
//! Every crate with queries gets a scratch database `nova_sql_<crate>` on the
//! development cluster, and a `.env` in its folder (ignored by git, readable by its
//! owner only) naming it: while that file is there the macros check live, so an
//! edited statement compiles at once. `.sqlx/` at the workspace root holds what they
//! learnt and is committed: builds without a `.env` (a new clone, CI's clippy)
//! check offline against it. `cargo sql prepare` rewrites it; `cargo sql check`
//! fails when it is stale.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use sqlx::migrate::Migrator;

use crate::postgres::{self, Postgres};
use crate::tools::{installed, Tool};
use crate::{run, write_secret_file, State};

const SQLX_CLI: Tool = Tool {
    package: "sqlx-cli",
    // The workspace's sqlx: its query data format must match the macros'.
    version: "0.8.6",
    // Postgres only; rustls so no system TLS library is needed.
    features: "postgres,rustls",
    default_features: false,
    binary: "cargo-sqlx",
    locked: true,
};

/// A crate whose code holds query macros, and the migrations its database runs.
struct SqlCrate {
    dir: String,
    database: String,
    migrations: Vec<String>,
}

/// nova-core (the event backbone's tables), the registry, and every subgraph of
/// `supergraph.yaml` (its own tables and the event backbone's, as
/// `Db::connect_and_migrate` runs them).
fn sql_crates(root: &Path) -> Result<Vec<SqlCrate>> {
    let subgraphs = nova_schema::supergraph_config::read(root)?;
    let mut crates = vec![
        SqlCrate {
            dir: "crates/nova-core".into(),
            database: "nova_sql_core".into(),
            migrations: vec!["events".into()],
        },
        SqlCrate {
            dir: "registry".into(),
            database: "nova_sql_registry".into(),
            migrations: vec!["registry".into()],
        },
    ];
    crates.extend(subgraphs.into_iter().map(|subgraph| SqlCrate {
        dir: format!("subgraphs/{}", subgraph.name),
        database: format!("nova_sql_{}", subgraph.name),
        migrations: vec![subgraph.name, "events".into()],
    }));
    Ok(crates)
}

fn env_file(root: &Path, krate: &SqlCrate) -> PathBuf {
    root.join(&krate.dir).join(".env")
}

/// Bring every scratch database up to the migrations as they are now, and point
/// each crate's `.env` at its database. `up` and `test` call it (`fresh`: false,
/// a database is recreated only when its applied migrations were edited), so the
/// macros check live whenever the development cluster runs; `cargo sql prepare`
/// and `check` recreate them all.
pub fn prepare_databases(root: &Path, pg: &Postgres, fresh: bool) -> Result<()> {
    for krate in sql_crates(root)? {
        if fresh {
            postgres::recreate_database(pg, &krate.database)?;
        } else {
            postgres::ensure_database(pg, &krate.database)?;
        }
        if let Err(error) = postgres::block_on(migrate(root, pg, &krate)) {
            if fresh {
                return Err(error);
            }
            println!("{}: {error:#}; recreating it", krate.database);
            postgres::recreate_database(pg, &krate.database)?;
            postgres::block_on(migrate(root, pg, &krate))?;
        }
        write_secret_file(
            &env_file(root, &krate),
            &format!(
                "# Written by nova-devdb (xtask/devdb/src/sql.rs): the query macros check against this.\n\
                 DATABASE_URL={}\n",
                pg.url(&krate.database)
            ),
        )?;
    }
    Ok(())
}

async fn migrate(root: &Path, pg: &Postgres, krate: &SqlCrate) -> Result<()> {
    let mut migrations = Vec::new();
    for dir in &krate.migrations {
        let path = root.join("migrations").join(dir);
        let migrator = Migrator::new(path.as_path())
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        migrations.extend(migrator.iter().cloned());
    }
    let combined = Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    };
    let mut connection = postgres::connect(pg, &krate.database).await?;
    combined
        .run(&mut connection)
        .await
        .with_context(|| format!("migrating {}", krate.database))
}

/// Remove the `.env` files: without the cluster the macros must read `.sqlx/`
/// (`down` calls this before stopping Postgres).
pub fn remove_env_files(root: &Path) -> Result<()> {
    for krate in sql_crates(root)? {
        match std::fs::remove_file(env_file(root, &krate)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(error).context("removing a crate's .env");
            }
            _ => {}
        }
    }
    Ok(())
}

/// `cargo sql prepare` (write `.sqlx/`) or `cargo sql check` (fail when it is
/// stale): sqlx-cli's `cargo sqlx prepare --workspace`, which recompiles every crate
/// with query macros against the scratch databases.
pub fn prepare(root: &Path, check: bool) -> Result<()> {
    let state = State::open(root)?;
    let pg = postgres::ensure_running(&state)?;
    prepare_databases(root, &pg, true)?;
    let cargo_sqlx = installed(root, &SQLX_CLI)?;
    let mut command = Command::new(cargo_sqlx);
    command
        .current_dir(root)
        .args(["sqlx", "prepare", "--workspace"])
        // Each crate's `.env` names its database; one URL for all would be wrong.
        .env_remove("DATABASE_URL")
        .env(
            "CARGO",
            std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
        );
    if check {
        command.arg("--check");
    }
    run(&mut command)
}

//! `<subgraph> migrate`: what a deployment runs once before new versions start
//! (the Helm chart's pre-install/pre-upgrade Job). It applies the subgraph's
//! migrations and the event backbone's, exits 0, and does it again harmlessly.

use std::path::PathBuf;
use std::process::{Command, Output};

use nova_e2e::{required_env, scratch_database};
use sqlx::Connection;

fn migrate(binary: &str, database_url: &str) -> Output {
    let bin_dir = PathBuf::from(required_env("NOVA_BIN_DIR").unwrap());
    Command::new(bin_dir.join(binary))
        .arg("migrate")
        .env_clear()
        .env("DATABASE_URL", database_url)
        .output()
        .expect("the subgraph binary runs")
}

fn migration_files(folder: &str) -> i64 {
    let root = PathBuf::from(required_env("NOVA_ROOT").unwrap());
    std::fs::read_dir(root.join("migrations").join(folder))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|ext| ext == "sql")
        })
        .count() as i64
}

#[tokio::test]
async fn migrate_applies_every_migration_once_and_exits() {
    let url = scratch_database("migrate").await.unwrap();
    // Only DATABASE_URL: no router secret, broker or port is needed to migrate.
    let first = migrate("nova-users", &url);
    assert!(first.status.success(), "{first:?}");
    let again = migrate("nova-users", &url);
    assert!(again.status.success(), "{again:?}");

    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(
        applied,
        migration_files("users") + migration_files("events")
    );
    let profiles: i64 = sqlx::query_scalar("SELECT count(*) FROM profiles")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(profiles, 0);
}

#[tokio::test]
async fn migrate_without_a_database_url_says_what_is_missing() {
    let bin_dir = PathBuf::from(required_env("NOVA_BIN_DIR").unwrap());
    let output = Command::new(bin_dir.join("nova-content"))
        .arg("migrate")
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

//! ClickHouse over its HTTP interface, with `JSONEachRow` both ways: the one
//! wire format that Debian's 18.16 server (development, tests, CI) and current
//! servers (production) share. 18.16 has no query parameters, so values are
//! written into the SQL — only values this crate formats itself (ids, numbers,
//! the kinds in `events::kind`), never text from a request.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use nova_core::readiness::Dependency;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::settings::AnalyticsSettings;

/// One ClickHouse request's limit: a hung server fails the call, not the caller.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The columns of both tables: plain `DateTime` and `String`, which 18.16 and
/// current releases read alike.
const COLUMNS: &str = "event_id String, kind String, occurred_at DateTime, actor_id String, \
     author_id String, post_id String, ingested_at DateTime";

/// Each table and its sort order. `ReplacingMergeTree` keyed by the whole
/// sorting key, which holds the event id: a redelivered event is one more row
/// until a merge folds it, so reads count distinct event ids, never `count()`.
/// `events`, every event, by author then post: `Post.stats` and
/// `creatorStats` read a key range. `interactions`, the likes and comments of
/// one account on another's post again, by who did them: a viewer's affinity
/// reads a key range.
pub const TABLES: [(&str, &str); 2] = [
    ("events", "author_id, post_id, kind, event_id"),
    ("interactions", "actor_id, author_id, kind, event_id"),
];

#[derive(Clone)]
pub struct ClickHouse {
    http: reqwest::Client,
    url: String,
    database: String,
    user: Option<String>,
    password: Option<String>,
}

impl ClickHouse {
    pub fn new(settings: &AnalyticsSettings) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        Ok(Self {
            http,
            url: settings.clickhouse_url.trim_end_matches('/').to_string(),
            database: settings.clickhouse_database.clone(),
            user: settings.clickhouse_user.clone(),
            password: settings.clickhouse_password.clone(),
        })
    }

    /// The qualified name of table `name`.
    pub fn table(&self, name: &str) -> String {
        format!("{}.{name}", self.database)
    }

    /// Send `body` with `query` in the URL (an insert's data), or the SQL as
    /// the body; the answer's text, or ClickHouse's error.
    async fn send(&self, query: Option<&str>, body: String) -> Result<String> {
        let mut request = self.http.post(format!("{}/", self.url)).body(body);
        // Numbers as JSON numbers, not the strings 64-bit integers default to.
        request = request.query(&[("output_format_json_quote_64bit_integers", "0")]);
        if let Some(query) = query {
            request = request.query(&[("query", query)]);
        }
        if let Some(user) = &self.user {
            request = request.header("X-ClickHouse-User", user);
        }
        if let Some(password) = &self.password {
            request = request.header("X-ClickHouse-Key", password);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach ClickHouse at {}", self.url))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .context("reading ClickHouse's answer")?;
        if !status.is_success() {
            bail!("ClickHouse answered {status}: {}", text.trim());
        }
        Ok(text)
    }

    /// Run a statement that returns nothing (DDL, `ALTER … DELETE`).
    pub async fn execute(&self, sql: &str) -> Result<()> {
        self.send(None, sql.to_string()).await.map(|_| ())
    }

    /// Insert `rows` into `table` in one request.
    pub async fn insert<T: Serialize>(&self, table: &str, rows: &[T]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut body = String::new();
        for row in rows {
            body.push_str(&serde_json::to_string(row)?);
            body.push('\n');
        }
        let query = format!("INSERT INTO {} FORMAT JSONEachRow", self.table(table));
        self.send(Some(&query), body).await.map(|_| ())
    }

    /// The rows of a `SELECT` (without its `FORMAT`).
    pub async fn select<T: DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>> {
        let text = self.send(None, format!("{sql} FORMAT JSONEachRow")).await?;
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line)
                    .with_context(|| format!("unexpected row from ClickHouse: {line}"))
            })
            .collect()
    }

    /// Create the database and the table if missing.
    pub async fn ensure_schema(&self) -> Result<()> {
        self.execute(&format!("CREATE DATABASE IF NOT EXISTS {}", self.database))
            .await?;
        for (table, order) in TABLES {
            self.execute(&format!(
                "CREATE TABLE IF NOT EXISTS {} ({COLUMNS}) ENGINE = ReplacingMergeTree() \
                 PARTITION BY toYYYYMM(occurred_at) ORDER BY ({order})",
                self.table(table)
            ))
            .await?;
        }
        Ok(())
    }

    /// Mark `dependency` up while ClickHouse answers (and has the tables), down
    /// while it does not; checks every `interval`, forever. The tables are
    /// created at the first answer and again after each outage (a server may
    /// come back empty); in between a check is `SELECT 1`.
    pub async fn watch(self, dependency: Dependency, interval: Duration) {
        let mut has_tables = false;
        loop {
            let check = if has_tables {
                self.execute("SELECT 1").await
            } else {
                self.ensure_schema().await
            };
            has_tables = check.is_ok();
            match check {
                Ok(()) => dependency.up(),
                Err(error) => {
                    if dependency.problem().is_none() {
                        tracing::warn!(error = %format!("{error:#}"), "ClickHouse is down");
                    }
                    dependency.down(format!("{error:#}"));
                }
            }
            tokio::time::sleep(interval).await;
        }
    }
}

/// A value of ours as a SQL string literal: ids are hex and dashes, nothing to
/// escape.
pub fn quoted(id: uuid::Uuid) -> String {
    format!("'{id}'")
}

//! Operating a running test stack: replicas, restarts, crashes, the registry,
//! metrics, databases, users and GraphQL requests.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{json, Value};
use sqlx::Connection;

use crate::processes::{database_url, free_port, Process, Subgraph};
use crate::response::Response;
use crate::Stack;

impl Stack {
    /// REDIS_URL of this stack's Redis.
    pub fn redis_url(&self) -> String {
        self.redis.url()
    }

    /// The HTTP URL of this stack's ClickHouse (analytics' events).
    pub fn clickhouse_url(&self) -> String {
        self.clickhouse.url()
    }

    /// KAFKA_BROKERS of this stack's broker.
    pub fn kafka_brokers(&self) -> String {
        self.broker.brokers()
    }

    /// SIGKILL a process of the stack, as a crash or an out-of-memory kill
    /// would; `restart_subgraph` brings a subgraph back.
    pub fn kill(&mut self, name: &str) {
        drop(self.take_process(name));
    }

    fn take_process(&mut self, name: &str) -> Option<Process> {
        let index = self.processes.iter().position(|p| p.name == name)?;
        Some(self.processes.remove(index))
    }

    /// Start a second router replica with the first one's settings (same
    /// subgraphs, same Redis); returns its `/graphql` URL.
    pub async fn start_second_router(&mut self) -> Result<String> {
        self.start_router_replica("router-2", &[]).await
    }

    /// Start another router as process `process_name` with the first one's
    /// settings and `overrides` on top (`NOVA_CHAT_URL` to send it to another
    /// chat instance, ...); returns its `/graphql` URL.
    pub async fn start_router_replica(
        &mut self,
        process_name: &'static str,
        overrides: &[(&str, &str)],
    ) -> Result<String> {
        self.start_router_replica_on(process_name, free_port(), overrides)
            .await
    }

    /// `start_router_replica` on a port chosen beforehand (`Stack::free_port`),
    /// for a service that must know the router's address before it starts.
    pub async fn start_router_replica_on(
        &mut self,
        process_name: &'static str,
        port: u16,
        overrides: &[(&str, &str)],
    ) -> Result<String> {
        let mut env = self.router_env.clone();
        env.push(("NOVA_ROUTER_PORT".into(), port.to_string()));
        env.extend(
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let process = self.launcher.spawn_nova_as(process_name, "router", &env)?;
        self.processes.push(process);
        self.wait_ready(&format!("http://127.0.0.1:{port}/readiness"))
            .await?;
        Ok(format!("http://127.0.0.1:{port}/graphql"))
    }

    /// The stack's own folder (logs, keys, files a test writes).
    pub fn state_dir(&self) -> &std::path::Path {
        &self.launcher.state_dir
    }

    /// A free port on 127.0.0.1.
    pub fn free_port() -> u16 {
        free_port()
    }

    /// Start another instance of subgraph `name` (same database, broker and
    /// Redis) as process `process_name`; returns its base URL.
    pub async fn start_subgraph_instance(
        &mut self,
        name: &str,
        process_name: &'static str,
    ) -> Result<String> {
        self.start_subgraph_instance_with(name, process_name, &[])
            .await
    }

    /// `start_subgraph_instance` with `extra_env` on top of the first's settings.
    pub async fn start_subgraph_instance_with(
        &mut self,
        name: &str,
        process_name: &'static str,
        extra_env: &[(&str, &str)],
    ) -> Result<String> {
        let port = free_port();
        let subgraph = self.subgraph(name);
        let mut env = subgraph.env.clone();
        env.push(("HTTP_PORT".into(), port.to_string()));
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let process = self
            .launcher
            .spawn_nova_as(process_name, subgraph.name, &env)?;
        self.processes.push(process);
        let url = format!("http://127.0.0.1:{port}");
        self.wait_ready(&format!("{url}/health/ready")).await?;
        Ok(url)
    }

    /// Kill the stack's Redis (the rate limits' store).
    pub fn stop_redis(&mut self) {
        drop(self.take_process("redis"));
    }

    /// Start the stack's Redis again on the same port.
    pub fn start_redis(&mut self) -> Result<()> {
        let process = self.redis.start(&self.launcher)?;
        self.processes.push(process);
        Ok(())
    }

    /// Stop the stack's ClickHouse (SIGTERM); its data stays for
    /// `start_clickhouse`.
    pub fn stop_clickhouse(&mut self) {
        self.terminate("clickhouse");
    }

    /// Start the stack's ClickHouse again on the same port and data.
    pub fn start_clickhouse(&mut self) -> Result<()> {
        let process = self.clickhouse.start(&self.launcher)?;
        self.processes.push(process);
        Ok(())
    }

    /// Stop the broker (SIGTERM, as an operator's restart would); its log stays
    /// for `start_broker`.
    pub fn stop_broker(&mut self) {
        self.terminate("kafka");
    }

    /// Stop process `name` as an operator would: SIGTERM, up to 10 s to exit,
    /// then SIGKILL (when the `Process` drops).
    pub fn terminate(&mut self, name: &str) {
        if let Some(mut process) = self.take_process(name) {
            // An error means it is already gone; the wait below sees it.
            let pid = nix::unistd::Pid::from_raw(process.child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = process.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Start the broker again on the same port and log.
    pub fn start_broker(&mut self) -> Result<()> {
        let process = self.broker.start(&self.launcher)?;
        self.processes.push(process);
        Ok(())
    }

    /// Stop a subgraph (if it runs) and start it again with `extra_env` added;
    /// waits until it is ready.
    pub async fn restart_subgraph(&mut self, name: &str, extra_env: &[(&str, &str)]) -> Result<()> {
        // Gracefully, so its consumers leave their groups rather than linger
        // until the session timeout (tansu did not always rebalance past a
        // killed member).
        self.terminate(name);
        let subgraph = self.subgraph(name);
        let (name, url) = (subgraph.name, subgraph.url.clone());
        let mut env = subgraph.env.clone();
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let process = self.launcher.spawn_nova(name, &env)?;
        self.processes.push(process);
        self.wait_ready(&format!("{url}/health/ready")).await
    }

    /// Wait for a process of the stack to exit on its own; its exit code.
    pub async fn wait_for_exit(&mut self, name: &str, timeout: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            let process = self.processes.iter_mut().find(|p| p.name == name)?;
            if let Ok(Some(status)) = process.child.try_wait() {
                self.take_process(name);
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// The value of one sample of a subgraph's /metrics, matched by its name and
    /// labels as printed (`name{label="value",...}`); a missing sample fails the test.
    pub async fn metric(&self, subgraph: &str, sample: &str) -> f64 {
        self.metric_at(self.subgraph_url(subgraph), sample).await
    }

    /// `metric` of the instance at `base_url` (a second instance of a subgraph).
    pub async fn metric_at(&self, base_url: &str, sample: &str) -> f64 {
        let (_, text) = self.get(&format!("{base_url}/metrics")).await;
        nova_core::scrape::sample_value(&text, sample)
            .unwrap_or_else(|| panic!("no {sample} in {base_url}/metrics:\n{text}"))
    }

    /// The URL of a subgraph's database.
    pub fn database_url(&self, subgraph: &str) -> String {
        database_url(&self.admin_url, self.database(subgraph))
    }

    /// Connect to a subgraph's database (to look at what it stored).
    pub async fn connect(&self, subgraph: &str) -> Result<sqlx::PgConnection> {
        Ok(sqlx::PgConnection::connect(&self.database_url(subgraph)).await?)
    }

    /// `GET url`: the status and the body text.
    pub async fn get(&self, url: &str) -> (u16, String) {
        let response = self.http.get(url).send().await.expect("the server answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Run one SQL statement as the test cluster's superuser.
    pub async fn admin_sql(&self, sql: &str) -> Result<()> {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::query(sql).execute(&mut admin).await?;
        Ok(())
    }

    /// `nova_sql_statements_total` of one subgraph, from its /metrics.
    pub async fn sql_statements(&self, subgraph: &str) -> u64 {
        let (_, text) = self
            .get(&format!("{}/metrics", self.subgraph_url(subgraph)))
            .await;
        text.lines()
            .find(|line| line.starts_with("nova_sql_statements_total"))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no nova_sql_statements_total in:\n{text}"))
    }

    fn subgraph(&self, name: &str) -> &Subgraph {
        self.subgraphs
            .iter()
            .find(|s| s.name == name)
            .expect("a subgraph this stack runs")
    }

    /// A subgraph's base URL (`http://127.0.0.1:<port>`).
    pub fn subgraph_url(&self, name: &str) -> &str {
        &self.subgraph(name).url
    }

    /// The name of a subgraph's database.
    pub fn database(&self, name: &str) -> &str {
        &self.subgraph(name).database
    }

    /// The log of the stack's process `name` so far (empty if there is none).
    pub fn log_of(&self, name: &str) -> String {
        self.processes
            .iter()
            .filter(|p| p.name == name)
            .map(|p| std::fs::read_to_string(&p.log).unwrap_or_default())
            .collect()
    }

    /// Every process's log, for a failing assertion's message.
    pub fn logs(&self) -> String {
        self.processes
            .iter()
            .map(|p| {
                format!(
                    "--- {} ---\n{}",
                    p.name,
                    std::fs::read_to_string(&p.log).unwrap_or_default()
                )
            })
            .collect()
    }

    /// Create a post as the user of `token`; its id.
    pub async fn create_post(&self, token: &str, body: &str) -> String {
        let created = self
            .graphql(
                Some(token),
                "mutation($b: String!) { createPost(body: $b) { id } }",
                json!({ "b": body }),
            )
            .await;
        created.expect_ok()["createPost"]["id"]
            .as_str()
            .expect("a post id")
            .to_string()
    }

    /// POST a GraphQL operation to the router, with an optional bearer token.
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Response {
        let mut request = self
            .http
            .post(&self.router_url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Response::from(request.send().await.expect("the router answers")).await
    }

    /// The `data` of an operation signed in with `token` that must succeed.
    pub async fn data_of(&self, token: &str, query: &str, variables: Value) -> Value {
        self.graphql(Some(token), query, variables)
            .await
            .expect_ok()
            .clone()
    }
}

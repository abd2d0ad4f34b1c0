//! What runs where: the processes of a stack (the development stack of `up`,
//! or the bench's), their ports, databases and environment.

use std::path::Path;
use std::sync::LazyLock;

use anyhow::Result;
use nova_core::events::kafka::LOCAL_BROKER_PARTITIONS;

use super::{key_base64, secret, State};
use crate::postgres::Postgres;

/// A process `up` runs: name, port, readiness path, environment.
pub struct Service {
    pub name: String,
    pub(super) binary: String,
    pub(super) port: u16,
    pub(super) ready_path: &'static str,
    pub(super) env: Vec<(String, String)>,
}

impl Service {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The same service as process `name` on `port`, with `extra_env` on top.
    pub fn variant(&self, name: &str, port: u16, extra_env: &[(&str, &str)]) -> Service {
        let mut env = self.env.clone();
        env.extend(extra_env.iter().map(|(k, v)| var(k, *v)));
        Service {
            name: name.to_string(),
            binary: self.binary.clone(),
            port,
            ready_path: self.ready_path,
            env,
        }
    }
}

/// Every subgraph a stack runs, in start order, as `supergraph.yaml` lists them
/// (binary `nova-<name>`, database `<prefix>_<name>`, ports after the router's
/// in this order). The router starts after them.
pub fn subgraphs() -> &'static [String] {
    static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
        match nova_schema::supergraph_config::read(&crate::workspace_root()) {
            Ok(subgraphs) => subgraphs.into_iter().map(|s| s.name).collect(),
            // Nothing runs without the list; say why and stop.
            Err(error) => {
                eprintln!("error: {error}");
                std::process::exit(1)
            }
        }
    });
    &NAMES
}

pub const ROUTER_PORT: u16 = 4000;

/// Where one stack runs: the development stack of `up`, or the bench's.
pub struct Layout {
    /// Prefix of process names (PID and log files).
    pub name_prefix: &'static str,
    /// Prefix of database names: `<prefix>_<subgraph>`.
    pub database_prefix: &'static str,
    /// The router's port; subgraph ports follow it in `subgraphs()` order.
    pub router_port: u16,
    /// The port of the layout's own Kafka broker.
    pub kafka_port: u16,
    /// The port of the layout's own Redis (the router's rate limits).
    pub redis_port: u16,
    /// The port of the layout's own SMTP server (identity's mail), if it runs one.
    pub smtp_port: Option<u16>,
    /// The port of the layout's own S3 store (media's objects).
    pub s3_port: u16,
    /// The HTTP port of the layout's own ClickHouse (analytics' events); its
    /// native protocol takes the next one.
    pub clickhouse_port: u16,
    /// Router settings of this layout on top of `router/router.yaml`'s defaults.
    pub router_env: &'static [(&'static str, &'static str)],
}

pub const DEVELOPMENT: Layout = Layout {
    name_prefix: "",
    database_prefix: "nova",
    router_port: ROUTER_PORT,
    kafka_port: 19092,
    redis_port: 56379,
    smtp_port: Some(55025),
    s3_port: 59000,
    clickhouse_port: 58123,
    router_env: &[],
};

impl Layout {
    /// Redis's process name (PID and log files).
    pub fn redis_process(&self) -> String {
        format!("{}redis", self.name_prefix)
    }

    /// The broker's process name (PID and log files, and its folder in `.nova/`).
    pub fn kafka_process(&self) -> String {
        format!("{}kafka", self.name_prefix)
    }

    pub fn subgraph_port(&self, index: usize) -> u16 {
        self.router_port + 1 + index as u16
    }

    /// The port of subgraph `name`.
    pub fn port_of(&self, name: &str) -> anyhow::Result<u16> {
        let index = subgraphs()
            .iter()
            .position(|s| s == name)
            .ok_or_else(|| anyhow::anyhow!("{name} is not a subgraph of supergraph.yaml"))?;
        Ok(self.subgraph_port(index))
    }

    pub fn database(&self, subgraph: &str) -> String {
        format!("{}_{subgraph}", self.database_prefix)
    }

    /// Process names, router first (the registry and its sync agent run in the
    /// development layout only).
    pub fn process_names(&self) -> Vec<String> {
        std::iter::once("router")
            .chain(subgraphs().iter().map(String::as_str))
            .chain([
                crate::registry::SYNC_PROCESS,
                crate::registry::REGISTRY_PROCESS,
            ])
            .map(|name| format!("{}{name}", self.name_prefix))
            .collect()
    }
}

/// One environment variable of a service.
fn var(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_string(), value.into())
}

pub fn services(
    state: &State,
    pg: &Postgres,
    kafka_brokers: &str,
    root: &Path,
    layout: &Layout,
) -> Result<Vec<Service>> {
    let router_secret = secret(state, "NOVA_ROUTER_SECRET")?;
    let key_path = state.dir.join("identity").join("jwt-ed25519.pem");
    let mut services = Vec::new();
    let mut router_env = vec![
        var(
            "ROUTER_CONFIG_FILE_PATH",
            root.join("router/router.yaml").display().to_string(),
        ),
        var("NOVA_ROUTER_SECRET", router_secret.clone()),
        var("NOVA_ROUTER_PORT", layout.router_port.to_string()),
        var(
            "REDIS_URL",
            format!("redis://127.0.0.1:{}", layout.redis_port),
        ),
        var(
            "NOVA_JWKS_URL",
            format!(
                "http://127.0.0.1:{}/.well-known/jwks.json",
                layout.port_of("identity")?
            ),
        ),
    ];
    router_env.extend(layout.router_env.iter().map(|(k, v)| var(k, *v)));
    for (index, name) in subgraphs().iter().enumerate() {
        let port = layout.subgraph_port(index);
        let mut env = vec![
            var("DATABASE_URL", pg.url(&layout.database(name))),
            var("KAFKA_BROKERS", kafka_brokers),
            var(
                "KAFKA_TOPIC_PARTITIONS",
                LOCAL_BROKER_PARTITIONS.to_string(),
            ),
            var("NOVA_ROUTER_SECRET", router_secret.clone()),
            var("RUST_LOG", "info".to_string()),
            var("HTTP_PORT", port.to_string()),
        ];
        if name == "identity" {
            env.push(var("JWT_PRIVATE_KEY_PATH", key_path.display().to_string()));
            env.push(var("JWT_GENERATE_KEY_IF_MISSING", "true".to_string()));
            if let Some(smtp_port) = layout.smtp_port {
                env.push(var("SMTP_HOST", "127.0.0.1"));
                env.push(var("SMTP_PORT", smtp_port.to_string()));
                env.push(var("SMTP_TLS", "none"));
                env.push(var("SMTP_FROM_EMAIL", "Nova <nova@localhost>"));
            }
        }
        // The owners it asks directly (nova_core::internal).
        for (_, variable, owner) in nova_core::internal::CALLS.iter().filter(|c| c.0 == *name) {
            let port = layout.port_of(owner)?;
            env.push(var(variable, format!("http://127.0.0.1:{port}")));
        }
        if name == "search" {
            let path = state
                .dir
                .join(format!("{}search-index", layout.name_prefix));
            env.push(var("SEARCH_INDEX_PATH", path.display().to_string()));
        }
        if name == "media" {
            let credentials = crate::s3::credentials(state)?;
            for (key, value) in crate::s3::media_env(layout.s3_port, &credentials) {
                env.push(var(key, value));
            }
        }
        if name == "analytics" {
            env.push(var("CLICKHOUSE_URL", crate::clickhouse::url(layout)));
        }
        if nova_core::live::SUBGRAPHS_WITH_REDIS.contains(&name.as_str()) {
            env.push(var(
                "REDIS_URL",
                format!("redis://127.0.0.1:{}", layout.redis_port),
            ));
        }
        if name == "chat" {
            env.push(var(
                "MESSAGE_ENCRYPTION_MASTER_KEY",
                key_base64(state, "MESSAGE_ENCRYPTION_MASTER_KEY")?,
            ));
        }
        // NOVA_IDENTITY_URL, NOVA_USERS_URL, ... as router/router.yaml reads them.
        router_env.push(var(
            &format!("NOVA_{}_URL", name.to_uppercase()),
            format!("http://127.0.0.1:{port}/graphql"),
        ));
        services.push(Service {
            name: format!("{}{name}", layout.name_prefix),
            binary: format!("nova-{name}"),
            port,
            ready_path: "/health/ready",
            env,
        });
    }
    services.push(Service {
        name: format!("{}router", layout.name_prefix),
        binary: "nova-router".to_string(),
        port: layout.router_port,
        ready_path: "/readiness",
        env: router_env,
    });
    Ok(services)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `up` gives each subgraph the port its routing URL in supergraph.yaml
    /// names, so the registry's published URLs reach the running subgraphs.
    #[test]
    fn development_ports_are_the_routing_urls_ports() {
        let config = nova_schema::supergraph_config::read(&crate::workspace_root()).unwrap();
        for entry in config {
            let port = DEVELOPMENT.port_of(&entry.name).unwrap();
            assert_eq!(
                entry.routing_url,
                format!("http://127.0.0.1:{port}/graphql"),
                "{}",
                entry.name
            );
        }
    }
}

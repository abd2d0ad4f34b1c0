//! A PostgreSQL cluster of one test's own. The shared cluster holds every other
//! test's databases, so a test that stops Postgres stops its own: created in a
//! temporary folder on a free port, removed when dropped.

use anyhow::Result;
use nova_devdb::cluster::Cluster;

use crate::processes::free_port;

pub struct OwnPostgres {
    cluster: Cluster,
}

impl OwnPostgres {
    /// initdb and start (a few seconds).
    pub fn start() -> Result<Self> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let cluster = Cluster {
            base: std::env::temp_dir().join(format!("nova-pg-{}", &id[..12])),
            port: free_port(),
            password: format!("own-{id}"),
        };
        std::fs::create_dir_all(&cluster.base)?;
        cluster.create_if_missing()?;
        cluster.start()?;
        Ok(Self { cluster })
    }

    /// The superuser's URL (what `Stack::start_on` creates databases through).
    pub fn admin_url(&self) -> String {
        self.cluster.url("postgres")
    }

    /// Stop the server (fast shutdown: sessions are cut, open transactions roll
    /// back) and wait until it is gone.
    pub fn stop(&self) -> Result<()> {
        self.cluster.stop()
    }

    /// Start the stopped server again; returns once it accepts connections.
    pub fn start_again(&self) -> Result<()> {
        self.cluster.start()
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        if self.cluster.is_running().unwrap_or(false) {
            let _ = self.cluster.stop();
        }
        let _ = std::fs::remove_dir_all(&self.cluster.base);
    }
}

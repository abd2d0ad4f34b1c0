//! `cargo xtask search reindex`: rebuild the development stack's search index
//! from search's tables and swap it in while queries go on (search's
//! `POST /internal/reindex`, with the router secret).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::stack::{self, State, DEVELOPMENT};

pub fn reindex(root: &Path) -> Result<()> {
    let state = State::open(root)?;
    let secret = stack::secret(&state, "NOVA_ROUTER_SECRET")?;
    let port = DEVELOPMENT.port_of("search")?;
    let (status, body) = stack::http(
        port,
        "POST",
        "/internal/reindex",
        &[("x-nova-router-secret", &secret)],
        "",
        Duration::from_secs(600),
    )?;
    if status != 200 {
        bail!("search answered {status}: {body}");
    }
    println!("reindexed: {body}");
    Ok(())
}

//! `cargo xtask compose`: print each subgraph's SDL into `schema/<name>.graphql`
//! and compose `schema/supergraph.graphql` with Apollo's composition (the
//! `apollo-federation` crate). `--check` only compares and fails when stale.

use std::path::Path;

use anyhow::{bail, Context, Result};
use nova_schema::{supergraph_config, SubgraphSource};

/// The SDL a subgraph's code exports. A new subgraph is added here and in
/// `supergraph.yaml`.
pub fn subgraph_sdl(name: &str) -> Result<String> {
    match name {
        "identity" => Ok(nova_identity::schema::sdl()),
        "users" => Ok(nova_users::schema::sdl()),
        "content" => Ok(nova_content::schema::sdl()),
        "social" => Ok(nova_social::schema::sdl()),
        "chat" => Ok(nova_chat::schema::sdl()),
        "notifications" => Ok(nova_notifications::schema::sdl()),
        "feed" => Ok(nova_feed::schema::sdl()),
        "search" => Ok(nova_search::schema::sdl()),
        "media" => Ok(nova_media::schema::sdl()),
        "analytics" => Ok(nova_analytics::schema::sdl()),
        other => bail!("supergraph.yaml names subgraph {other:?}, which xtask does not know"),
    }
}

/// Every generated file: (path relative to the root, contents).
pub fn generate(root: &Path) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    let mut subgraphs = Vec::new();
    let mut entries = supergraph_config::read(root)?;
    // By name, so the composed file does not change when the start order does.
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    for entry in entries {
        let sdl = subgraph_sdl(&entry.name)?;
        files.push((entry.schema_file.clone(), sdl.clone()));
        subgraphs.push(SubgraphSource {
            name: entry.name.clone(),
            url: entry.routing_url.clone(),
            sdl,
        });
    }
    let supergraph = nova_schema::compose(&subgraphs).map_err(|errors| {
        anyhow::anyhow!(
            "composition failed:\n{}",
            errors
                .iter()
                .map(|e| format!("  - {e}\n"))
                .collect::<String>()
        )
    })?;
    files.push(("schema/supergraph.graphql".to_string(), supergraph));
    Ok(files)
}

pub fn run(root: &Path, check: bool) -> Result<()> {
    let files = generate(root)?;
    let mut stale = Vec::new();
    for (relative, contents) in &files {
        let path = root.join(relative);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == *contents {
            continue;
        }
        if check {
            stale.push(relative.clone());
        } else {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, contents).with_context(|| format!("{}", path.display()))?;
            println!("wrote {relative}");
        }
    }
    if !stale.is_empty() {
        bail!(
            "generated schema files are stale: {}; run `cargo xtask compose`",
            stale.join(", ")
        );
    }
    if check {
        println!("schema files are current");
    }
    let operations = crate::operations::validate_all(root)?;
    println!("{operations} shipped operations validate against the supergraph");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed `schema/` must be what the code composes to.
    #[test]
    fn committed_schema_files_are_current() {
        let root = crate::workspace_root();
        run(&root, true).unwrap();
    }

    #[test]
    fn supergraph_joins_user_fields_from_both_subgraphs() {
        let files = generate(&crate::workspace_root()).unwrap();
        let supergraph = &files.last().unwrap().1;
        assert!(
            supergraph.contains("join__graph(name: \"identity\""),
            "{supergraph}"
        );
        assert!(
            supergraph.contains("join__graph(name: \"users\""),
            "{supergraph}"
        );
        assert!(supergraph.contains("displayName: String @join__field(graph: USERS)"));
        assert!(supergraph.contains("@authenticated"));
    }
}

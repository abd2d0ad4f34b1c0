//! `supergraph.yaml`: the one list of Nova's subgraphs (name, routing URL,
//! schema file, as `rover supergraph compose` reads it), in the order a stack
//! starts them: owners before the subgraphs that call them. Tools and tests
//! read the list from here instead of keeping their own.

use std::path::Path;

use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubgraphConfig {
    pub name: String,
    pub routing_url: String,
    /// Relative to the workspace root.
    pub schema_file: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SupergraphConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("supergraph.yaml is malformed: {0}")]
    Malformed(#[from] serde_yaml::Error),
    #[error("supergraph.yaml has no `subgraphs` mapping")]
    NoSubgraphs,
}

#[derive(Deserialize)]
struct Entry {
    routing_url: String,
    schema: SchemaSource,
}

#[derive(Deserialize)]
struct SchemaSource {
    file: String,
}

/// The subgraphs of a `supergraph.yaml` text, in the file's order.
pub fn parse(text: &str) -> Result<Vec<SubgraphConfig>, SupergraphConfigError> {
    let document: serde_yaml::Value = serde_yaml::from_str(text)?;
    let subgraphs = document
        .get("subgraphs")
        .and_then(serde_yaml::Value::as_mapping)
        .ok_or(SupergraphConfigError::NoSubgraphs)?;
    subgraphs
        .iter()
        .map(|(name, entry)| {
            let name: String = serde_yaml::from_value(name.clone())?;
            let entry: Entry = serde_yaml::from_value(entry.clone())?;
            Ok(SubgraphConfig {
                name,
                routing_url: entry.routing_url,
                schema_file: entry.schema.file.trim_start_matches("./").to_string(),
            })
        })
        .collect()
}

/// The subgraphs of `<root>/supergraph.yaml`, in the file's order.
pub fn read(root: &Path) -> Result<Vec<SubgraphConfig>, SupergraphConfigError> {
    let path = root.join("supergraph.yaml");
    let text = std::fs::read_to_string(&path).map_err(|source| SupergraphConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subgraphs_keep_the_files_order() {
        let text = "subgraphs:\n  zeta:\n    routing_url: http://z/graphql\n    schema:\n      file: ./schema/zeta.graphql\n  alpha:\n    routing_url: http://a/graphql\n    schema:\n      file: ./schema/alpha.graphql\n";
        let subgraphs = parse(text).unwrap();
        let names: Vec<&str> = subgraphs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
        assert_eq!(subgraphs[0].schema_file, "schema/zeta.graphql");
    }

    #[test]
    fn a_file_without_subgraphs_is_an_error() {
        assert!(matches!(
            parse("federation_version: =2.9.0\n"),
            Err(SupergraphConfigError::NoSubgraphs)
        ));
    }
}

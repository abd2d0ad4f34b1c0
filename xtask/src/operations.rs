//! The operations front-end teams ship (`persisted-queries/*.graphql`), checked
//! against the composed supergraph's API schema: a schema change that breaks a
//! shipped operation fails the tests.

use std::path::Path;

use anyhow::{bail, Context, Result};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use apollo_federation::{ApiSchemaOptions, Supergraph};

/// The client-facing schema of `schema/supergraph.graphql`.
pub fn api_schema(root: &Path) -> Result<Valid<Schema>> {
    let path = root.join("schema/supergraph.graphql");
    let sdl = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    // The router's spec list includes `@authenticated` (a SECURITY feature).
    let supergraph =
        Supergraph::new_with_router_specs(&sdl).map_err(|e| anyhow::anyhow!("supergraph: {e}"))?;
    let api = supergraph
        .to_api_schema(ApiSchemaOptions::default())
        .map_err(|e| anyhow::anyhow!("API schema: {e}"))?;
    Ok(api.schema().clone())
}

/// Every shipped operation file: (file name, contents), sorted by name.
pub fn operation_files(root: &Path) -> Result<Vec<(String, String)>> {
    let dir = root.join("persisted-queries");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("{}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "graphql") {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            files.push((name, std::fs::read_to_string(&path)?));
        }
    }
    files.sort();
    Ok(files)
}

/// Validate one document; the compiler's diagnostics on failure.
pub fn validate(schema: &Valid<Schema>, name: &str, source: &str) -> Result<ExecutableDocument> {
    ExecutableDocument::parse_and_validate(schema, source, name)
        .map(|document| document.into_inner())
        .map_err(|errors| anyhow::anyhow!("{}", errors.errors))
}

/// Validate every shipped operation; fails naming each file that does not validate.
pub fn validate_all(root: &Path) -> Result<usize> {
    let schema = api_schema(root)?;
    let files = operation_files(root)?;
    let mut broken = Vec::new();
    let mut operations = 0;
    for (name, source) in &files {
        match validate(&schema, name, source) {
            Ok(document) => operations += document.operations.iter().count(),
            Err(error) => broken.push(format!("{name}:\n{error}")),
        }
    }
    if !broken.is_empty() {
        bail!(
            "shipped operations no longer validate against the supergraph:\n{}",
            broken.join("\n")
        );
    }
    Ok(operations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_operation_validates_against_the_supergraph() {
        let operations = validate_all(&crate::workspace_root()).unwrap();
        assert!(operations >= 10, "found only {operations} operations");
    }

    #[test]
    fn an_operation_using_a_missing_field_is_refused() {
        let schema = api_schema(&crate::workspace_root()).unwrap();
        let error = validate(&schema, "broken.graphql", "query { me { id shoeSize } }")
            .unwrap_err()
            .to_string();
        assert!(error.contains("shoeSize"), "{error}");
        // The private federation fields are not part of the client schema.
        assert!(validate(&schema, "entities.graphql", "{ _service { sdl } }").is_err());
    }
}

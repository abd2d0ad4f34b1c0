//! The operations front-end teams ship (`persisted-queries/*.graphql`), checked
//! against the composed supergraph's API schema: a schema change that breaks a
//! shipped operation fails the tests.

use std::path::Path;

use anyhow::{bail, Context, Result};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};

/// The client-facing schema of `schema/supergraph.graphql`.
pub fn api_schema(root: &Path) -> Result<Valid<Schema>> {
    let path = root.join("schema/supergraph.graphql");
    let sdl = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    nova_schema::api_schema(&sdl).map_err(|e| anyhow::anyhow!(e))
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

/// Where `cargo xtask pq` writes the manifest.
pub const MANIFEST: &str = "persisted-queries/manifest.json";

/// The persisted query manifest (Apollo's format, version 1; Hive Router reads it):
/// one entry per named operation, `id` = SHA-256 of `body`, sorted by name. A body is
/// the operation as printed by apollo-compiler, followed by the fragments of its file.
pub fn manifest(root: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let schema = api_schema(root)?;
    let mut operations = Vec::new();
    for (file, source) in operation_files(root)? {
        let document = validate(&schema, &file, &source).with_context(|| file.clone())?;
        if document.operations.anonymous.is_some() {
            bail!("{file}: every shipped operation needs a name");
        }
        let fragments: String = document
            .fragments
            .values()
            .map(|fragment| format!("\n{}", fragment.serialize()))
            .collect();
        for (name, operation) in &document.operations.named {
            let body = format!("{}{fragments}", operation.serialize());
            let id = format!("{:x}", Sha256::digest(body.as_bytes()));
            let kind = operation.operation_type.to_string();
            operations.push((name.to_string(), id, kind, body));
        }
    }
    operations.sort();
    for pair in operations.windows(2) {
        if pair[0].0 == pair[1].0 {
            bail!("two shipped operations are named {}", pair[0].0);
        }
    }
    let entries: Vec<serde_json::Value> = operations
        .into_iter()
        .map(|(name, id, kind, body)| {
            serde_json::json!({ "id": id, "name": name, "type": kind, "body": body })
        })
        .collect();
    let manifest = serde_json::json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": entries,
    });
    Ok(format!("{}\n", serde_json::to_string_pretty(&manifest)?))
}

/// `cargo xtask pq [--check]`: write the manifest, or fail when the committed one is
/// stale. Fails as well when any operation does not validate.
pub fn run_pq(root: &Path, check: bool) -> Result<()> {
    let manifest = manifest(root)?;
    let path = root.join(MANIFEST);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == manifest {
        println!("{MANIFEST} is current");
    } else if check {
        bail!("{MANIFEST} is stale; run `cargo xtask pq`");
    } else {
        std::fs::write(&path, manifest)?;
        println!("wrote {MANIFEST}");
    }
    Ok(())
}

#[cfg(test)]
mod manifest_tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn committed_manifest_is_current() {
        run_pq(&crate::workspace_root(), true).unwrap();
    }

    #[test]
    fn manifest_ids_are_the_sha256_of_the_bodies() {
        let text = manifest(&crate::workspace_root()).unwrap();
        let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(manifest["format"], "apollo-persisted-query-manifest");
        let operations = manifest["operations"].as_array().unwrap();
        assert!(operations
            .iter()
            .any(|o| o["name"] == "PostPage" && o["type"] == "query"));
        assert!(operations
            .iter()
            .any(|o| o["name"] == "FollowUser" && o["type"] == "mutation"));
        for operation in operations {
            let body = operation["body"].as_str().unwrap();
            let id = format!("{:x}", Sha256::digest(body.as_bytes()));
            assert_eq!(operation["id"], id.as_str());
        }
    }
}

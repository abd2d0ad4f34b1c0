//! The operations front-end teams ship (`persisted-queries/*/*.graphql`), checked
//! against the composed supergraph's API schema: a schema change that breaks a
//! shipped operation fails the tests.

use std::path::Path;

use anyhow::{bail, Context, Result};
use apollo_compiler::ast::OperationType;
use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};

/// The client-facing schema of `schema/supergraph.graphql`.
pub fn api_schema(root: &Path) -> Result<Valid<Schema>> {
    let path = root.join("schema/supergraph.graphql");
    let sdl = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    nova_schema::api_schema(&sdl).map_err(|e| anyhow::anyhow!(e))
}

/// Every shipped operation file (`persisted-queries/<component>/<Operation>.graphql`):
/// (path under `persisted-queries/`, contents), sorted by path.
pub fn operation_files(root: &Path) -> Result<Vec<(String, String)>> {
    let dir = root.join("persisted-queries");
    let mut files = Vec::new();
    for component in std::fs::read_dir(&dir).with_context(|| format!("{}", dir.display()))? {
        let component = component?.path();
        if !component.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&component)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "graphql") {
                let name = path.strip_prefix(&dir)?.display().to_string();
                files.push((name, std::fs::read_to_string(&path)?));
            }
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

/// The first field (or inline fragment) below the root whose selection set lacks
/// `__typename`. Apollo Client adds it to every such set before hashing; urql adds
/// it to queries and mutations only, so a subscription must carry it already.
fn missing_typename(root: &SelectionSet) -> Option<String> {
    root.selections.iter().find_map(|selection| {
        let (name, nested) = match selection {
            Selection::Field(field) => (field.name.to_string(), &field.selection_set),
            Selection::InlineFragment(fragment) => {
                ("inline fragment".to_string(), &fragment.selection_set)
            }
            Selection::FragmentSpread(spread) => {
                return Some(format!(
                    "...{} (spell the fields out)",
                    spread.fragment_name
                ))
            }
        };
        if nested.selections.is_empty() {
            return None;
        }
        let has_typename = nested
            .selections
            .iter()
            .any(|s| matches!(s, Selection::Field(f) if f.name == "__typename"));
        if !has_typename {
            return Some(name);
        }
        missing_typename(nested)
    })
}

/// Validate every shipped operation; fails naming each file that does not validate.
pub fn validate_all(root: &Path) -> Result<usize> {
    let schema = api_schema(root)?;
    let files = operation_files(root)?;
    let mut broken = Vec::new();
    let mut operations = 0;
    for (name, source) in &files {
        match validate(&schema, name, source) {
            // Apollo's manifest generator takes one operation per document.
            Ok(document) if document.operations.iter().count() != 1 => {
                broken.push(format!("{name}: holds more than one operation"))
            }
            Ok(document) => {
                let operation = document.operations.iter().next().expect("one operation");
                if operation.operation_type == OperationType::Subscription {
                    if let Some(field) = missing_typename(&operation.selection_set) {
                        broken.push(format!(
                            "{name}: `{field}` selects no __typename (a subscription spells \
                             it out in every selection set, or urql's id for it is not the \
                             manifest's)"
                        ));
                    }
                }
                operations += 1;
            }
            Err(error) => broken.push(format!("{name}:\n{error}")),
        }
    }
    if !broken.is_empty() {
        bail!(
            "shipped operations are not valid against the supergraph:\n{}",
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
        let untyped = validate(
            &schema,
            "s.graphql",
            "subscription S { homeFeedUpdated { post { id } __typename } }",
        )
        .unwrap();
        let operation = untyped.operations.iter().next().unwrap();
        assert_eq!(
            missing_typename(&operation.selection_set).as_deref(),
            Some("post")
        );
        // The private federation fields are not part of the client schema.
        assert!(validate(&schema, "entities.graphql", "{ _service { sdl } }").is_err());
    }
}

/// Where `cargo xtask pq` writes the manifest.
pub const MANIFEST: &str = "persisted-queries/manifest.json";

/// `cargo xtask pq [--check]`: write the persisted-query manifest with Apollo's own
/// generator (`@apollo/generate-persisted-query-manifest`), so each id is what
/// Apollo Client's persisted-queries link computes for the same operation (it adds
/// `__typename` to selection sets and hashes its own printed form). Or fail when
/// the committed manifest is stale. Fails as well when an operation does not
/// validate against the supergraph, or a file holds more than one operation.
pub fn run_pq(root: &Path, check: bool) -> Result<()> {
    validate_all(root)?;
    let path = root.join(MANIFEST);
    if !check {
        crate::clients::generate_manifest(root, &path)?;
        println!("wrote {MANIFEST}");
        return Ok(());
    }
    let fresh = std::env::temp_dir().join(format!("nova-pq-check-{}.json", std::process::id()));
    let generated = crate::clients::generate_manifest(root, &fresh)
        .and_then(|()| Ok(std::fs::read_to_string(&fresh)?));
    std::fs::remove_file(&fresh).ok();
    if generated? != std::fs::read_to_string(&path).unwrap_or_default() {
        bail!("{MANIFEST} is stale; run `cargo xtask pq`");
    }
    println!("{MANIFEST} is current");
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
        let path = crate::workspace_root().join(MANIFEST);
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
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

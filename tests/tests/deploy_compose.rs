//! `compose.yaml` and the `Dockerfile`, checked without a container engine (none
//! runs on these machines): the compose file against the Compose
//! specification's JSON schema (check-jsonschema), and everything the images
//! and services name — build targets, binaries, copied and mounted files — must
//! exist in the workspace.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use nova_e2e::required_env;
use serde_yaml::Value;

fn root() -> PathBuf {
    PathBuf::from(required_env("NOVA_ROOT").unwrap())
}

fn compose() -> Value {
    let text = std::fs::read_to_string(root().join("compose.yaml")).unwrap();
    let mut compose: Value = serde_yaml::from_str(&text).unwrap();
    // `<<: *anchor` merges, as Compose applies them.
    compose.apply_merge().unwrap();
    compose
}

fn dockerfile() -> String {
    std::fs::read_to_string(root().join("Dockerfile")).unwrap()
}

/// The binaries the workspace builds (`[[bin]]` targets of its packages).
fn workspace_binaries() -> BTreeSet<String> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(root().join("Cargo.toml"))
        .no_deps()
        .exec()
        .unwrap();
    metadata
        .packages
        .iter()
        .flat_map(|package| &package.targets)
        .filter(|target| target.is_bin())
        .map(|target| target.name.clone())
        .collect()
}

#[test]
fn compose_yaml_follows_the_compose_specification() {
    let checkers = PathBuf::from(required_env("NOVA_DEPLOY_CHECKERS_BIN").unwrap());
    let output = Command::new(checkers.join("check-jsonschema"))
        .arg("--schemafile")
        .arg(required_env("NOVA_COMPOSE_SCHEMA").unwrap())
        .arg(root().join("compose.yaml"))
        .output()
        .expect("check-jsonschema runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_image_builds_from_what_the_workspace_has() {
    let dockerfile = dockerfile();
    let stages: BTreeSet<&str> = dockerfile
        .lines()
        .filter(|line| line.starts_with("FROM "))
        .filter_map(|line| line.split(" AS ").nth(1))
        .map(str::trim)
        .collect();
    // The build stage builds exactly these binaries, each a workspace binary.
    let built: BTreeSet<String> = dockerfile
        .split("--bin ")
        .skip(1)
        .map(|rest| rest.split_whitespace().next().unwrap().to_string())
        .collect();
    let binaries = workspace_binaries();
    let unknown: Vec<&String> = built.difference(&binaries).collect();
    assert!(
        unknown.is_empty(),
        "built but not in the workspace: {unknown:?}"
    );
    // What the stages copy from the build context (not from another stage).
    for line in dockerfile.lines().filter(|line| line.starts_with("COPY ")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[1].starts_with("--from=") || words[1] == "." {
            continue;
        }
        assert!(root().join(words[1]).exists(), "{line}: no {}", words[1]);
    }
    // What each stage copies from the build stage was built there.
    for line in dockerfile
        .lines()
        .filter(|l| l.starts_with("COPY --from=build"))
    {
        let source = line.split_whitespace().nth(2).unwrap();
        let binary = source.rsplit('/').next().unwrap();
        assert!(
            binary == "${BIN}" || built.contains(binary),
            "{line}: {binary} is not built"
        );
    }

    let compose = compose();
    let services = compose["services"].as_mapping().unwrap();
    let mut subgraph_binaries = BTreeSet::new();
    for (name, service) in services {
        let name = name.as_str().unwrap();
        if let Some(build) = service.get("build") {
            let target = build["target"].as_str().unwrap();
            assert!(stages.contains(target), "{name}: no stage {target}");
            if let Some(binary) = build.get("args").and_then(|args| args.get("BIN")) {
                let binary = binary.as_str().unwrap();
                assert!(built.contains(binary), "{name}: {binary} is not built");
                subgraph_binaries.insert(binary.to_string());
            }
        }
        // Files mounted from the repository exist.
        for volume in service
            .get("volumes")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let source = volume.as_str().unwrap().split(':').next().unwrap();
            if source.starts_with("./") {
                assert!(root().join(source).exists(), "{name}: no {source}");
            }
        }
    }
    // Every subgraph of the supergraph runs, each from its own binary.
    let expected: BTreeSet<String> = nova_e2e::subgraphs()
        .iter()
        .map(|name| format!("nova-{name}"))
        .collect();
    assert_eq!(subgraph_binaries, expected);
}

#[test]
fn every_internal_call_is_wired_in_compose() {
    let compose = compose();
    for (caller, variable, owner) in nova_core::internal::CALLS {
        let value = &compose["services"][caller]["environment"][variable];
        let url = value
            .as_str()
            .unwrap_or_else(|| panic!("{caller} has no {variable}"));
        let port = compose["services"][owner]["environment"]["HTTP_PORT"]
            .as_str()
            .unwrap();
        assert_eq!(url, format!("http://{owner}:{port}"), "{caller} {variable}");
    }
}

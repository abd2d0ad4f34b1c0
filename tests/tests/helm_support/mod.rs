//! What the Helm chart tests share: rendering the chart with Helm's Go SDK
//! (`helm/render.py`) into a folder removed on drop, and reading what it made.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nova_e2e::required_env;
use serde::Deserialize;
use serde_yaml::Value;

pub fn checkers() -> PathBuf {
    PathBuf::from(required_env("NOVA_DEPLOY_CHECKERS_BIN").unwrap())
}

pub fn assert_succeeded(what: &str, output: Output) {
    assert!(
        output.status.success(),
        "{what}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The chart, linted and rendered into a folder of its own, removed on drop.
pub struct Rendered {
    folder: PathBuf,
    pub file: PathBuf,
}

impl Drop for Rendered {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

pub fn render() -> Rendered {
    render_with("{}")
}

/// Render with `values` (JSON) over the chart's defaults.
pub fn render_with(values: &str) -> Rendered {
    let root = PathBuf::from(required_env("NOVA_ROOT").unwrap());
    let folder = std::env::temp_dir().join(format!("nova-helm-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&folder).unwrap();
    let rendered = Rendered {
        file: folder.join("nova.yaml"),
        folder,
    };
    let output = Command::new(checkers().join("python"))
        .arg(root.join("helm/render.py"))
        .arg(root.join("helm/nova"))
        .arg(&rendered.file)
        .arg("nova")
        .arg(values)
        .output()
        .expect("python runs");
    assert_succeeded("helm lint and render", output);
    rendered
}

pub fn objects(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).unwrap())
        .filter(|object| !object.is_null())
        .collect()
}

pub fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

pub fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap()
}

/// A variable of a Deployment's first container.
pub fn env_of<'a>(deployment: &'a Value, variable: &str) -> Option<&'a str> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()?
        .iter()
        .find(|e| e["name"] == variable)
        .and_then(|e| e["value"].as_str())
}

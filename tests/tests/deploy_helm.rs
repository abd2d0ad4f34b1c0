//! The Helm chart `helm/nova`, checked the way CI can without a cluster: linted
//! and rendered with Helm's Go SDK (helm-python-sdk, `helm/render.py`; each
//! test renders it afresh into a folder it removes), every
//! rendered object validated strictly against the Kubernetes schemas
//! (kubernetes-validate), scanned by checkov with no failed check, and its
//! network policies compared with the internal calls Nova makes
//! (`nova_core::internal::CALLS`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nova_e2e::required_env;
use serde::Deserialize;
use serde_yaml::Value;

fn checkers() -> PathBuf {
    PathBuf::from(required_env("NOVA_DEPLOY_CHECKERS_BIN").unwrap())
}

fn assert_succeeded(what: &str, output: Output) {
    assert!(
        output.status.success(),
        "{what}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The chart, linted and rendered into a folder of its own, removed on drop.
struct Rendered {
    folder: PathBuf,
    file: PathBuf,
}

impl Drop for Rendered {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

fn render() -> Rendered {
    render_with("{}")
}

/// Render with `values` (JSON) over the chart's defaults.
fn render_with(values: &str) -> Rendered {
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

fn objects(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).unwrap())
        .filter(|object| !object.is_null())
        .collect()
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap()
}

#[test]
fn every_rendered_object_is_valid_kubernetes_strictly() {
    let output = Command::new(checkers().join("kubernetes-validate"))
        .args(["--strict", "--quiet"])
        .arg(&render().file)
        .output()
        .unwrap();
    assert_succeeded("kubernetes-validate --strict", output);
}

#[test]
fn checkov_fails_no_check_and_every_skip_says_why() {
    let rendered = render();
    let output = Command::new(checkers().join("checkov"))
        .args(["--framework", "kubernetes", "--quiet", "--compact", "-f"])
        .arg(&rendered.file)
        .output()
        .unwrap();
    assert_succeeded("checkov", output);
    for object in objects(&rendered.file) {
        let annotations = object["metadata"]["annotations"].as_mapping();
        for (key, value) in annotations.into_iter().flatten() {
            if key.as_str().unwrap().starts_with("checkov.io/skip") {
                let (check, reason) = value.as_str().unwrap().split_once('=').unwrap();
                assert!(check.starts_with("CKV"), "{check}");
                assert!(
                    reason.len() > 40,
                    "{}: skip {check} without a reason",
                    name(&object)
                );
            }
        }
    }
}

#[test]
fn subgraphs_admit_the_router_and_exactly_the_internal_calls_made() {
    let objects = objects(&render().file);
    let component = |selector: &Value| {
        selector["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            .as_str()
            .map(str::to_string)
    };
    for subgraph in nova_e2e::subgraphs() {
        let policy = of_kind(&objects, "NetworkPolicy")
            .into_iter()
            .find(|p| name(p) == subgraph)
            .unwrap_or_else(|| panic!("no NetworkPolicy for {subgraph}"));
        let admitted: BTreeSet<String> = policy["spec"]["ingress"][0]["from"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(component)
            .collect();
        let mut expected: BTreeSet<String> = nova_core::internal::CALLS
            .iter()
            .filter(|(_, _, owner)| owner == subgraph)
            .map(|(caller, _, _)| caller.to_string())
            .collect();
        expected.insert("router".into());
        assert_eq!(admitted, expected, "who may call {subgraph}");
    }
    // Each caller is told where its owners are, and of no other owner.
    for deployment in of_kind(&objects, "Deployment") {
        let caller = name(deployment);
        let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_sequence()
            .unwrap();
        let urls: BTreeSet<(String, String)> = env
            .iter()
            .filter(|e| e["name"].as_str().unwrap().ends_with("_SERVICE_URL"))
            .map(|e| {
                (
                    e["name"].as_str().unwrap().into(),
                    e["value"].as_str().unwrap().into(),
                )
            })
            .collect();
        let expected: BTreeSet<(String, String)> = nova_core::internal::CALLS
            .iter()
            .filter(|(from, _, _)| *from == caller)
            .map(|(_, variable, owner)| {
                let port = objects
                    .iter()
                    .find(|o| o["kind"] == "Service" && name(o) == *owner)
                    .map(|service| service["spec"]["ports"][0]["port"].as_u64().unwrap())
                    .unwrap();
                (variable.to_string(), format!("http://{owner}:{port}"))
            })
            .collect();
        assert_eq!(urls, expected, "internal calls of {caller}");
    }
}

#[test]
fn every_subgraph_migrates_before_it_rolls_and_scales_with_a_disruption_budget() {
    let objects = objects(&render().file);
    for subgraph in nova_e2e::subgraphs() {
        let job = of_kind(&objects, "Job")
            .into_iter()
            .find(|j| name(j) == format!("{subgraph}-migrations"))
            .unwrap_or_else(|| panic!("no migration Job for {subgraph}"));
        assert_eq!(
            job["metadata"]["annotations"]["helm.sh/hook"],
            "pre-install,pre-upgrade"
        );
        let container = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["args"][0], "migrate");
        for kind in ["Deployment", "Service", "NetworkPolicy"] {
            assert!(
                of_kind(&objects, kind).iter().any(|o| name(o) == subgraph),
                "no {kind} for {subgraph}"
            );
        }
    }
    // Search keeps one instance by default (its index is per instance): no
    // autoscaler and no disruption budget that would block a node drain; every
    // other subgraph and the router scale on CPU and keep one pod through
    // voluntary disruptions.
    let mut expected: BTreeSet<&str> = nova_e2e::subgraphs()
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "search")
        .collect();
    expected.insert("router");
    for kind in ["HorizontalPodAutoscaler", "PodDisruptionBudget"] {
        let present: BTreeSet<&str> = of_kind(&objects, kind).into_iter().map(name).collect();
        assert_eq!(present, expected, "{kind}s");
    }
}

/// The value of environment variable `variable` in a Deployment's container.
fn env_of<'a>(deployment: &'a Value, variable: &str) -> Option<&'a str> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()?
        .iter()
        .find(|e| e["name"] == variable)
        .and_then(|e| e["value"].as_str())
}

#[test]
fn traces_are_off_by_default_and_reach_every_process_when_an_endpoint_is_set() {
    let defaults = objects(&render().file);
    for deployment in of_kind(&defaults, "Deployment") {
        assert_eq!(
            env_of(deployment, "OTEL_EXPORTER_OTLP_ENDPOINT"),
            None,
            "{}",
            name(deployment)
        );
    }
    let collector = "http://otel-collector.observability:4318";
    let values =
        format!(r#"{{"tracing": {{"otlpEndpoint": "{collector}", "samplingRate": "0.25"}}}}"#);
    let traced_objects = objects(&render_with(&values).file);
    let mut traced: BTreeSet<&str> = BTreeSet::new();
    for deployment in of_kind(&traced_objects, "Deployment") {
        if env_of(deployment, "OTEL_EXPORTER_OTLP_ENDPOINT") == Some(collector) {
            traced.insert(name(deployment));
        }
    }
    let mut expected: BTreeSet<&str> = nova_e2e::subgraphs().iter().map(String::as_str).collect();
    expected.insert("router");
    assert_eq!(traced, expected, "processes exporting traces");
    let router = of_kind(&traced_objects, "Deployment")
        .into_iter()
        .find(|d| name(d) == "router")
        .expect("the router's Deployment");
    assert_eq!(
        env_of(router, "TELEMETRY_TRACING_SAMPLING_RATE"),
        Some("0.25")
    );
}

/// Who the registry's NetworkPolicy admits by pod label (`app.kubernetes.io/component`).
fn registry_admits_pods(objects: &[Value]) -> Vec<String> {
    let policy = of_kind(objects, "NetworkPolicy")
        .into_iter()
        .find(|p| name(p) == "registry")
        .expect("the registry's NetworkPolicy");
    policy["spec"]["ingress"][0]["from"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|peer| {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn usage_reports_are_off_by_default_and_open_exactly_router_to_registry() {
    let defaults = objects(&render().file);
    let router = |objects: &[Value]| {
        (*of_kind(objects, "Deployment")
            .iter()
            .find(|d| name(d) == "router")
            .expect("the router's Deployment"))
        .clone()
    };
    assert_eq!(
        env_of(&router(&defaults), "HIVE_USAGE_REPORTING_ENABLED"),
        None
    );
    assert!(registry_admits_pods(&defaults).is_empty());

    let rendered = render_with(r#"{"router": {"usageReporting": true}}"#);
    let output = Command::new(checkers().join("kubernetes-validate"))
        .args(["--strict", "--quiet"])
        .arg(&rendered.file)
        .output()
        .unwrap();
    assert_succeeded("kubernetes-validate --strict, usage reports on", output);
    let reporting = objects(&rendered.file);
    let deployment = router(&reporting);
    assert_eq!(
        env_of(&deployment, "HIVE_USAGE_REPORTING_ENABLED"),
        Some("true")
    );
    assert_eq!(
        env_of(&deployment, "NOVA_USAGE_REPORTING_URL"),
        Some("http://registry:4100/v1/usage")
    );
    let token = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "HIVE_ACCESS_TOKEN")
        .expect("HIVE_ACCESS_TOKEN is set");
    assert_eq!(
        token["valueFrom"]["secretKeyRef"]["key"],
        "registry-report-token"
    );
    assert_eq!(registry_admits_pods(&reporting), ["router"]);
}

//! The Helm chart `helm/nova`, checked the way CI can without a cluster: linted
//! and rendered with Helm's Go SDK (helm-python-sdk, `helm/render.py`; each
//! test renders it afresh into a folder it removes), every
//! rendered object validated strictly against the Kubernetes schemas
//! (kubernetes-validate), scanned by checkov with no failed check, and its
//! network policies compared with the internal calls Nova makes
//! (`nova_core::internal::CALLS`).

use std::collections::BTreeSet;
use std::process::Command;

use serde_yaml::Value;

mod helm_support;
use helm_support::*;

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

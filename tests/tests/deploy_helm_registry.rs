//! The Helm chart's wiring of the routers to the schema registry: usage
//! reports, and routers that follow the registry (supergraph sync, rollout
//! labels, the rollout gate reading every router pod). Rendered and checked as
//! in `deploy_helm.rs`.

use std::process::Command;

use serde_yaml::Value;

mod helm_support;
use helm_support::*;

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

/// Routers following the registry: the supergraph fetched before the router
/// starts, a sync container keeping it and the rollout labels current where the
/// router reads them, and the registry's gate reading every router pod.
#[test]
fn routers_follow_the_registry_only_when_asked_and_then_the_gate_reaches_them() {
    let deployment = |objects: &[Value], wanted: &str| {
        (*of_kind(objects, "Deployment")
            .iter()
            .find(|d| name(d) == wanted)
            .expect("a Deployment"))
        .clone()
    };
    let defaults = objects(&render().file);
    let router = deployment(&defaults, "router");
    assert_eq!(env_of(&router, "NOVA_ROLLOUTS_PATH"), None);
    assert!(router["spec"]["template"]["spec"]["initContainers"].is_null());

    let rendered = render_with(r#"{"router": {"followRegistry": true}}"#);
    for checker in [
        &["kubernetes-validate", "--strict", "--quiet"][..],
        &[
            "checkov",
            "--framework",
            "kubernetes",
            "--quiet",
            "--compact",
            "-f",
        ],
    ] {
        let output = Command::new(checkers().join(checker[0]))
            .args(&checker[1..])
            .arg(&rendered.file)
            .output()
            .unwrap();
        assert_succeeded(checker[0], output);
    }
    let following = objects(&rendered.file);
    let router = deployment(&following, "router");
    let pod = &router["spec"]["template"]["spec"];
    let command = |container: &Value| -> Vec<String> {
        container["command"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|part| part.as_str().unwrap().to_string())
            .collect()
    };
    let fetch = command(&pod["initContainers"][0]);
    assert_eq!(fetch[1..4], ["supergraph", "fetch", "--out"]);
    let sync = pod["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "supergraph-sync")
        .expect("the sync container");
    let sync = command(sync);
    let after = |flag: &str| sync[sync.iter().position(|a| a == flag).unwrap() + 1].clone();
    let router_container = pod["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "router")
        .unwrap();
    let env = |variable: &str| {
        router_container["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|e| e["name"] == variable)
            .and_then(|e| e["value"].as_str())
            .map(str::to_string)
    };
    assert_eq!(env("NOVA_SUPERGRAPH_PATH"), Some(after("--out")));
    assert_eq!(
        env("NOVA_SUPERGRAPH_PATH").as_deref(),
        Some(fetch[4].as_str())
    );
    assert_eq!(env("NOVA_ROLLOUTS_PATH"), Some(after("--rollouts-out")));
    let registry = deployment(&following, "registry");
    assert_eq!(
        env_of(&registry, "NOVA_REGISTRY_ROUTER_METRICS"),
        Some("http://router-pods:4000/metrics/nova")
    );
    let headless = of_kind(&following, "Service")
        .into_iter()
        .find(|s| name(s) == "router-pods")
        .expect("the router-pods Service");
    assert_eq!(headless["spec"]["clusterIP"], "None");
    assert_eq!(registry_admits_pods(&following), ["router"]);
    let router_policy = of_kind(&following, "NetworkPolicy")
        .into_iter()
        .find(|p| name(p) == "router")
        .unwrap();
    let admitted: Vec<&str> = router_policy["spec"]["ingress"][0]["from"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|peer| {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"].as_str()
        })
        .collect();
    assert_eq!(admitted, ["registry"]);
}

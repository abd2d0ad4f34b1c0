//! The files operators deploy Nova with, checked by the tools operators use:
//! Prometheus's scrape configuration, Nova's alert rules and their unit tests
//! (`deploy/prometheus/tests/`), and the Grafana dashboard's queries, all with
//! promtool.

use std::path::PathBuf;
use std::process::Command;

use nova_e2e::required_env;

fn prometheus_dir() -> PathBuf {
    PathBuf::from(required_env("NOVA_ROOT").unwrap()).join("deploy/prometheus")
}

/// Run promtool with `args` in deploy/prometheus; panics with its output when it
/// reports a problem.
fn promtool(args: &[&str]) {
    let promtool = required_env("NOVA_PROMTOOL_BIN").unwrap();
    let output = Command::new(&promtool)
        .args(args)
        .current_dir(prometheus_dir())
        .output()
        .expect("promtool runs");
    assert!(
        output.status.success(),
        "promtool {}:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn files_in(folder: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(prometheus_dir().join(folder))
        .unwrap()
        .map(|entry| format!("{folder}/{}", entry.unwrap().file_name().to_string_lossy()))
        .filter(|name| name.ends_with(".yml"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no .yml files in deploy/prometheus/{folder}"
    );
    files
}

#[test]
fn the_scrape_configuration_is_valid() {
    promtool(&["check", "config", "prometheus.yml"]);
}

#[test]
fn the_alert_rules_are_valid_and_pass_their_unit_tests() {
    let rules = files_in("rules");
    let mut check = vec!["check", "rules"];
    check.extend(rules.iter().map(String::as_str));
    promtool(&check);
    let tests = files_in("tests");
    let mut test = vec!["test", "rules"];
    test.extend(tests.iter().map(String::as_str));
    promtool(&test);
}

/// The Grafana dashboard's queries are PromQL promtool accepts (each checked as
/// a recording rule), and every panel has a query.
#[test]
fn the_dashboard_queries_parse() {
    let root = PathBuf::from(required_env("NOVA_ROOT").unwrap());
    let text =
        std::fs::read_to_string(root.join("deploy/grafana/nova-golden-signals.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut rules = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{} has no query", panel["title"]);
        for target in targets {
            rules.push(serde_json::json!({
                "record": format!("dashboard:query_{}", rules.len()),
                "expr": target["expr"].as_str().unwrap(),
            }));
        }
    }
    let file = std::env::temp_dir().join(format!("nova-dashboard-{}.yml", uuid::Uuid::now_v7()));
    let groups = serde_json::json!({ "groups": [{ "name": "dashboard", "rules": rules }] });
    std::fs::write(&file, serde_yaml::to_string(&groups).unwrap()).unwrap();
    promtool(&["check", "rules", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
}

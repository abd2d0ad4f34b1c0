//! A check's report as an operator reads it: composition, changes by
//! severity, the shipped operations a change breaks or affects, and the
//! operations seen in traffic it breaks, with their clients.

use serde_json::Value;

pub fn print_report(report: &Value) {
    let errors = report["composition_errors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if errors.is_empty() {
        println!("composition: ok");
    } else {
        println!("composition: FAILED");
        for error in errors {
            println!("  - {}", error.as_str().unwrap_or(""));
        }
        return;
    }
    let changes = report["changes"].as_array().cloned().unwrap_or_default();
    let count = |severity: &str| changes.iter().filter(|c| c["severity"] == severity).count();
    println!(
        "changes: {} breaking, {} dangerous, {} safe",
        count("breaking"),
        count("dangerous"),
        count("safe")
    );
    for change in &changes {
        println!(
            "  {:<9} {}",
            change["severity"].as_str().unwrap_or(""),
            change["message"].as_str().unwrap_or("")
        );
    }
    let affected = report["affected_operations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !affected.is_empty() {
        println!(
            "shipped operations affected (not blocking): {}",
            affected.len()
        );
        for operation in affected {
            println!(
                "  {}: {}",
                operation["name"].as_str().unwrap_or(""),
                operation["reason"].as_str().unwrap_or("")
            );
        }
    }
    let broken = report["broken_operations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if broken.is_empty() {
        println!("shipped operations: all still valid");
    } else {
        println!("shipped operations broken: {}", broken.len());
        for operation in broken {
            // The compiler's first line says what is wrong; the full diagnostic
            // (with its source excerpt) is in the JSON report.
            let error = operation["error"].as_str().unwrap_or("");
            println!(
                "  {}: {}",
                operation["name"].as_str().unwrap_or(""),
                error.lines().next().unwrap_or("").trim()
            );
        }
    }
    let in_traffic = report["broken_in_traffic"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if in_traffic.is_empty() {
        println!("operations seen in traffic: none broken");
    } else {
        println!("operations seen in traffic broken: {}", in_traffic.len());
        for operation in in_traffic {
            let error = operation["error"].as_str().unwrap_or("");
            println!(
                "  {}: {}",
                operation["name"].as_str().unwrap_or(""),
                error.lines().next().unwrap_or("").trim()
            );
            let clients = operation["clients"].as_array().cloned().unwrap_or_default();
            for client in clients {
                println!("    sent by {}", client_label(&client));
            }
        }
    }
}

/// `name version (N requests)`, `unnamed client` when it sent no name.
fn client_label(client: &Value) -> String {
    let name = client["name"].as_str().unwrap_or("");
    let version = client["version"].as_str().unwrap_or("");
    let who = match (name, version) {
        ("", "") => "an unnamed client".to_string(),
        (name, "") => name.to_string(),
        (name, version) => format!("{name} {version}"),
    };
    format!(
        "{who} ({} requests)",
        client["requests"].as_i64().unwrap_or(0)
    )
}

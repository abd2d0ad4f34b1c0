//! `nova usage`: requests per field over the registry's usage window, and the
//! fields no request used (routers' usage reports, `GET /v1/usage`).

use serde_json::Value;

use crate::client::{Client, Outcome};

pub async fn usage(client: &Client, days: Option<u32>, unused_only: bool) -> Outcome {
    let path = match days {
        Some(days) => format!("/v1/usage?days={days}"),
        None => "/v1/usage".to_string(),
    };
    print_usage(&client.get(&path).await?, unused_only);
    Ok(())
}

/// `nova usage`: requests per field, and the fields no request used.
fn print_usage(answer: &Value, unused_only: bool) {
    let days = answer["days"].as_u64().unwrap_or(0);
    if !unused_only {
        println!("fields used in the last {days} days (requests, operations):");
        for used in answer["used"].as_array().cloned().unwrap_or_default() {
            println!(
                "  {:<50} {:>10} {:>6}",
                used["coordinate"].as_str().unwrap_or(""),
                used["requests"].as_i64().unwrap_or(0),
                used["operations"].as_i64().unwrap_or(0)
            );
        }
    }
    let unused = answer["unused"].as_array().cloned().unwrap_or_default();
    println!(
        "fields no request used in the last {days} days: {}",
        unused.len()
    );
    for field in unused {
        println!("  {}", field.as_str().unwrap_or(""));
    }
}

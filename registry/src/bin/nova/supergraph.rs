//! `nova supergraph history` and `rollback`.

use serde_json::json;

use crate::client::{refused, Client, Outcome};
use crate::report::print_report;

pub async fn history(client: &Client) -> Outcome {
    let answer = client.get("/v1/supergraphs").await?;
    let current = answer["current"].as_str().unwrap_or("");
    for supergraph in answer["supergraphs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let id = supergraph["id"].as_str().unwrap_or("");
        println!(
            "{} {id}  {}  {:<8}  by {}  {}",
            if id == current { "*" } else { " " },
            supergraph["created_at"].as_str().unwrap_or(""),
            supergraph["reason"].as_str().unwrap_or(""),
            supergraph["created_by"].as_str().unwrap_or(""),
            supergraph["message"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

pub async fn rollback(client: &Client, to: &str, message: &str, force: bool) -> Outcome {
    let body = json!({ "to": to, "force": force, "message": message });
    let (status, answer) = client
        .send(
            client
                .request(reqwest::Method::POST, "/v1/supergraphs/rollback")?
                .json(&body),
        )
        .await?;
    if answer.get("report").is_some() {
        print_report(&answer["report"]);
    }
    if status != 200 {
        return Err(refused(status, &answer));
    }
    println!(
        "{}: supergraph {} is current",
        answer["status"].as_str().unwrap_or(""),
        answer["supergraphId"].as_str().unwrap_or("")
    );
    Ok(())
}

//! Operations routers executed: Hive Router's usage reports (its
//! `telemetry.hive.usage_reporting`, report format v2) stored per operation,
//! day and client, and read back for checks (`seen_since`) and `nova usage`
//! (`field_usage`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// Hive's usage report, v2
/// (<https://the-guild.dev/graphql/hive/docs/specs/usage-reports>).
#[derive(Debug, Deserialize)]
pub struct UsageReport {
    /// Operation hash → the operation.
    #[serde(default)]
    pub map: BTreeMap<String, OperationRecord>,
    #[serde(default)]
    pub operations: Vec<RequestRecord>,
    #[serde(default, rename = "subscriptionOperations")]
    pub subscription_operations: Vec<SubscriptionRecord>,
}

#[derive(Debug, Deserialize)]
pub struct OperationRecord {
    /// Normalized: literal values and aliases removed.
    pub operation: String,
    #[serde(default, rename = "operationName")]
    pub operation_name: Option<String>,
    /// Schema coordinates: `Type`, `Type.field`, `Type.field.argument`.
    pub fields: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct RequestRecord {
    #[serde(rename = "operationMapKey")]
    pub operation_map_key: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub execution: Execution,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize)]
pub struct SubscriptionRecord {
    #[serde(rename = "operationMapKey")]
    pub operation_map_key: String,
    pub timestamp: i64,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize)]
pub struct Execution {
    pub ok: bool,
}

#[derive(Debug, Deserialize)]
pub struct Metadata {
    pub client: Option<ClientInfo>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClientInfo {
    pub name: String,
    pub version: String,
}

/// Requests and failures of one operation on one day by one client.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub requests: i64,
    pub errors: i64,
}

pub type TallyKey = (String, NaiveDate, ClientInfo);

impl UsageReport {
    /// Requests counted per operation, UTC day and client; a request whose
    /// operation the report does not carry, or whose time is not a date, is an
    /// error (the report is refused whole, nothing stored).
    pub fn tallies(&self) -> Result<Tallies, String> {
        let mut tallies = Tallies::new();
        let requests = self.operations.iter().map(|r| {
            (
                &r.operation_map_key,
                r.timestamp,
                &r.metadata,
                !r.execution.ok,
            )
        });
        let subscriptions = self
            .subscription_operations
            .iter()
            .map(|s| (&s.operation_map_key, s.timestamp, &s.metadata, false));
        for (hash, timestamp, metadata, failed) in requests.chain(subscriptions) {
            if !self.map.contains_key(hash) {
                return Err(format!("operation {hash} is not in the report's map"));
            }
            let day = DateTime::<Utc>::from_timestamp_millis(timestamp)
                .ok_or_else(|| format!("timestamp {timestamp} is out of range"))?
                .date_naive();
            let client = metadata
                .as_ref()
                .and_then(|m| m.client.clone())
                .unwrap_or_default();
            let tally = tallies.entry((hash.clone(), day, client)).or_default();
            tally.requests += 1;
            tally.errors += i64::from(failed);
        }
        Ok(tallies)
    }
}

pub type Tallies = BTreeMap<TallyKey, Tally>;

/// Store one report (its `tallies`, checked first): its operations (first seen
/// wins) and its counts (added). Returns the requests counted.
pub async fn record(
    pool: &PgPool,
    report: &UsageReport,
    tallies: &Tallies,
) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    for (hash, operation) in &report.map {
        sqlx::query!(
            "INSERT INTO seen_operations (hash, name, body, fields) VALUES ($1, $2, $3, $4)
             ON CONFLICT (hash) DO NOTHING",
            hash,
            operation.operation_name,
            operation.operation,
            operation.fields.as_slice(),
        )
        .execute(&mut *tx)
        .await?;
    }
    for ((hash, day, client), tally) in tallies {
        sqlx::query!(
            "INSERT INTO operation_requests
                 (hash, day, client_name, client_version, requests, errors)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (hash, day, client_name, client_version) DO UPDATE
             SET requests = operation_requests.requests + EXCLUDED.requests,
                 errors = operation_requests.errors + EXCLUDED.errors",
            hash,
            day,
            client.name,
            client.version,
            tally.requests,
            tally.errors,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(tallies.values().map(|t| t.requests).sum())
}

/// An operation seen in traffic, with the clients that sent it.
#[derive(Clone, Debug, Serialize)]
pub struct SeenOperation {
    pub hash: String,
    pub name: Option<String>,
    #[serde(skip)]
    pub body: String,
    pub clients: Vec<ClientRequests>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClientRequests {
    pub name: String,
    pub version: String,
    pub requests: i64,
}

/// The UTC day `days` days before today: what "the last `days` days" starts at.
fn first_day(days: u32) -> NaiveDate {
    Utc::now().date_naive() - chrono::Days::new(u64::from(days))
}

/// Operations executed on one of the last `days` days (today included), with
/// their clients, busiest client first.
pub async fn seen_since(pool: &PgPool, days: u32) -> Result<Vec<SeenOperation>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT o.hash, o.name, o.body, r.client_name, r.client_version,
                  SUM(r.requests)::bigint AS "requests!"
           FROM seen_operations o JOIN operation_requests r USING (hash)
           WHERE r.day >= $1
           GROUP BY o.hash, o.name, o.body, r.client_name, r.client_version
           ORDER BY o.hash, 6 DESC, r.client_name, r.client_version"#,
        first_day(days),
    )
    .fetch_all(pool)
    .await?;
    let mut seen: Vec<SeenOperation> = Vec::new();
    for row in rows {
        if seen.last().is_none_or(|last| last.hash != row.hash) {
            seen.push(SeenOperation {
                hash: row.hash,
                name: row.name,
                body: row.body,
                clients: Vec::new(),
            });
        }
        if let Some(operation) = seen.last_mut() {
            operation.clients.push(ClientRequests {
                name: row.client_name,
                version: row.client_version,
                requests: row.requests,
            });
        }
    }
    Ok(seen)
}

/// Requests per schema coordinate over the last `days` days.
#[derive(Debug, Serialize)]
pub struct CoordinateUsage {
    pub coordinate: String,
    pub requests: i64,
    pub operations: i64,
}

pub async fn field_usage(pool: &PgPool, days: u32) -> Result<Vec<CoordinateUsage>, sqlx::Error> {
    sqlx::query_as!(
        CoordinateUsage,
        r#"SELECT f.coordinate AS "coordinate!",
                  SUM(r.requests)::bigint AS "requests!",
                  COUNT(DISTINCT o.hash) AS "operations!"
           FROM seen_operations o
           CROSS JOIN LATERAL unnest(o.fields) AS f(coordinate)
           JOIN operation_requests r ON r.hash = o.hash
           WHERE r.day >= $1
           GROUP BY f.coordinate
           ORDER BY 2 DESC, 1"#,
        first_day(days),
    )
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_operation_day_and_client() {
        let report: UsageReport = serde_json::from_value(serde_json::json!({
            "size": 3,
            "map": { "h1": { "operation": "query Me{me{id}}", "operationName": "Me",
                             "fields": ["Query", "Query.me", "User.id"] } },
            "operations": [
                { "operationMapKey": "h1", "timestamp": 1_764_806_400_000_i64,
                  "execution": { "ok": true, "duration": 1, "errorsTotal": 0 },
                  "metadata": { "client": { "name": "ios", "version": "3.1" } } },
                { "operationMapKey": "h1", "timestamp": 1_764_806_401_000_i64,
                  "execution": { "ok": false, "duration": 1, "errorsTotal": 1 },
                  "metadata": { "client": { "name": "ios", "version": "3.1" } } },
                { "operationMapKey": "h1", "timestamp": 1_764_806_402_000_i64,
                  "execution": { "ok": true, "duration": 1, "errorsTotal": 0 } }
            ]
        }))
        .unwrap();
        let tallies = report.tallies().unwrap();
        let day = NaiveDate::from_ymd_opt(2025, 12, 4).unwrap();
        let ios = ClientInfo {
            name: "ios".into(),
            version: "3.1".into(),
        };
        assert_eq!(
            tallies.get(&("h1".to_string(), day, ios)),
            Some(&Tally {
                requests: 2,
                errors: 1
            })
        );
        assert_eq!(
            tallies.get(&("h1".to_string(), day, ClientInfo::default())),
            Some(&Tally {
                requests: 1,
                errors: 0
            })
        );
    }

    #[test]
    fn a_request_for_an_operation_the_report_lacks_refuses_the_report() {
        let report: UsageReport = serde_json::from_value(serde_json::json!({
            "size": 1, "map": {},
            "operations": [{ "operationMapKey": "nope", "timestamp": 0,
                             "execution": { "ok": true, "duration": 1, "errorsTotal": 0 } }]
        }))
        .unwrap();
        assert_eq!(
            report.tallies().unwrap_err(),
            "operation nope is not in the report's map"
        );
    }
}

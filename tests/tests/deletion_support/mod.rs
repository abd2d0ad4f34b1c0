//! What the account deletion test scans for leftovers: every subgraph
//! database, Redis, search's index and hits, analytics' rows and features.

use nova_e2e::Stack;
use serde_json::json;

/// `subgraph.table` of every table in every subgraph database with a row
/// whose text holds one of `needles`.
pub async fn tables_holding(stack: &Stack, needles: &[String]) -> Vec<String> {
    let patterns: Vec<String> = needles.iter().map(|n| format!("%{n}%")).collect();
    let mut found = Vec::new();
    for subgraph in nova_e2e::subgraphs() {
        let mut db = stack.connect(subgraph).await.expect("database");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .fetch_all(&mut db)
        .await
        .unwrap();
        for table in tables {
            let sql = format!("SELECT count(*) FROM \"{table}\" x WHERE x::text ILIKE ANY($1)");
            let rows: i64 = sqlx::query_scalar(&sql)
                .bind(&patterns)
                .fetch_one(&mut db)
                .await
                .unwrap();
            if rows > 0 {
                found.push(format!("{subgraph}.{table}"));
            }
        }
    }
    found
}

/// Every Redis key with its contents as text, lower case.
pub fn redis_contents(stack: &Stack) -> Vec<(String, String)> {
    let client = redis::Client::open(stack.redis_url()).unwrap();
    let mut redis = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut redis).unwrap();
    keys.into_iter()
        .map(|key| {
            let kind: String = redis::cmd("TYPE").arg(&key).query(&mut redis).unwrap();
            let values: Vec<String> = match kind.as_str() {
                "string" => vec![redis::cmd("GET")
                    .arg(&key)
                    .query(&mut redis)
                    .unwrap_or_default()],
                "hash" => redis::cmd("HGETALL").arg(&key).query(&mut redis).unwrap(),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query(&mut redis)
                    .unwrap(),
                "set" => redis::cmd("SMEMBERS").arg(&key).query(&mut redis).unwrap(),
                "list" => redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query(&mut redis)
                    .unwrap(),
                _ => vec![],
            };
            (key.to_lowercase(), values.join(" ").to_lowercase())
        })
        .collect()
}

/// Documents deleted but still in the files of search's index (tantivy keeps
/// them until their segment is merged).
pub fn deleted_in_index(stack: &Stack) -> u32 {
    let root = stack.state_dir().join("search-index");
    let current = std::fs::read_to_string(root.join("current")).unwrap();
    let index = tantivy::Index::open_in_dir(root.join(current.trim())).unwrap();
    let segments = index.searchable_segment_metas().unwrap();
    segments
        .iter()
        .map(|segment| segment.num_deleted_docs())
        .sum()
}

/// Whether the feed's ranking features (analytics' engagement hash) hold `post`.
pub fn ranked_by_features(stack: &Stack, post: &str) -> bool {
    let client = redis::Client::open(stack.redis_url()).unwrap();
    let mut redis = client.get_connection().unwrap();
    redis::cmd("HEXISTS")
        .arg("nova:features:engagement")
        .arg(post)
        .query(&mut redis)
        .unwrap()
}

/// Rows of analytics' events (ClickHouse) naming `user` or about `post`.
pub async fn analytics_rows(stack: &Stack, user: &str, post: &str) -> u64 {
    let sql = format!(
        "SELECT count() FROM nova_analytics.events \
         WHERE actor_id = '{user}' OR author_id = '{user}' OR post_id = '{post}'"
    );
    let answer = stack
        .http
        .post(stack.clickhouse_url())
        .body(sql)
        .send()
        .await
        .expect("ClickHouse answers");
    assert!(answer.status().is_success(), "{answer:?}");
    answer.text().await.unwrap().trim().parse().unwrap()
}

pub async fn search_hits(stack: &Stack, token: &str, q: &str) -> usize {
    let found = stack
        .data_of(
            token,
            "query($q: String!) { search(query: $q, first: 20) { edges { node { __typename } } } }",
            json!({ "q": q }),
        )
        .await;
    found["search"]["edges"].as_array().unwrap().len()
}

//! A bounded fuzz run over what the Nova plugin and the router's policies read from
//! a client: bearer tokens, the client-IP header, operation documents, persisted
//! query extensions, document ids, variables. Every answer must be a client error
//! or a success — never a 5xx, never a dropped connection — and the router must
//! still serve afterwards. The seed is printed so a failure can be replayed
//! (`NOVA_FUZZ_SEED`); `NOVA_FUZZ_CASES` sets the number of cases (default 2000).

use nova_e2e::Stack;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "$",
    "!",
    "=",
    "@",
    "...",
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "me",
    "id",
    "username",
    "userByUsername",
    "posts",
    "first",
    "edges",
    "node",
    "author",
    "__typename",
    "__schema",
    "login",
    "register",
    "@include(if: true)",
    "\"str\"",
    "\"\\u0000\"",
    "\"\\\"\"",
    "1",
    "-1",
    "1e309",
    "null",
    "true",
    "#comment\n",
    ",",
    "\u{feff}",
    "é",
    "a: ",
    "$v: Int",
];

fn random_string(rng: &mut StdRng, max: usize) -> String {
    let len = rng.gen_range(0..=max);
    (0..len)
        .map(|_| match rng.gen_range(0..4) {
            0 => rng.gen_range(b'a'..=b'z') as char,
            1 => rng.gen_range(b'!'..=b'~') as char,
            2 => ['.', '-', '_', '=', '+', '/'][rng.gen_range(0..6)],
            _ => char::from_u32(rng.gen_range(0x20..0x3000)).unwrap_or('?'),
        })
        .collect()
}

/// Printable ASCII only: what an HTTP header can carry.
fn random_header(rng: &mut StdRng, max: usize) -> String {
    let len = rng.gen_range(0..=max);
    (0..len)
        .map(|_| rng.gen_range(b' '..=b'~') as char)
        .collect()
}

fn random_document(rng: &mut StdRng) -> String {
    let count = rng.gen_range(0..80);
    (0..count)
        .map(|_| TOKENS[rng.gen_range(0..TOKENS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth > 2 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.gen::<bool>()),
        2 => json!(rng.gen::<i64>()),
        3 => json!(rng.gen::<f64>()),
        4 => json!(random_string(rng, 70)),
        5 => Value::Array(
            (0..rng.gen_range(0..4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut map = serde_json::Map::new();
            for _ in 0..rng.gen_range(0..4) {
                map.insert(random_string(rng, 8), random_value(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

fn random_token(rng: &mut StdRng) -> String {
    let segment = |rng: &mut StdRng| {
        let len = rng.gen_range(0..60);
        (0..len)
            .map(|_| {
                let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                alphabet[rng.gen_range(0..alphabet.len())] as char
            })
            .collect::<String>()
    };
    match rng.gen_range(0..4) {
        0 => format!("Bearer {}.{}.{}", segment(rng), segment(rng), segment(rng)),
        1 => format!("Bearer {}", random_header(rng, 200)),
        2 => random_header(rng, 100),
        _ => format!("Bearer eyJhbGciOiJFZERTQSJ9.{}.", segment(rng)),
    }
}

fn random_body(rng: &mut StdRng) -> Value {
    let mut body = serde_json::Map::new();
    if rng.gen_bool(0.7) {
        body.insert("query".into(), json!(random_document(rng)));
    }
    if rng.gen_bool(0.3) {
        body.insert("operationName".into(), random_value(rng, 2));
    }
    if rng.gen_bool(0.3) {
        body.insert("variables".into(), random_value(rng, 0));
    }
    if rng.gen_bool(0.3) {
        let hash = match rng.gen_range(0..3) {
            0 => json!(random_string(rng, 70)),
            1 => random_value(rng, 1),
            _ => json!("a".repeat(64)),
        };
        body.insert(
            "extensions".into(),
            json!({ "persistedQuery": { "version": random_value(rng, 2), "sha256Hash": hash } }),
        );
    }
    if rng.gen_bool(0.15) {
        body.insert("documentId".into(), random_value(rng, 1));
    }
    Value::Object(body)
}

#[tokio::test]
async fn random_client_input_never_breaks_the_router() {
    let seed: u64 = std::env::var("NOVA_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let cases: usize = std::env::var("NOVA_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    eprintln!("fuzz seed {seed} ({cases} cases); replay with NOVA_FUZZ_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let stack = Stack::start().await.expect("stack starts");
    for case in 0..cases {
        let body = random_body(&mut rng);
        let mut request = stack.http.post(&stack.router_url).json(&body);
        if rng.gen_bool(0.5) {
            request = request.header("authorization", random_token(&mut rng));
        }
        if rng.gen_bool(0.2) {
            request = request.header("x-nova-client-ip", random_header(&mut rng, 40));
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("case {case} (seed {seed}): no answer: {e}\n{body}"));
        let status = response.status().as_u16();
        assert!(
            status < 500,
            "case {case} (seed {seed}): HTTP {status} for {body}\n{}",
            response.text().await.unwrap_or_default()
        );
    }
    let after = stack.graphql(None, "{ __typename }", json!({})).await;
    assert_eq!(after.expect_ok()["__typename"], "Query", "seed {seed}");
}

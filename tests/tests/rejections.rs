//! What must be refused: protected fields without a token, every kind of bad
//! token, and calls that skip the router.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePublicKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use nova_e2e::forge::{claims, Forger};
use nova_e2e::{Response, Stack};
use serde_json::json;

const ME: &str = "{ me { id username } }";

fn assert_unauthenticated(response: &Response, what: &str) {
    assert!(
        response
            .error_codes()
            .iter()
            .any(|c| c == "UNAUTHENTICATED"),
        "{what}: expected UNAUTHENTICATED, got {} {:#}",
        response.status,
        response.body
    );
    assert!(
        response.data().is_null() || response.data()["me"].is_null(),
        "{what}: data leaked: {:#}",
        response.body
    );
}

#[tokio::test]
async fn bad_or_missing_tokens_are_unauthenticated() {
    let stack = Stack::start().await.expect("stack starts");
    let user_id = stack.register("zed").await;
    let forger = Forger::new(&stack);

    // Control: a token with the right claims and key is accepted, so each refusal
    // below is caused by the one thing that differs.
    let good = forger.eddsa(&claims(&user_id, json!({})));
    let accepted = stack.graphql(Some(&good), ME, json!({})).await;
    assert_eq!(
        accepted.expect_ok()["me"]["id"],
        user_id.as_str(),
        "{}",
        stack.logs()
    );

    // No token on protected fields.
    assert_unauthenticated(&stack.graphql(None, ME, json!({})).await, "no token on me");
    let update = stack
        .graphql(
            None,
            "mutation { updateProfile(input: { bio: \"x\" }) { id } }",
            json!({}),
        )
        .await;
    assert!(
        update
            .error_codes()
            .contains(&"UNAUTHENTICATED".to_string()),
        "{:#}",
        update.body
    );

    let now = chrono::Utc::now().timestamp();
    let expired = forger.eddsa(&claims(
        &user_id,
        json!({ "exp": now - 600, "iat": now - 1200, "nbf": now - 1200 }),
    ));
    let wrong_issuer = forger.eddsa(&claims(&user_id, json!({ "iss": "someone-else" })));
    let wrong_audience = forger.eddsa(&claims(&user_id, json!({ "aud": "another-app" })));

    // Tampered: a real token whose payload is swapped for another user's.
    let other = forger.eddsa(&claims("00000000-0000-7000-8000-000000000000", json!({})));
    let good_parts: Vec<&str> = good.split('.').collect();
    let other_parts: Vec<&str> = other.split('.').collect();
    let tampered = format!("{}.{}.{}", good_parts[0], other_parts[1], good_parts[2]);
    // Tampered signature bytes.
    let mut signature = URL_SAFE_NO_PAD.decode(good_parts[2]).unwrap();
    signature[0] ^= 0xff;
    let bad_signature = format!(
        "{}.{}.{}",
        good_parts[0],
        good_parts[1],
        URL_SAFE_NO_PAD.encode(signature)
    );

    // alg: none, unsigned.
    let none_header = URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT" }).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims(&user_id, json!({})).to_string());
    let alg_none = format!("{none_header}.{payload}.");

    // HS256 keyed with the public key (the classic algorithm-confusion attack),
    // both as PEM text and as raw key bytes.
    let public_pem = forger
        .key
        .verifying_key()
        .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(forger.kid());
    let hs256_pem = jsonwebtoken::encode(
        &hs_header,
        &claims(&user_id, json!({})),
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    let hs256_raw = jsonwebtoken::encode(
        &hs_header,
        &claims(&user_id, json!({})),
        &EncodingKey::from_secret(forger.key.verifying_key().as_bytes()),
    )
    .unwrap();

    // A key identity never published.
    let stranger = Forger {
        key: ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng),
    };
    let unknown_key = stranger.eddsa(&claims(&user_id, json!({})));

    for (what, token) in [
        ("expired", expired.as_str()),
        ("wrong issuer", wrong_issuer.as_str()),
        ("wrong audience", wrong_audience.as_str()),
        ("tampered payload", tampered.as_str()),
        ("tampered signature", bad_signature.as_str()),
        ("alg none", alg_none.as_str()),
        ("HS256 keyed with the public key PEM", hs256_pem.as_str()),
        ("HS256 keyed with the raw public key", hs256_raw.as_str()),
        ("signed by an unknown key", unknown_key.as_str()),
        ("not a JWT", "garbage"),
    ] {
        let response = stack.graphql(Some(token), ME, json!({})).await;
        assert_unauthenticated(&response, what);
        assert_eq!(response.status, 401, "{what}: {:#}", response.body);
    }
}

#[tokio::test]
async fn subgraphs_refuse_calls_that_skip_the_router() {
    let stack = Stack::start().await.expect("stack starts");
    let user_id = stack.register("zed").await;
    // A caller who knows a user id and forges the claims the router would forward.
    let forged = json!({
        "query": "mutation { updateProfile(input: { bio: \"pwned\" }) { bio } }",
        "extensions": { "jwt": { "sub": user_id } }
    });
    let users = format!("{}/graphql", stack.subgraph_url("users"));

    for secret in [None, Some("wrong-secret-wrong-secret-wrong-secret")] {
        let mut request = stack.http.post(&users).json(&forged);
        if let Some(secret) = secret {
            request = request.header("x-nova-router-secret", secret);
        }
        let response = Response::from(request.send().await.unwrap()).await;
        assert_eq!(response.status, 403, "{:#}", response.body);
        assert_eq!(response.error_codes(), vec!["FORBIDDEN"]);
    }
    // GET (query in the URL) is guarded the same way.
    let get = stack
        .http
        .get(format!(
            "{}/graphql?query=%7B__typename%7D",
            stack.subgraph_url("identity")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 403);

    // Nothing changed.
    let profile = stack
        .graphql(
            None,
            "query($id: ID!) { user(id: $id) { bio } }",
            json!({ "id": user_id }),
        )
        .await;
    assert_eq!(profile.expect_ok()["user"]["bio"], "");

    // Control: with the router's secret the same request is served, so the
    // refusals above came from the secret check alone.
    let response = stack
        .http
        .post(&users)
        .header("x-nova-router-secret", &stack.router_secret)
        .json(&forged)
        .send()
        .await
        .unwrap();
    let response = Response::from(response).await;
    assert_eq!(response.expect_ok()["updateProfile"]["bio"], "pwned");
}

#[tokio::test]
async fn a_token_signed_by_a_key_rotated_out_of_the_jwks_is_refused() {
    let mut stack = Stack::start_with_router_env(&[("NOVA_JWKS_POLL_INTERVAL", "1s")])
        .await
        .expect("stack starts");
    let (_, old_token) = stack.sign_up("ann").await;
    let me = "{ me { username } }";
    let before = stack.graphql(Some(&old_token), me, json!({})).await;
    assert_eq!(before.expect_ok()["me"]["username"], "ann");

    // identity starts over with a new key; the old one is no longer published.
    let new_key = std::env::temp_dir().join(format!("nova-rotated-{}.pem", uuid::Uuid::new_v4()));
    let new_key_path = new_key.display().to_string();
    stack
        .restart_subgraph(
            "identity",
            &[("JWT_PRIVATE_KEY_PATH", new_key_path.as_str())],
        )
        .await
        .expect("identity restarts with a new key");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let refused = loop {
        let response = stack.graphql(Some(&old_token), me, json!({})).await;
        if response.status == 401 || std::time::Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    let _ = std::fs::remove_file(&new_key);
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    assert_eq!(refused.error_codes(), ["UNAUTHENTICATED"]);

    // A token from the new key works.
    let login = stack
        .graphql(
            None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            json!({ "e": "ann@example.com", "p": nova_e2e::TEST_PASSWORD }),
        )
        .await;
    let new_token = login.expect_ok()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let after = stack.graphql(Some(&new_token), me, json!({})).await;
    assert_eq!(after.expect_ok()["me"]["username"], "ann");
}

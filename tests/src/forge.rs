//! Tokens signed with identity's real key, for tests that need a token that is
//! wrong only in its claims (expired, another audience, ...).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::{Stack, AUDIENCE, ISSUER};

/// Claims like identity's, with overrides.
pub fn claims(sub: &str, overrides: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": sub, "iss": ISSUER, "aud": AUDIENCE,
        "iat": now, "nbf": now, "exp": now + 600, "jti": "test", "sid": "test",
    });
    for (key, value) in overrides.as_object().unwrap() {
        claims[key] = value.clone();
    }
    claims
}

pub struct Forger {
    pub key: ed25519_dalek::SigningKey,
}

impl Forger {
    pub fn new(stack: &Stack) -> Self {
        Self {
            key: ed25519_dalek::SigningKey::from_pkcs8_pem(&stack.signing_key_pem).unwrap(),
        }
    }

    pub fn kid(&self) -> String {
        // Same derivation as identity's keys::key_id.
        use sha2::Digest;
        let digest = sha2::Sha256::digest(self.key.verifying_key().as_bytes());
        URL_SAFE_NO_PAD.encode(&digest[..12])
    }

    /// Signed with identity's real key: only the claims can make it wrong.
    pub fn eddsa(&self, claims: &Value) -> String {
        let der = self.key.to_pkcs8_der().unwrap();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der.as_bytes())).unwrap()
    }
}

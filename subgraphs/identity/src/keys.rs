//! Signing keys (Ed25519, JWT `alg: EdDSA`) and the JWKS document.
//!
//! The current signing key comes from `JWT_PRIVATE_KEY_PEM` (PKCS#8 PEM text) or
//! `JWT_PRIVATE_KEY_PATH` (a file holding it). With `JWT_GENERATE_KEY_IF_MISSING=true`
//! (development only; `cargo xtask up` sets it) a missing key file is generated once
//! and kept. `JWT_EXTRA_PUBLIC_KEYS_PATH` may name a file of further public keys
//! (PEM, concatenated) to publish alongside: to rotate, publish the next key there
//! first, wait for the routers' JWKS poll, switch the signing key, and drop the old
//! public key once the longest access token signed with it has expired.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::EncodingKey;
use nova_core::config::{optional, ConfigError};
use sha2::{Digest, Sha256};

/// The key tokens are signed with, and every public key the JWKS publishes.
pub struct SigningKeys {
    pub kid: String,
    pub encoding: EncodingKey,
    published: Vec<VerifyingKey>,
}

/// A key id derived from the public key, so it is stable across restarts.
pub fn key_id(public: &VerifyingKey) -> String {
    let digest = Sha256::digest(public.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..12])
}

fn malformed(name: &str, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::Malformed {
        name: name.to_string(),
        value: "<key material hidden>".to_string(),
        reason: reason.to_string(),
    }
}

impl SigningKeys {
    pub fn from_pem(private_pem: &str, extra_public_pem: Option<&str>) -> Result<Self, String> {
        let signing = SigningKey::from_pkcs8_pem(private_pem)
            .map_err(|e| format!("not an Ed25519 PKCS#8 private key: {e}"))?;
        // jsonwebtoken's RustCrypto backend reads Ed25519 keys as PKCS#8 DER.
        let der = signing
            .to_pkcs8_der()
            .map_err(|e| format!("cannot re-encode the key: {e}"))?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        let current = signing.verifying_key();
        let mut published = vec![current];
        if let Some(pems) = extra_public_pem {
            for block in pem_blocks(pems) {
                let key = VerifyingKey::from_public_key_pem(&block)
                    .map_err(|e| format!("extra public key is not Ed25519 SPKI PEM: {e}"))?;
                if key != current {
                    published.push(key);
                }
            }
        }
        Ok(Self {
            kid: key_id(&current),
            encoding,
            published,
        })
    }

    /// Load from the environment as described in the module docs.
    pub fn from_env() -> Result<Self, ConfigError> {
        let extra = match optional("JWT_EXTRA_PUBLIC_KEYS_PATH") {
            None => None,
            Some(path) => Some(
                std::fs::read_to_string(&path)
                    .map_err(|e| malformed("JWT_EXTRA_PUBLIC_KEYS_PATH", format!("{path}: {e}")))?,
            ),
        };
        if let Some(pem) = optional("JWT_PRIVATE_KEY_PEM") {
            return Self::from_pem(&pem, extra.as_deref())
                .map_err(|e| malformed("JWT_PRIVATE_KEY_PEM", e));
        }
        let Some(path) = optional("JWT_PRIVATE_KEY_PATH") else {
            return Err(ConfigError::Missing {
                name: "JWT_PRIVATE_KEY_PEM or JWT_PRIVATE_KEY_PATH".to_string(),
                hint: "the Ed25519 key access tokens are signed with".to_string(),
            });
        };
        let generate = optional("JWT_GENERATE_KEY_IF_MISSING").is_some_and(|v| v == "true");
        if generate && !std::path::Path::new(&path).exists() {
            write_new_key(&path).map_err(|e| malformed("JWT_PRIVATE_KEY_PATH", e))?;
        }
        let pem = std::fs::read_to_string(&path)
            .map_err(|e| malformed("JWT_PRIVATE_KEY_PATH", format!("{path}: {e}")))?;
        Self::from_pem(&pem, extra.as_deref()).map_err(|e| malformed("JWT_PRIVATE_KEY_PATH", e))
    }

    /// The JWKS document (RFC 7517) the router fetches.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .published
            .iter()
            .map(|key| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "alg": "EdDSA",
                    "use": "sig",
                    "kid": key_id(key),
                    "x": URL_SAFE_NO_PAD.encode(key.as_bytes()),
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

/// Generate a key and write it with owner-only permissions.
pub fn write_new_key(path: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| format!("cannot encode a new key: {e}"))?;
    if let Some(parent) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{path}: {e}"))?;
    file.write_all(pem.as_bytes())
        .map_err(|e| format!("{path}: {e}"))
}

/// Split concatenated PEM text into its blocks.
fn pem_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.starts_with("-----BEGIN") {
            current.clear();
        }
        current.push_str(line);
        current.push('\n');
        if line.starts_with("-----END") {
            blocks.push(std::mem::take(&mut current));
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::EncodePublicKey;

    fn new_pem() -> (String, VerifyingKey) {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        (pem, key.verifying_key())
    }

    #[test]
    fn jwks_publishes_current_and_extra_keys_once_each() {
        let (current_pem, current) = new_pem();
        let (_, previous) = new_pem();
        let extra = format!(
            "{}{}",
            previous.to_public_key_pem(LineEnding::LF).unwrap(),
            current.to_public_key_pem(LineEnding::LF).unwrap()
        );
        let keys = SigningKeys::from_pem(&current_pem, Some(&extra)).unwrap();
        let jwks = keys.jwks();
        let kids: Vec<_> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(kids, vec![key_id(&current), key_id(&previous)]);
        assert_eq!(keys.kid, key_id(&current));
        assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    }

    #[test]
    fn a_non_key_is_refused_with_a_reason() {
        let error = SigningKeys::from_pem("not a key", None).err().unwrap();
        assert!(error.contains("Ed25519"), "{error}");
    }
}

//! Access tokens (short-lived JWTs) and refresh tokens (opaque, stored hashed).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, Header};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::keys::SigningKeys;
use nova_core::config::{optional, parsed_or, ConfigError};

#[derive(Serialize)]
struct AccessClaims<'a> {
    sub: String,
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    /// The session family, so a later check can tie a token to its sign-in.
    sid: String,
    /// The account's roles, space-separated (OAuth's `scope`): the router's
    /// `@requiresScopes` reads them. Absent for an account with none.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

pub struct TokenIssuer {
    keys: SigningKeys,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

pub struct AccessToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl TokenIssuer {
    pub fn new(keys: SigningKeys, issuer: String, audience: String) -> Self {
        Self {
            keys,
            issuer,
            audience,
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::days(30),
        }
    }

    /// `JWT_ISSUER` (default `nova-identity`), `JWT_AUDIENCE` (default `nova`),
    /// `JWT_ACCESS_TOKEN_TTL_SECONDS` (default 900), `JWT_REFRESH_TOKEN_TTL_SECONDS`
    /// (default 30 days), and the keys (see `keys`).
    pub fn from_env() -> Result<Self, ConfigError> {
        let keys = SigningKeys::from_env()?;
        let mut issuer = Self::new(
            keys,
            optional("JWT_ISSUER").unwrap_or_else(|| "nova-identity".into()),
            optional("JWT_AUDIENCE").unwrap_or_else(|| "nova".into()),
        );
        issuer.access_ttl = Duration::seconds(parsed_or("JWT_ACCESS_TOKEN_TTL_SECONDS", 900)?);
        issuer.refresh_ttl =
            Duration::seconds(parsed_or("JWT_REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600)?);
        Ok(issuer)
    }

    /// How long an access token issued now is accepted somewhere: its TTL and
    /// the router's clock-skew leeway (jsonwebtoken's 60 s).
    pub fn access_token_lifetime(&self) -> Duration {
        self.access_ttl + Duration::seconds(60)
    }

    pub fn jwks(&self) -> serde_json::Value {
        self.keys.jwks()
    }

    pub fn issue_access(
        &self,
        user_id: Uuid,
        family_id: Uuid,
        roles: &[String],
    ) -> anyhow::Result<AccessToken> {
        let now = Utc::now();
        let expires_at = now + self.access_ttl;
        let claims = AccessClaims {
            sub: user_id.to_string(),
            iss: &self.issuer,
            aud: &self.audience,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: Uuid::now_v7().to_string(),
            sid: family_id.to_string(),
            scope: (!roles.is_empty()).then(|| roles.join(" ")),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.keys.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.keys.encoding)?;
        Ok(AccessToken { token, expires_at })
    }
}

/// A new opaque refresh token: 256 random bits, base64url, with a prefix that
/// makes it recognisable in a leaked-secret scan.
pub fn new_refresh_token() -> String {
    new_opaque_token("nrt_")
}

/// A new password reset token, like a refresh token with its own prefix.
pub fn new_reset_token() -> String {
    new_opaque_token("npr_")
}

fn new_opaque_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps of an opaque token (refresh or reset): its SHA-256.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

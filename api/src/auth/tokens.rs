//! Access tokens (JWT, HS256 pinned, `iss`/`aud`/`exp` checked) and refresh tokens (opaque
//! random strings, stored only as SHA-256 hashes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{JWT_AUDIENCE, JWT_ISSUER};
use crate::error::ApiError;

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Tenant id.
    pub tid: String,
    /// Session id: checked against the sessions table on every request.
    pub sid: String,
    pub iat: u64,
    pub exp: u64,
    pub iss: String,
    pub aud: String,
}

/// Signing and verification keys.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl_secs: u64,
    /// Seals secrets stored for later use, under a key derived from the same server secret.
    pub sealer: super::sealed::Sealer,
}

impl JwtKeys {
    pub fn new(secret: &[u8], access_ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[JWT_ISSUER]);
        validation.set_audience(&[JWT_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl_secs,
            sealer: super::sealed::Sealer::new(secret),
        }
    }

    /// Issues an access token for a session.
    pub fn issue(&self, user_id: &str, tenant_id: &str, session_id: &str) -> Result<String, ApiError> {
        let now = Utc::now().timestamp().max(0) as u64;
        let claims = Claims {
            sub: user_id.to_owned(),
            tid: tenant_id.to_owned(),
            sid: session_id.to_owned(),
            iat: now,
            exp: now + self.access_ttl_secs,
            iss: JWT_ISSUER.to_owned(),
            aud: JWT_AUDIENCE.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("jwt encode: {e}")))
    }

    /// Verifies signature, algorithm, issuer, audience and expiry. The errors are stable
    /// texts (the library's own say how it failed to parse, which is no one's business):
    /// an expired token, or an invalid one.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        use jsonwebtoken::errors::ErrorKind;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|d| d.claims).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::TokenExpired,
                _ => ApiError::Unauthenticated("invalid access token".into()),
            },
        )
    }
}

/// `n` random bytes from the OS.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, ApiError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    Ok(buf)
}

/// A new refresh token: `<tenant id>.<32 random bytes, base64url>`. The tenant id lets the
/// server open the right tenant's transaction (row-level security) before looking it up.
pub fn new_refresh_token(tenant_id: &str) -> Result<String, ApiError> {
    Ok(format!("{tenant_id}.{}", URL_SAFE_NO_PAD.encode(random_bytes(32)?)))
}

/// The tenant id a refresh token names (unverified: the hash lookup verifies it).
pub fn refresh_tenant(token: &str) -> Option<&str> {
    token.split_once('.').map(|(t, _)| t).filter(|t| uuid::Uuid::parse_str(t).is_ok())
}

/// A new API key: `ak_<tenant id>_<32 random bytes, base64url>` (shown once; stored hashed).
pub fn new_api_key(tenant_id: &str) -> Result<String, ApiError> {
    Ok(format!("ak_{tenant_id}_{}", URL_SAFE_NO_PAD.encode(random_bytes(32)?)))
}

/// The tenant id an API key names (unverified: the hash lookup verifies it).
pub fn api_key_tenant(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("ak_")?;
    rest.get(..36).filter(|t| uuid::Uuid::parse_str(t).is_ok() && rest[36..].starts_with('_'))
}

/// The stored form of a refresh token, API key or invite token (SHA-256, hex).
pub fn hash_refresh(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    entity::hex::encode(&digest)
}

//! Verifying an ID token (OpenID Connect Core § 3.1.3.7): signed with an asymmetric algorithm by
//! a key of the provider's JWKS (the `kid` it names; keys fetched again when it is unknown),
//! issued by the provider (`iss`) for this client (`aud`, and `azp` when there are several
//! audiences), current (`exp`, and `iat` not in the future, with a minute of leeway for clocks),
//! and answering this login (`nonce`). Every failure is one stable message, without the
//! library's parsing details.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::provider::{self, ProviderError};

/// Clock difference tolerated between us and the provider, seconds.
const LEEWAY_SECS: u64 = 60;

/// Signature algorithms accepted: asymmetric only (a token signed with the client secret, HS*,
/// could be forged by anyone who knows the secret; `none` is never one).
const ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// The claims used from an ID token.
#[derive(Debug, Deserialize)]
pub struct IdClaims {
    pub sub: String,
    pub iat: u64,
    pub nonce: Option<String>,
    pub azp: Option<String>,
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<serde_json::Value>,
    pub name: Option<String>,
}

impl IdClaims {
    /// `email_verified`, which some providers send as the string `"true"`.
    pub fn email_verified(&self) -> bool {
        match &self.email_verified {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s == "true",
            _ => false,
        }
    }
}

/// Why an ID token was refused.
#[derive(Debug)]
pub enum Refused {
    /// The token is not acceptable (the words say why).
    Token(&'static str),
    /// The provider could not be asked for its keys.
    Provider(ProviderError),
}

/// The claims of `token` once it passes every check for `client_id` of `issuer` and the login's `nonce`.
pub async fn verify(
    token: &str,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    reach: provider::Reach,
) -> Result<IdClaims, Refused> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| Refused::Token("the ID token is malformed"))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(Refused::Token("the ID token's signature algorithm is not accepted"));
    }
    let kid = header.kid.as_deref().unwrap_or_default();
    let known = provider::with_key(issuer, kid, reach).await.map_err(Refused::Provider)?;
    // Without a key id, the provider must have only one key.
    let jwk = match header.kid.as_deref() {
        Some(kid) => known.keys.find(kid),
        None if known.keys.keys.len() == 1 => known.keys.keys.first(),
        None => None,
    }
    .ok_or(Refused::Token("the ID token is signed with a key the provider does not publish"))?;
    let key =
        DecodingKey::from_jwk(jwk).map_err(|_| Refused::Token("the provider's signing key is unusable"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = LEEWAY_SECS;
    let claims = jsonwebtoken::decode::<IdClaims>(token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        Refused::Token(match e.kind() {
            ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                "the ID token's signature does not verify"
            }
            ErrorKind::ExpiredSignature => "the ID token has expired",
            ErrorKind::InvalidIssuer => "the ID token was issued by another issuer",
            ErrorKind::InvalidAudience => "the ID token is meant for another client",
            ErrorKind::MissingRequiredClaim(_) => "the ID token lacks a required claim",
            _ => "the ID token is invalid",
        })
    })?;
    let claims = claims.claims;
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    if claims.iat > now + LEEWAY_SECS {
        return Err(Refused::Token("the ID token is issued in the future"));
    }
    if claims.azp.as_deref().is_some_and(|azp| azp != client_id) {
        return Err(Refused::Token("the ID token is meant for another client"));
    }
    if claims.nonce.as_deref() != Some(nonce) {
        return Err(Refused::Token("the ID token does not answer this login (nonce)"));
    }
    Ok(claims)
}

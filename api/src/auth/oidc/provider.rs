//! Talking to an OpenID Connect provider over HTTP: its discovery document
//! (`{issuer}/.well-known/openid-configuration`) and signing keys (JWKS), kept in memory per
//! issuer for an hour (the keys fetched again at once when a token names a key id they lack:
//! the provider rotated its keys), and the token endpoint's answer to an authorization code.
//! Every request has a timeout, follows no redirect, and a failure says which request failed and
//! how; the caller picks the error code (a configuration error, or a refused login).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;

/// How long a provider's discovery document and keys are used before they are fetched again.
const CACHE_TTL: Duration = Duration::from_secs(3600);

/// The shortest time after a fetch of one provider's keys made for an unknown key id before
/// another such fetch, so tokens naming made-up key ids cannot make us hammer the provider.
const REFETCH_GAP: Duration = Duration::from_secs(5);

/// The parts of a discovery document the authorization code flow uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
}

/// What is known of one provider: its metadata and keys, and when they were fetched.
#[derive(Debug)]
pub struct Known {
    pub metadata: Metadata,
    pub keys: JwkSet,
    fetched: Instant,
    /// Fetched because a token named a key id the keys before lacked.
    for_unknown_key: bool,
}

/// Every provider met so far, by issuer: discovery and keys are the provider's, not a tenant's,
/// so tenants configuring the same issuer share them.
static KNOWN: LazyLock<RwLock<HashMap<String, Arc<Known>>>> = LazyLock::new(Default::default);

/// The HTTP client of every provider request (no redirects: an endpoint answers itself).
static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
});

/// Why talking to the provider failed, in words for whoever configured or uses it.
#[derive(Debug)]
pub struct ProviderError(pub String);

/// `url`'s JSON body, or why not (unreachable, not 2xx, not the expected JSON).
async fn get_json<T: serde::de::DeserializeOwned>(what: &str, url: &str) -> Result<T, ProviderError> {
    let failed = |why: String| ProviderError(format!("{what} ({url}): {why}"));
    let response = CLIENT
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(failed(format!("HTTP {status}")));
    }
    response.json::<T>().await.map_err(|e| failed(format!("unexpected answer: {e}")))
}

/// The discovery document and keys of `issuer`, fetched anew.
async fn fetch(issuer: &str, for_unknown_key: bool) -> Result<Known, ProviderError> {
    let url = format!("{issuer}/.well-known/openid-configuration");
    let metadata: Metadata = get_json("discovery", &url).await?;
    if metadata.issuer.trim_end_matches('/') != issuer {
        return Err(ProviderError(format!(
            "discovery ({url}): the document names issuer `{}`, not `{issuer}`",
            metadata.issuer
        )));
    }
    if !metadata.code_challenge_methods_supported.is_empty()
        && !metadata.code_challenge_methods_supported.iter().any(|m| m == "S256")
    {
        return Err(ProviderError(format!(
            "discovery ({url}): the provider does not support PKCE with S256"
        )));
    }
    let keys: JwkSet = get_json("signing keys", &metadata.jwks_uri).await?;
    Ok(Known { metadata, keys, fetched: Instant::now(), for_unknown_key })
}

/// What is known of `issuer`: from memory while fresh, else fetched (and remembered).
pub async fn known(issuer: &str) -> Result<Arc<Known>, ProviderError> {
    let cached = KNOWN.read().ok().and_then(|m| m.get(issuer).cloned());
    if let Some(k) = cached.filter(|k| k.fetched.elapsed() < CACHE_TTL) {
        return Ok(k);
    }
    refresh(issuer, false).await
}

/// `issuer` fetched again and remembered.
async fn refresh(issuer: &str, for_unknown_key: bool) -> Result<Arc<Known>, ProviderError> {
    let k = Arc::new(fetch(issuer, for_unknown_key).await?);
    if let Ok(mut m) = KNOWN.write() {
        m.insert(issuer.to_owned(), k.clone());
    }
    Ok(k)
}

/// What is known of `issuer` with a key `kid`: fetched again when the remembered keys lack it
/// (not again within a few seconds of such a fetch), since a provider may have rotated its keys.
pub async fn with_key(issuer: &str, kid: &str) -> Result<Arc<Known>, ProviderError> {
    let k = known(issuer).await?;
    if k.keys.find(kid).is_some() || (k.for_unknown_key && k.fetched.elapsed() < REFETCH_GAP) {
        return Ok(k);
    }
    refresh(issuer, true).await
}

/// The token endpoint's answer: only the ID token matters here.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub id_token: Option<String>,
}

/// An OAuth error answer (`{"error": "invalid_grant", "error_description": …}`).
#[derive(Debug, Deserialize)]
struct OAuthError {
    error: String,
    error_description: Option<String>,
}

/// The client's credentials and the code to exchange.
pub struct Exchange<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub code_verifier: &'a str,
}

/// Exchanges an authorization code at the token endpoint, authenticating the client as the
/// provider says it may: in the form (`client_secret_post`) when it lists that and not
/// `client_secret_basic`, else with HTTP Basic (the default of the specification).
pub async fn exchange(m: &Metadata, x: &Exchange<'_>) -> Result<TokenResponse, ProviderError> {
    let url = &m.token_endpoint;
    let failed = |why: String| ProviderError(format!("token endpoint ({url}): {why}"));
    let methods = &m.token_endpoint_auth_methods_supported;
    let post = methods.iter().any(|a| a == "client_secret_post")
        && !methods.iter().any(|a| a == "client_secret_basic");
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", x.code),
        ("redirect_uri", x.redirect_uri),
        ("code_verifier", x.code_verifier),
        ("client_id", x.client_id),
    ];
    let mut request = CLIENT.post(url).header("accept", "application/json");
    if post {
        form.push(("client_secret", x.client_secret));
    } else {
        // RFC 6749 § 2.3.1: both parts form-encoded before they are joined.
        let (id, secret) = (form_encode(x.client_id), form_encode(x.client_secret));
        request = request.basic_auth(id, Some(secret));
    }
    let body = form.iter().map(|(k, v)| format!("{k}={}", form_encode(v))).collect::<Vec<_>>().join("&");
    let response = request
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| failed(e.to_string()))?;
    if !status.is_success() {
        return Err(failed(match serde_json::from_str::<OAuthError>(&text) {
            Ok(e) => format!(
                "HTTP {status}, {}{}",
                e.error,
                e.error_description.map(|d| format!(": {d}")).unwrap_or_default()
            ),
            Err(_) => format!("HTTP {status}"),
        }));
    }
    serde_json::from_str(&text).map_err(|e| failed(format!("unexpected answer: {e}")))
}

/// `s` percent-encoded for an `application/x-www-form-urlencoded` body or a query string
/// (unreserved characters kept, everything else `%XX`).
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::form_encode;

    #[test]
    fn form_encoding_keeps_unreserved_and_escapes_the_rest() {
        assert_eq!(form_encode("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(form_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}

//! Talking to an OpenID Connect provider over HTTP: its discovery document
//! (`{issuer}/.well-known/openid-configuration`) and signing keys (JWKS), kept in memory per
//! issuer for an hour (the keys fetched again at once when a token names a key id they lack:
//! the provider rotated its keys), and the token endpoint's answer to an authorization code.
//! Every request has a timeout, follows no redirect, and a failure says which request failed and
//! how; the caller picks the error code (a configuration error, or a refused login).
//!
//! The URLs are an administrator's input (the issuer) and the provider's (its endpoints): unless
//! the operator allows private networks ([`Reach::Any`], `OIDC_ALLOW_PRIVATE_NETWORK`), each is
//! refused before its request when its host is, or resolves to, a loopback, private, link-local
//! or otherwise internal address (the rule outgoing webhooks follow), and the connection itself
//! goes through a resolver that drops such addresses ([`PublicOnly`]), so a DNS answer that
//! changes between the check and the connection (rebinding) reaches nothing inside either.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
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

/// Which addresses provider requests may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Public addresses only (the default).
    Public,
    /// Any address (`OIDC_ALLOW_PRIVATE_NETWORK=true`).
    Any,
}

impl Reach {
    /// From the operator's setting.
    pub fn of(allow_private_network: bool) -> Reach {
        if allow_private_network { Reach::Any } else { Reach::Public }
    }
}

/// Whether `ip` may be reached by a request of [`Reach::Public`]: the outgoing webhooks' rule
/// (`jobs::handlers::webhooks::is_internal`), one list of what is internal for the whole server.
fn is_public(ip: IpAddr) -> bool {
    !jobs::handlers::webhooks::is_internal(ip)
}

/// A resolver that answers only the public addresses of a name (and fails when it has none):
/// what a connection of [`Reach::Public`] may reach, whatever an earlier lookup said.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> =
                    format!("`{host}` has no public address").into();
                return Err(refused);
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client of provider requests reaching `reach` (no redirects: an endpoint answers
/// itself).
fn client(reach: Reach) -> &'static reqwest::Client {
    fn build(public: bool) -> reqwest::Client {
        let builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none());
        let builder = if public { builder.dns_resolver(Arc::new(PublicOnly)) } else { builder };
        builder.build().unwrap_or_default()
    }
    static ANY: LazyLock<reqwest::Client> = LazyLock::new(|| build(false));
    static PUBLIC: LazyLock<reqwest::Client> = LazyLock::new(|| build(true));
    match reach {
        Reach::Any => &ANY,
        Reach::Public => &PUBLIC,
    }
}

/// Refuses `url` before a request of `reach` when its host is, or resolves to, an address that
/// is not public — with words that say so and which setting allows it.
pub async fn guard(what: &str, url: &str, reach: Reach) -> Result<(), ProviderError> {
    if reach == Reach::Any {
        return Ok(());
    }
    let refused = |why: String| {
        ProviderError(format!(
            "{what} ({url}): {why}; private, loopback and link-local addresses are refused unless the \
             operator sets OIDC_ALLOW_PRIVATE_NETWORK=true"
        ))
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| ProviderError(format!("{what} ({url}): {e}")))?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let Some(host) = parsed.host_str() else { return Err(ProviderError(format!("{what} ({url}): no host"))) };
    // An IPv6 literal comes bracketed.
    let addrs: Vec<IpAddr> = match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| ProviderError(format!("{what} ({url}): `{host}` does not resolve: {e}")))?
            .map(|a| a.ip())
            .collect(),
    };
    match addrs.iter().find(|ip| !is_public(**ip)) {
        Some(ip) => Err(refused(format!("the host is at {ip}, not a public address"))),
        None => Ok(()),
    }
}

/// Why talking to the provider failed, in words for whoever configured or uses it.
#[derive(Debug)]
pub struct ProviderError(pub String);

/// `url`'s JSON body, or why not (a refused address, unreachable, not 2xx, not the expected
/// JSON).
async fn get_json<T: serde::de::DeserializeOwned>(
    what: &str,
    url: &str,
    reach: Reach,
) -> Result<T, ProviderError> {
    guard(what, url, reach).await?;
    let failed = |why: String| ProviderError(format!("{what} ({url}): {why}"));
    let response = client(reach)
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
async fn fetch(issuer: &str, for_unknown_key: bool, reach: Reach) -> Result<Known, ProviderError> {
    let url = format!("{issuer}/.well-known/openid-configuration");
    let metadata: Metadata = get_json("discovery", &url, reach).await?;
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
    let keys: JwkSet = get_json("signing keys", &metadata.jwks_uri, reach).await?;
    Ok(Known { metadata, keys, fetched: Instant::now(), for_unknown_key })
}

/// What is known of `issuer`: from memory while fresh, else fetched (and remembered). The
/// issuer is checked against `reach` even when remembered (another server of this process may
/// allow what this one does not, and a name may since resolve elsewhere).
pub async fn known(issuer: &str, reach: Reach) -> Result<Arc<Known>, ProviderError> {
    let cached = KNOWN.read().ok().and_then(|m| m.get(issuer).cloned());
    if let Some(k) = cached.filter(|k| k.fetched.elapsed() < CACHE_TTL) {
        guard("issuer", issuer, reach).await?;
        return Ok(k);
    }
    refresh(issuer, false, reach).await
}

/// `issuer` fetched again and remembered.
async fn refresh(issuer: &str, for_unknown_key: bool, reach: Reach) -> Result<Arc<Known>, ProviderError> {
    let k = Arc::new(fetch(issuer, for_unknown_key, reach).await?);
    if let Ok(mut m) = KNOWN.write() {
        m.insert(issuer.to_owned(), k.clone());
    }
    Ok(k)
}

/// What is known of `issuer` with a key `kid`: fetched again when the remembered keys lack it
/// (not again within a few seconds of such a fetch), since a provider may have rotated its keys.
pub async fn with_key(issuer: &str, kid: &str, reach: Reach) -> Result<Arc<Known>, ProviderError> {
    let k = known(issuer, reach).await?;
    if k.keys.find(kid).is_some() || (k.for_unknown_key && k.fetched.elapsed() < REFETCH_GAP) {
        return Ok(k);
    }
    refresh(issuer, true, reach).await
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
pub async fn exchange(m: &Metadata, x: &Exchange<'_>, reach: Reach) -> Result<TokenResponse, ProviderError> {
    let url = &m.token_endpoint;
    guard("token endpoint", url, reach).await?;
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
    let mut request = client(reach).post(url).header("accept", "application/json");
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

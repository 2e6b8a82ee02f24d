//! The OpenID Connect provider a test signs in with (`tests/support/oidc_provider.py`, a real
//! provider on a free port: discovery, JWKS, authorization and token endpoints, RS256 ID
//! tokens), and what a browser does between `startOidcLogin` and `completeOidcLogin`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Api, Auth, Response, TestTenant, eventually, str_of};

/// The client this tenant is registered as at the provider.
pub const CLIENT_ID: &str = "alphery-it";
pub const CLIENT_SECRET: &str = "s3cret-of-the-client";

/// Where the provider sends the browser back (nothing listens: the test reads the redirect).
pub const REDIRECT_URI: &str = "https://app.example.com/auth/callback";

/// A running provider, stopped when dropped.
pub struct Provider {
    pub issuer: String,
    process: std::process::Child,
}

impl Provider {
    /// A provider whose client authenticates at the token endpoint with `auth_method`
    /// (`client_secret_basic` or `client_secret_post`).
    pub async fn start_with(auth_method: &str) -> Provider {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port for the OIDC provider")
            .port();
        let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("support/oidc_provider.py");
        let process = std::process::Command::new("python3")
            .arg(&script)
            .args([&port.to_string(), CLIENT_ID, CLIENT_SECRET, auth_method])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start the OIDC provider (python3 with cryptography; tests/run.sh installs it)");
        let provider = Provider { issuer: format!("http://127.0.0.1:{port}"), process };
        let discovery = format!("{}/.well-known/openid-configuration", provider.issuer);
        eventually(
            "the OIDC provider to answer (is cryptography installed?)",
            Duration::from_secs(30),
            async || reqwest::get(&discovery).await.is_ok_and(|r| r.status().is_success()),
        )
        .await;
        provider
    }

    /// A provider of the default client authentication (HTTP Basic).
    pub async fn start() -> Provider {
        Provider::start_with("client_secret_basic").await
    }

    /// The client authentication methods of the token requests it answered, in order.
    pub async fn token_auth_methods(&self) -> Vec<Value> {
        let log: Value = reqwest::get(format!("{}/log", self.issuer))
            .await
            .expect("the provider's log")
            .json()
            .await
            .expect("the log as JSON");
        log.as_array().expect("a list").iter().map(|e| e["method"].clone()).collect()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The selection of an `OidcProvider`.
pub const PROVIDER: &str =
    "key issuer clientId scopes defaultRole allowSignup allowedEmailDomains redirectUris createdAt updatedAt";

/// `configureOidcProvider(input)` as `auth`.
pub async fn configure(t: &TestTenant, auth: &Auth, input: Value) -> Response {
    let query = format!(
        "mutation($i: ConfigureOidcProviderInput!) {{ configureOidcProvider(input: $i) {{ {PROVIDER} }} }}"
    );
    t.api.graphql(auth, &query, json!({ "i": input })).await
}

/// Configures provider `key` at `p` for tenant `t` (as its owner), with `extra` input members.
pub async fn configure_ok(t: &TestTenant, p: &Provider, key: &str, extra: Value) -> Value {
    let mut input = json!({ "key": key, "issuer": p.issuer, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
                            "redirectUris": [REDIRECT_URI] });
    crate::harness::merge(&mut input, extra);
    configure(t, &t.auth(), input).await.data()["configureOidcProvider"].clone()
}

/// `startOidcLogin` without a credential.
pub async fn start_login(api: &Api, tenant: &str, provider: &str) -> Response {
    start_login_to(api, tenant, provider, REDIRECT_URI).await
}

/// `startOidcLogin` coming back to `redirect_uri`.
pub async fn start_login_to(api: &Api, tenant: &str, provider: &str, redirect_uri: &str) -> Response {
    let query = "mutation($t: String!, $p: String!, $r: String!) {
        startOidcLogin(tenant: $t, provider: $p, redirectUri: $r) { authorizationUrl state } }";
    api.graphql(&Auth::None, query, json!({ "t": tenant, "p": provider, "r": redirect_uri })).await
}

/// `completeOidcLogin` without a credential.
pub async fn complete_login(api: &Api, state: &str, code: &str) -> Response {
    let query = format!(
        "mutation($s: String!, $c: String!) {{ completeOidcLogin(state: $s, code: $c) {{ {} }} }}",
        crate::harness::AUTH_PAYLOAD
    );
    api.graphql(&Auth::None, &query, json!({ "s": state, "c": code })).await
}

/// Who signs in at the provider's page, and how the provider shapes the ID token (`mode`).
pub struct Account<'a> {
    pub sub: &'a str,
    pub email: &'a str,
    pub email_verified: bool,
    pub mode: &'a str,
}

impl<'a> Account<'a> {
    pub fn new(sub: &'a str, email: &'a str) -> Account<'a> {
        Account { sub, email, email_verified: true, mode: "ok" }
    }
}

/// What the browser does with an authorization URL: GETs it (signing in as `who`) without
/// following the redirect, and reads the redirect's `code` and `state`.
pub async fn authorize(url: &str, who: &Account<'_>) -> (String, String) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a browser that stops at redirects");
    let mut url = reqwest::Url::parse(url).expect("the authorization URL is a URL");
    url.query_pairs_mut()
        .append_pair("login_as", who.sub)
        .append_pair("login_email", who.email)
        .append_pair("login_email_verified", if who.email_verified { "true" } else { "false" })
        .append_pair("mode", who.mode);
    let response = browser.get(url).send().await.expect("the authorization request");
    assert_eq!(response.status().as_u16(), 302, "the provider redirects: {:?}", response.text().await);
    let location = response.headers()["location"].to_str().expect("a text Location").to_owned();
    assert!(location.starts_with(REDIRECT_URI), "back to the redirect URI: {location}");
    let back = reqwest::Url::parse(&location).expect("the Location is a URL");
    let param = |name: &str| back.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let code = param("code").unwrap_or_else(|| panic!("a code in {location}"));
    (code, param("state").unwrap_or_else(|| panic!("a state in {location}")))
}

/// A whole login of `who` at `tenant`'s provider `key`: the completion's response.
pub async fn sign_in(api: &Api, tenant: &str, key: &str, who: &Account<'_>) -> Response {
    let start = start_login(api, tenant, key).await.data()["startOidcLogin"].clone();
    let (code, state) = authorize(&str_of(&start["authorizationUrl"]), who).await;
    assert_eq!(state, str_of(&start["state"]), "the provider sends the state back");
    complete_login(api, &state, &code).await
}

//! OpenID Connect hardening: a login may only come back to one of the provider's
//! `redirectUris`; on a server without `OIDC_ALLOW_PRIVATE_NETWORK` a provider at a loopback
//! address (by IP or by a name resolving to one) is refused when configured and when a login
//! starts; two first logins of one subject completed at the same moment make one user.

use serde_json::{Value, json};

use super::provider::{
    Account, CLIENT_ID, CLIENT_SECRET, Provider, REDIRECT_URI, authorize, complete_login, configure,
    configure_ok, start_login, start_login_to,
};
use super::{audit, me, signed_in};
use crate::harness::{public_network_server, str_of, tenant};

#[tokio::test]
async fn oidc_logins_come_back_only_to_an_allowed_redirect_uri() {
    let t = tenant().await;
    let p = Provider::start().await;
    let other = "https://app.example.com/other/callback";
    let configured = configure_ok(&t, &p, "corp", json!({})).await;
    assert_eq!(configured["redirectUris"], json!([REDIRECT_URI]));
    // Not on the list: refused before anything is remembered; the listed one starts.
    for refused in [other, "https://evil.example.net/auth/callback", "https://app.example.com/auth/callback/"]
    {
        let response = start_login_to(&t.api, &t.slug, "corp", refused).await;
        response.expect_code("VALIDATION_FAILED");
        response.expect_field_error_mentioning("redirectUri");
    }
    start_login(&t.api, &t.slug, "corp").await.data();
    // Listed by an update (which keeps the secret): now it starts, and the list is shown.
    let update = json!({ "key": "corp", "issuer": p.issuer, "clientId": CLIENT_ID, "redirectUris": [REDIRECT_URI, other] });
    let updated = configure(&t, &t.auth(), update).await.data()["configureOidcProvider"].clone();
    assert_eq!(updated["redirectUris"], json!([REDIRECT_URI, other]));
    let started = start_login_to(&t.api, &t.slug, "corp", other).await.data()["startOidcLogin"].clone();
    assert!(
        str_of(&started["authorizationUrl"])
            .contains("redirect_uri=https%3A%2F%2Fapp.example.com%2Fother%2Fcallback")
    );
    // The change is audited with the list.
    let entries = audit(&t, "oidc_provider.configure").await;
    assert_eq!(entries[0]["changes"]["redirectUris"], json!([REDIRECT_URI, other]));
}

#[tokio::test]
async fn oidc_providers_at_private_addresses_need_the_operators_consent() {
    let t = tenant().await;
    let strict = t.on(public_network_server());
    let p = Provider::start().await;
    let port = p.issuer.rsplit(':').next().unwrap_or_default().to_owned();
    let input = |issuer: &str| {
        json!({ "key": "corp", "issuer": issuer, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
                "redirectUris": [REDIRECT_URI] })
    };
    // By address, and by a name that resolves to a loopback address: refused, saying why.
    for issuer in [p.issuer.clone(), format!("http://localhost:{port}"), "http://169.254.169.254".into()] {
        let refused = configure(&strict, &strict.auth(), input(&issuer)).await;
        refused.expect_code("VALIDATION_FAILED");
        refused.expect_field_error_mentioning("issuer");
        assert!(refused.text.contains("OIDC_ALLOW_PRIVATE_NETWORK"), "{issuer}: {}", refused.text);
    }
    assert_eq!(strict.data("{ oidcProviders { key } }", json!({})).await["oidcProviders"], json!([]));
    // A server whose operator allows private networks takes it (the tests' default) …
    configure_ok(&t, &p, "corp", json!({})).await;
    start_login(&t.api, &t.slug, "corp").await.data();
    // … and the strict one still refuses to start a login at it, though the provider is known.
    let refused = start_login(&strict.api, &strict.slug, "corp").await;
    refused.expect_code("BAD_REQUEST");
    assert!(refused.text.contains("OIDC_ALLOW_PRIVATE_NETWORK"), "{}", refused.text);
}

#[tokio::test]
async fn two_first_logins_of_one_subject_at_once_make_one_user() {
    let t = tenant().await;
    let p = Provider::start().await;
    configure_ok(&t, &p, "corp", json!({ "allowSignup": true })).await;
    let email = format!("twice@{}.example.com", t.slug);
    let who = Account::new("sub-twice", &email);
    // Two logins started and authorized one after the other, completed at the same moment.
    let mut pending = Vec::new();
    for _ in 0..2 {
        let start = start_login(&t.api, &t.slug, "corp").await.data()["startOidcLogin"].clone();
        pending.push(authorize(&str_of(&start["authorizationUrl"]), &who).await);
    }
    let ((code_a, state_a), (code_b, state_b)) = (&pending[0], &pending[1]);
    let (a, b) =
        tokio::join!(complete_login(&t.api, state_a, code_a), complete_login(&t.api, state_b, code_b));
    let (a, b) = (signed_in(&a), signed_in(&b));
    let (user_a, user_b) = (me(&t.api, &a).await, me(&t.api, &b).await);
    assert_eq!(user_a["id"], user_b["id"], "one user for one subject");
    assert_eq!(user_a["email"], json!(email));
    let users = t.data("{ users { email } }", json!({})).await["users"].clone();
    let same: Vec<&Value> =
        users.as_array().into_iter().flatten().filter(|u| u["email"] == json!(email)).collect();
    assert_eq!(same.len(), 1, "{users}");
    assert_eq!(audit(&t, "user.oidc_signup").await.len(), 1);
    assert_eq!(audit(&t, "user.oidc_link").await.len(), 1);
}

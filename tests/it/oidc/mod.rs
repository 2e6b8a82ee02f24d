//! OpenID Connect sign-in per tenant, against a real provider started by each test (`provider`):
//! an administrator configures it (the client secret never readable back), a browser follows
//! the authorization URL, `completeOidcLogin` signs in with the same tokens as `login`; a second
//! login is the same user (linked by subject), a verified email finds an existing user, signup
//! obeys the provider's switch and domains. Refused: a state used twice, a code of another login
//! (its PKCE verifier does not match), ID tokens signed by another key, for another audience or
//! issuer, expired or with another nonce, deactivated users, and another tenant's provider.
//! Hardening (`hardening`): redirect URIs outside the provider's allow-list, providers at
//! private addresses on a server that does not allow them, and two simultaneous first logins
//! of one subject making one user.

mod hardening;
mod provider;

use serde_json::{Value, json};

use crate::harness::{Api, Auth, Response, TestTenant, str_of, tenant};
use provider::{
    Account, CLIENT_SECRET, Provider, authorize, complete_login, configure, configure_ok, sign_in,
    start_login,
};

/// `me` as the bearer of `payload`'s access token.
async fn me(api: &Api, payload: &Value) -> Value {
    let auth = Auth::Bearer(str_of(&payload["accessToken"]));
    api.graphql(&auth, "{ me { id email role name } }", json!({})).await.data()["me"].clone()
}

/// The completion's `AuthPayload`, asserting it succeeded.
fn signed_in(response: &Response) -> Value {
    response.data()["completeOidcLogin"].clone()
}

/// The audit entries of `action`, newest first.
async fn audit(t: &TestTenant, action: &str) -> Vec<Value> {
    let query = "query($f: AuditFilter) { auditLog(filter: $f, first: 50) { nodes { action objectId actorUserId changes } } }";
    let log = t.data(query, json!({ "f": { "action": action } })).await;
    log["auditLog"]["nodes"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn oidc_signup_then_login_as_the_same_user() {
    let t = tenant().await;
    let p = Provider::start().await;
    let configured = configure_ok(&t, &p, "corp", json!({ "allowSignup": true })).await;
    assert_eq!(configured["key"], json!("corp"));
    assert_eq!(configured["issuer"], json!(p.issuer));
    assert_eq!(configured["scopes"], json!(["openid", "email", "profile"]));
    assert_eq!(configured["defaultRole"], json!("member"));

    let email = format!("new.person@{}.example.com", t.slug);
    let who = Account::new("sub-new-person", &email);
    let first = signed_in(&sign_in(&t.api, &t.slug, "corp", &who).await);
    assert_eq!(first["tenant"]["slug"], json!(t.slug));
    let user = me(&t.api, &first).await;
    assert_eq!(user["email"], json!(email));
    assert_eq!(user["role"], json!("member"));
    // The refresh token works like a password login's.
    crate::harness::refresh(&t.api, &str_of(&first["refreshToken"])).await.data();

    // Linked by subject: the second login is the same user, even with another email claim.
    let again = Account::new("sub-new-person", "renamed@elsewhere.example.com");
    let second = signed_in(&sign_in(&t.api, &t.slug, "corp", &again).await);
    assert_eq!(me(&t.api, &second).await["id"], user["id"]);
    assert_eq!(t.data("{ users { id } }", json!({})).await["users"].as_array().map(Vec::len), Some(2));

    // Audited: the configuration, the signup and link, and both logins with their provider.
    assert_eq!(audit(&t, "oidc_provider.configure").await.len(), 1);
    let signup = audit(&t, "user.oidc_signup").await;
    assert_eq!(signup.len(), 1);
    assert_eq!(signup[0]["objectId"], user["id"]);
    assert_eq!(signup[0]["changes"]["provider"], json!("corp"));
    let logins: Vec<Value> = audit(&t, "auth.login")
        .await
        .into_iter()
        .filter(|e| e["changes"]["provider"] == json!("corp"))
        .collect();
    assert_eq!(logins.len(), 2);
    assert_eq!(p.token_auth_methods().await, vec![json!("client_secret_basic"); 2]);
}

#[tokio::test]
async fn oidc_client_secret_is_never_readable_and_config_is_admin_only() {
    let t = tenant().await;
    let p = Provider::start().await;
    configure_ok(&t, &p, "corp", json!({ "scopes": ["email"], "allowedEmailDomains": [" Example.COM "] }))
        .await;
    let listed = t.request("{ oidcProviders { key scopes allowedEmailDomains } }", json!({})).await;
    assert!(!listed.text.contains(CLIENT_SECRET), "the secret is not shown: {}", listed.text);
    let providers = listed.data()["oidcProviders"].clone();
    assert_eq!(
        providers,
        json!([{ "key": "corp", "scopes": ["openid", "email"], "allowedEmailDomains": ["example.com"] }])
    );
    // No field reads it back, and the audit trail does not hold it either.
    assert!(!t.request("{ oidcProviders { clientSecret } }", json!({})).await.errors().is_empty());
    let entries = audit(&t, "oidc_provider.configure").await;
    assert!(!entries.iter().any(|e| e.to_string().contains(CLIENT_SECRET)));
    assert_eq!(entries[0]["changes"]["clientSecretChanged"], json!(true));

    // An update without the secret keeps the stored one: logins still authenticate.
    let updated = configure(
        &t,
        &t.auth(),
        json!({ "key": "corp", "issuer": p.issuer, "clientId": provider::CLIENT_ID }),
    )
    .await;
    assert_eq!(updated.data()["configureOidcProvider"]["scopes"], json!(["openid", "email", "profile"]));
    sign_in(&t.api, &t.slug, "corp", &Account::new("owner-sub", &t.email)).await.data();

    // Members may not see or change providers.
    let member = t.invite_auth("member").await;
    // (Inline input: the member's schema has no `ConfigureOidcProviderInput` to declare a variable of.)
    let inline = "mutation { configureOidcProvider(input: {key: \"mine\", issuer: \"http://127.0.0.1:9\", clientId: \"x\"}) { key } }";
    t.api.graphql(&member, inline, json!({})).await.expect_code("FORBIDDEN");
    t.api.graphql(&member, "{ oidcProviders { key } }", json!({})).await.expect_code("FORBIDDEN");
    let delete = "mutation($k: String!) { deleteOidcProvider(key: $k) }";
    t.api.graphql(&member, delete, json!({ "k": "corp" })).await.expect_code("FORBIDDEN");

    // Deleted: no login can start at it.
    assert_eq!(t.data(delete, json!({ "k": "corp" })).await["deleteOidcProvider"], json!(true));
    assert_eq!(t.error_code(delete, json!({ "k": "corp" })).await, "NOT_FOUND");
    start_login(&t.api, &t.slug, "corp").await.expect_code("NOT_FOUND");
    assert_eq!(audit(&t, "oidc_provider.delete").await.len(), 1);
}

#[tokio::test]
async fn oidc_bad_configuration_is_a_validation_error() {
    let t = tenant().await;
    let p = Provider::start().await;
    let base = json!({ "key": "corp", "issuer": p.issuer, "clientId": provider::CLIENT_ID, "clientSecret": "s",
                       "redirectUris": [provider::REDIRECT_URI] });
    let with = |extra: Value| {
        let mut input = base.clone();
        crate::harness::merge(&mut input, extra);
        input
    };
    let cases = [
        (json!({ "key": "Not A Key" }), "key"),
        (json!({ "issuer": "ftp://idp.example.com" }), "issuer"),
        // Nothing answers discovery there.
        (json!({ "issuer": "http://127.0.0.1:9" }), "issuer"),
        (json!({ "issuer": format!("{}/elsewhere", p.issuer) }), "issuer"),
        (json!({ "clientId": " " }), "clientId"),
        (json!({ "clientSecret": null }), "clientSecret"),
        (json!({ "defaultRole": "owner" }), "defaultRole"),
        (json!({ "defaultRole": "no such role" }), "defaultRole"),
        (json!({ "allowedEmailDomains": ["a@b.com"] }), "allowedEmailDomains"),
        (json!({ "redirectUris": null }), "redirectUris"),
        (json!({ "redirectUris": [] }), "redirectUris"),
        (json!({ "redirectUris": ["ftp://app.example.com/cb"] }), "redirectUris[0]"),
        (json!({ "redirectUris": ["https://app.example.com/cb#frag"] }), "redirectUris[0]"),
    ];
    for (extra, field) in cases {
        let response = configure(&t, &t.auth(), with(extra.clone())).await;
        response.expect_code("VALIDATION_FAILED");
        response.expect_field_error_mentioning(field);
    }
    assert_eq!(t.data("{ oidcProviders { key } }", json!({})).await["oidcProviders"], json!([]));
    // A bad redirect URI is refused before anything is remembered.
    configure_ok(&t, &p, "corp", json!({})).await;
    let query = "mutation($t: String!) { startOidcLogin(tenant: $t, provider: \"corp\", redirectUri: \"not a url\") { state } }";
    t.api.graphql(&Auth::None, query, json!({ "t": t.slug })).await.expect_code("VALIDATION_FAILED");
}

#[tokio::test]
async fn oidc_links_existing_users_by_verified_email_only() {
    let t = tenant().await;
    let p = Provider::start_with("client_secret_post").await;
    configure_ok(&t, &p, "corp", json!({ "allowedEmailDomains": ["allowed.example.com"] })).await;

    // The owner, by their verified email: linked, then known by subject.
    let owner = signed_in(&sign_in(&t.api, &t.slug, "corp", &Account::new("owner-sub", &t.email)).await);
    assert_eq!(me(&t.api, &owner).await["id"], json!(t.user_id));
    assert_eq!(me(&t.api, &owner).await["role"], json!("owner"));
    assert_eq!(audit(&t, "user.oidc_link").await.len(), 1);
    assert_eq!(p.token_auth_methods().await, vec![json!("client_secret_post")]);

    // An unverified email matches no one, and signup is off: both FORBIDDEN, and audited.
    let unverified = Account { email_verified: false, ..Account::new("other-sub", &t.email) };
    sign_in(&t.api, &t.slug, "corp", &unverified).await.expect_code("FORBIDDEN");
    let stranger = Account::new("stranger-sub", "someone@allowed.example.com");
    sign_in(&t.api, &t.slug, "corp", &stranger).await.expect_code("FORBIDDEN");
    let refused = audit(&t, "auth.login_failed").await;
    assert_eq!(refused.len(), 2, "{refused:?}");

    // Signup on, but only from the allowed domain.
    configure_ok(
        &t,
        &p,
        "corp",
        json!({ "allowSignup": true, "allowedEmailDomains": ["allowed.example.com"] }),
    )
    .await;
    let outsider = Account::new("outsider-sub", "someone@other.example.com");
    sign_in(&t.api, &t.slug, "corp", &outsider).await.expect_code("FORBIDDEN");
    let created = signed_in(&sign_in(&t.api, &t.slug, "corp", &stranger).await);
    assert_eq!(me(&t.api, &created).await["email"], json!("someone@allowed.example.com"));

    // A deactivated user is refused, though the provider vouches for them.
    let user_id = me(&t.api, &created).await["id"].clone();
    t.data("mutation($u: ID!) { deactivateUser(userId: $u) { id } }", json!({ "u": user_id })).await;
    sign_in(&t.api, &t.slug, "corp", &stranger).await.expect_code("UNAUTHENTICATED");
    // A user made by a provider has no password to sign in with.
    crate::harness::login(&t.api, &t.slug, "someone@allowed.example.com", "!oidc")
        .await
        .expect_code("UNAUTHENTICATED");
}

#[tokio::test]
async fn oidc_refuses_reused_states_and_swapped_codes() {
    let t = tenant().await;
    let p = Provider::start().await;
    configure_ok(&t, &p, "corp", json!({})).await;
    let who = Account::new("owner-sub", &t.email);

    // A state completes once.
    let start = start_login(&t.api, &t.slug, "corp").await.data()["startOidcLogin"].clone();
    let (code, state) = authorize(&str_of(&start["authorizationUrl"]), &who).await;
    signed_in(&complete_login(&t.api, &state, &code).await);
    complete_login(&t.api, &state, &code).await.expect_code("UNAUTHENTICATED");

    // The code of login A completed with the state of login B: B's PKCE verifier is not the
    // one A's challenge was made from, and the provider refuses the exchange. B's state is spent.
    let a = start_login(&t.api, &t.slug, "corp").await.data()["startOidcLogin"].clone();
    let b = start_login(&t.api, &t.slug, "corp").await.data()["startOidcLogin"].clone();
    let (code_a, _) = authorize(&str_of(&a["authorizationUrl"]), &who).await;
    let (_, state_b) = authorize(&str_of(&b["authorizationUrl"]), &who).await;
    let swapped = complete_login(&t.api, &state_b, &code_a).await;
    swapped.expect_code("UNAUTHENTICATED");
    assert!(swapped.text.contains("PKCE"), "the provider's refusal is reported: {}", swapped.text);
    complete_login(&t.api, &state_b, &code_a).await.expect_code("UNAUTHENTICATED");

    // Made-up and malformed states.
    complete_login(&t.api, &format!("{}.made-up", t.tenant_id), "code").await.expect_code("UNAUTHENTICATED");
    complete_login(&t.api, "garbage", "code").await.expect_code("UNAUTHENTICATED");
}

#[tokio::test]
async fn oidc_refuses_forged_and_misdirected_id_tokens() {
    let t = tenant().await;
    let p = Provider::start().await;
    configure_ok(&t, &p, "corp", json!({ "allowSignup": true })).await;
    for (mode, words) in [
        ("wrong_key", "signature"),
        ("wrong_aud", "another client"),
        ("wrong_iss", "another issuer"),
        ("expired", "expired"),
        ("bad_nonce", "nonce"),
    ] {
        let who = Account { mode, ..Account::new("owner-sub", &t.email) };
        let response = sign_in(&t.api, &t.slug, "corp", &who).await;
        response.expect_code("UNAUTHENTICATED");
        assert!(response.text.contains(words), "{mode}: {}", response.text);
    }
    // Nothing was linked or created by the refused tokens.
    assert!(audit(&t, "user.oidc_link").await.is_empty());
    // A key the provider rotated to after we fetched its keys: fetched again, accepted.
    let rotated = Account { mode: "rotated", ..Account::new("owner-sub", &t.email) };
    let payload = signed_in(&sign_in(&t.api, &t.slug, "corp", &rotated).await);
    assert_eq!(me(&t.api, &payload).await["id"], json!(t.user_id));
}

#[tokio::test]
async fn oidc_provider_of_one_tenant_is_not_another_tenants() {
    let a = tenant().await;
    let b = tenant().await;
    let p = Provider::start().await;
    configure_ok(&a, &p, "corp", json!({ "allowSignup": true })).await;
    // B has no such provider, and sees none of A's.
    start_login(&b.api, &b.slug, "corp").await.expect_code("NOT_FOUND");
    assert_eq!(b.data("{ oidcProviders { key } }", json!({})).await["oidcProviders"], json!([]));
    // A state of A's presented as B's (its tenant part swapped) is no login of B's.
    let start = start_login(&a.api, &a.slug, "corp").await.data()["startOidcLogin"].clone();
    let (code, state) = authorize(&str_of(&start["authorizationUrl"]), &Account::new("s", &b.email)).await;
    let forged = state.replacen(&a.tenant_id, &b.tenant_id, 1);
    assert_ne!(forged, state);
    complete_login(&b.api, &forged, &code).await.expect_code("UNAUTHENTICATED");
    // The real state signs in to A only: B's owner's email is not A's user, so one is created in A.
    let payload = signed_in(&complete_login(&a.api, &state, &code).await);
    assert_eq!(payload["tenant"]["slug"], json!(a.slug));
    assert_ne!(me(&a.api, &payload).await["id"], json!(b.user_id));
}

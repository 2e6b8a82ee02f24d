//! Authentication and sessions: signup, login (no account enumeration), `me`/`tenant`, refresh
//! token rotation and theft detection, logout and `revokeSessions` revoking at once, expired
//! and forged tokens, and the anonymous schema.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    Api, Auth, PASSWORD, SHORT_TTL_SECS, Ws, WsEvent, assert_utc_millis, eventually, login, pluck_str,
    refresh, short_ttl_server, signup, sorted, str_of, strings, tenant, tenant_on, unique_slug,
};

const ME: &str = "{ me { id email name role createdAt } }";

/// Asserts that `token` is refused with HTTP 401 and `UNAUTHENTICATED`.
async fn assert_token_refused(api: &Api, token: &str) {
    let response = api.graphql(&Auth::Bearer(token.to_owned()), ME, json!({})).await;
    assert_eq!(response.status, 401, "expected HTTP 401, got {}", response.text);
    response.expect_code("UNAUTHENTICATED");
}

async fn assert_token_accepted(api: &Api, token: &str) -> Value {
    api.graphql(&Auth::Bearer(token.to_owned()), ME, json!({})).await.data()
}

#[tokio::test]
async fn signup_returns_tokens_user_and_tenant() {
    let api = Api::shared();
    let slug = unique_slug();
    let email = format!("founder@{slug}.example.com");
    let data = signup(&api, "Acme Clinics", &slug, &email, PASSWORD).await.data();
    let payload = &data["signup"];
    assert!(str_of(&payload["accessToken"]).len() > 20);
    assert!(str_of(&payload["refreshToken"]).len() >= 40);
    assert_ne!(payload["accessToken"], payload["refreshToken"]);
    assert_eq!(payload["user"]["email"], json!(email));
    assert_eq!(payload["user"]["role"], json!("owner"));
    assert_utc_millis(&payload["user"]["createdAt"]);
    assert_eq!(payload["tenant"]["slug"], json!(slug));
    assert_eq!(payload["tenant"]["name"], json!("Acme Clinics"));
    assert!(!str_of(&payload["tenant"]["timeZone"]).is_empty());
    assert_utc_millis(&payload["tenant"]["createdAt"]);
    // The access token works right away.
    let me = assert_token_accepted(&api, &str_of(&payload["accessToken"])).await;
    assert_eq!(me["me"]["id"], payload["user"]["id"]);
}

#[tokio::test]
async fn login_with_signup_credentials() {
    let t = tenant().await;
    let data = login(&t.api, &t.slug, &t.email, &t.password).await.data();
    let payload = &data["login"];
    assert_eq!(payload["user"]["id"], json!(t.user_id));
    assert_eq!(payload["tenant"]["id"], json!(t.tenant_id));
    assert_ne!(payload["accessToken"], json!(t.access_token));
    assert_token_accepted(&t.api, &str_of(&payload["accessToken"])).await;
}

#[tokio::test]
async fn failing_login_gives_the_same_answer_for_every_wrong_credential() {
    let t = tenant().await;
    let other = tenant().await;
    let cases = [
        ("wrong password", t.slug.clone(), t.email.clone(), "not the password".to_owned()),
        ("unknown email", t.slug.clone(), "nobody@example.com".to_owned(), t.password.clone()),
        ("unknown tenant", unique_slug(), t.email.clone(), t.password.clone()),
        // A real user of another tenant is unknown here: users belong to one tenant.
        ("user of another tenant", t.slug.clone(), other.email.clone(), other.password.clone()),
    ];
    let mut messages = Vec::new();
    for (case, slug, email, password) in cases {
        let response = login(&t.api, &slug, &email, &password).await;
        assert_eq!(response.code(), "UNAUTHENTICATED", "{case}: {}", response.text);
        assert!(response.body["data"].is_null() || response.body["data"]["login"].is_null());
        messages.push(str_of(&response.errors()[0]["message"]));
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "messages differ (account enumeration): {messages:?}");
}

#[tokio::test]
async fn me_and_tenant() {
    let t = tenant().await;
    let data = t
        .data("{ me { id email name role createdAt } tenant { id name slug timeZone createdAt } }", json!({}))
        .await;
    assert_eq!(data["me"]["id"], json!(t.user_id));
    assert_eq!(data["me"]["email"], json!(t.email));
    assert_eq!(data["me"]["role"], json!("owner"));
    assert_utc_millis(&data["me"]["createdAt"]);
    assert_eq!(data["tenant"]["id"], json!(t.tenant_id));
    assert_eq!(data["tenant"]["slug"], json!(t.slug));
    assert_eq!(data["tenant"]["name"], json!(t.name));
    // A successful response has no `errors` member at all.
    let body = t.gql("{ me { id } }", json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["me"]["id"], json!(t.user_id));
}

#[tokio::test]
async fn refresh_token_rotates_and_the_old_one_dies() {
    let t = tenant().await;
    let first = refresh(&t.api, &t.refresh_token).await.data();
    let rotated = &first["refreshToken"];
    assert_eq!(rotated["user"]["id"], json!(t.user_id));
    assert_eq!(rotated["tenant"]["id"], json!(t.tenant_id));
    let new_refresh = str_of(&rotated["refreshToken"]);
    let new_access = str_of(&rotated["accessToken"]);
    assert_ne!(new_refresh, t.refresh_token);
    assert_token_accepted(&t.api, &new_access).await;

    // The new refresh token rotates again.
    let second = refresh(&t.api, &new_refresh).await.data();
    let newest_refresh = str_of(&second["refreshToken"]["refreshToken"]);
    let newest_access = str_of(&second["refreshToken"]["accessToken"]);
    assert_ne!(newest_refresh, new_refresh);
    assert_token_accepted(&t.api, &newest_access).await;

    // Rotated tokens are dead.
    refresh(&t.api, &t.refresh_token).await.expect_code("UNAUTHENTICATED");
    refresh(&t.api, &new_refresh).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test]
async fn failing_reused_refresh_token_revokes_the_whole_session() {
    let t = tenant().await;
    let (other_access, _) = t.new_session().await;
    let rotated = refresh(&t.api, &t.refresh_token).await.data();
    let new_refresh = str_of(&rotated["refreshToken"]["refreshToken"]);
    let new_access = str_of(&rotated["refreshToken"]["accessToken"]);
    // Someone presents the already-rotated token again: theft detection.
    refresh(&t.api, &t.refresh_token).await.expect_code("UNAUTHENTICATED");
    // The legitimate holder's newer tokens died with the session...
    assert_token_refused(&t.api, &new_access).await;
    refresh(&t.api, &new_refresh).await.expect_code("UNAUTHENTICATED");
    // ...but other sessions of the user live on.
    assert_token_accepted(&t.api, &other_access).await;

    // The same when the reused token is older than the previous generation.
    let (_, original) = t.new_session().await;
    let first = str_of(&refresh(&t.api, &original).await.data()["refreshToken"]["refreshToken"]);
    let second = refresh(&t.api, &first).await.data();
    let (latest_refresh, latest_access) =
        (str_of(&second["refreshToken"]["refreshToken"]), str_of(&second["refreshToken"]["accessToken"]));
    refresh(&t.api, &original).await.expect_code("UNAUTHENTICATED");
    assert_token_refused(&t.api, &latest_access).await;
    refresh(&t.api, &latest_refresh).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test]
async fn failing_refresh_with_garbage_token() {
    let api = Api::shared();
    refresh(&api, "definitely-not-a-refresh-token").await.expect_code("UNAUTHENTICATED");
}

#[tokio::test]
async fn logout_revokes_the_access_token_at_once() {
    let t = tenant().await;
    let (other_access, _) = t.new_session().await;
    let data = t.data("mutation { logout }", json!({})).await;
    assert_eq!(data["logout"], json!(true));
    assert_token_refused(&t.api, &t.access_token).await;
    // The session's refresh token is dead too.
    refresh(&t.api, &t.refresh_token).await.expect_code("UNAUTHENTICATED");
    // Another session of the same user is untouched.
    assert_token_accepted(&t.api, &other_access).await;
}

#[tokio::test]
async fn revoke_sessions_logs_a_user_out_everywhere() {
    let t = tenant().await;
    let (second_access, _) = t.new_session().await;
    let (third_access, _) = t.new_session().await;
    let data = t.data("mutation($u: ID!) { revokeSessions(userId: $u) }", json!({ "u": t.user_id })).await;
    assert_eq!(data["revokeSessions"], json!(3), "three sessions were open");
    for token in [&t.access_token, &second_access, &third_access] {
        assert_token_refused(&t.api, token).await;
    }
}

#[tokio::test]
async fn invited_user_accepts_and_signs_in() {
    let t = tenant().await;
    let accepted = t.invite("member").await;
    let email = str_of(&accepted["user"]["email"]);
    assert_eq!(accepted["user"]["role"], json!("member"));
    assert_eq!(accepted["tenant"]["id"], json!(t.tenant_id));
    let me = assert_token_accepted(&t.api, &str_of(&accepted["accessToken"])).await;
    assert_eq!(me["me"]["email"], json!(email));
    assert_eq!(me["me"]["role"], json!("member"));
    let data = login(&t.api, &t.slug, &email, PASSWORD).await.data();
    assert_eq!(data["login"]["user"]["id"], accepted["user"]["id"]);
    // The owner sees the new user.
    let users = t.data("{ users { email role } }", json!({})).await;
    assert!(users["users"].as_array().expect("users").contains(&json!({ "email": email, "role": "member" })));
}

#[tokio::test]
async fn failing_signup_with_a_taken_slug() {
    let t = tenant().await;
    let response = signup(&t.api, "Copycat", &t.slug, "copy@example.com", PASSWORD).await;
    response.expect_code("CONFLICT");
    // The original tenant is intact.
    assert_token_accepted(&t.api, &t.access_token).await;
}

#[tokio::test]
async fn failing_signup_lists_every_bad_input() {
    let api = Api::shared();
    let response = signup(&api, "Bad Inc", "Bad Slug!", "not-an-email", "short").await;
    let fields = response.field_errors();
    for needle in ["tenantSlug", "email", "password"] {
        assert!(fields.iter().any(|f| f.contains(needle)), "{needle} missing from {fields:?}");
    }
    assert_eq!(fields.len(), 3, "one entry per bad field: {fields:?}");
}

#[tokio::test]
async fn failing_signup_slug_rules() {
    let api = Api::shared();
    let long = "a".repeat(64);
    for slug in ["ab", "-abc", "abc-", "ABC", "a_bc", "ab c", long.as_str()] {
        let email = format!("x{}@example.com", uuid::Uuid::new_v4().simple());
        let response = signup(&api, "Slug Test", slug, &email, PASSWORD).await;
        response.expect_field_error_mentioning("tenantSlug");
    }
    // The boundaries of the rule are accepted.
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    for slug in [format!("a{suffix}"), format!("0-{suffix}"), format!("{suffix}{}", "b".repeat(55))] {
        assert!(slug.len() <= 63);
        let email = format!("x{}@example.com", uuid::Uuid::new_v4().simple());
        signup(&api, "Slug Test", &slug, &email, PASSWORD).await.data();
    }
}

#[tokio::test]
async fn failing_me_without_a_token() {
    let api = Api::shared();
    let response = api.graphql(&Auth::None, "{ me { id } }", json!({})).await;
    response.expect_code("UNAUTHENTICATED");
    let response = api.graphql(&Auth::None, "{ tenant { id } }", json!({})).await;
    response.expect_code("UNAUTHENTICATED");
}

#[tokio::test]
async fn failing_garbage_and_forged_bearer_tokens() {
    let t = tenant().await;
    assert_token_refused(&t.api, "garbage").await;
    assert_token_refused(&t.api, "a.b.c").await;
    // A real token with a flipped signature character.
    let mut tampered = t.access_token.clone();
    let last = tampered.pop().expect("non-empty token");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_token_refused(&t.api, &tampered).await;
    // The real payload with `alg: none` and no signature.
    let parts: Vec<&str> = t.access_token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts");
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
    assert_token_refused(&t.api, &unsigned).await;
    // The real token still works.
    assert_token_accepted(&t.api, &t.access_token).await;
}

#[tokio::test]
async fn failing_invalid_access_tokens_say_so_in_stable_words() {
    let api = Api::shared();
    let t = tenant().await;
    // Garbage, a token signed with another secret, and one whose signature was tampered with.
    // A character in the middle of the signature changes (the last one may only hold padding).
    let at = t.access_token.rfind('.').expect("a JWT") + 10;
    let mut forged = t.access_token.clone();
    let was = forged.remove(at);
    forged.insert(at, if was == 'A' { 'B' } else { 'A' });
    let other_secret = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLWFub3RoZXItc2VjcmV0";
    for token in ["not-a-token", other_secret, forged.as_str()] {
        let response = api.graphql(&Auth::Bearer(token.to_owned()), ME, json!({})).await;
        assert_eq!(response.status, 401, "{}", response.text);
        response.expect_code("UNAUTHENTICATED");
        let error = &response.body["errors"][0];
        assert_eq!(error["message"], json!("invalid access token"), "{token}: {}", response.text);
        assert_eq!(error["extensions"].get("reason"), None, "{}", response.text);
    }
}

#[tokio::test]
async fn failing_expired_access_token() {
    let server = short_ttl_server();
    let t = tenant_on(server).await;
    assert_token_accepted(&t.api, &t.access_token).await;
    // Allow for a JWT validation leeway of up to a minute; one request a second.
    let within = Duration::from_secs(SHORT_TTL_SECS + 75);
    let response = eventually("the access token to expire", within, async || {
        let response = t.api.graphql(&Auth::Bearer(t.access_token.clone()), ME, json!({})).await;
        if response.status == 401 {
            return Some(response);
        }
        response.data();
        None
    })
    .every(Duration::from_secs(1))
    .await;
    response.expect_code("UNAUTHENTICATED");
    // Told apart from an invalid token, in stable words: refresh, not sign in again.
    let error = &response.body["errors"][0];
    assert_eq!(error["message"], json!("access token expired"), "{}", response.text);
    assert_eq!(error["extensions"]["reason"], json!("expired"), "{}", response.text);
    // A socket with the expired token is refused too.
    let mut socket = Ws::connect(server).await;
    match socket.init(json!({ "authorization": format!("Bearer {}", t.access_token) })).await {
        WsEvent::Closed(code) => assert_eq!(code, Some(4401)),
        other => panic!("expected a 4401 close for an expired token, got {other:?}"),
    }
    // The refresh token still gives a working access token.
    let data = refresh(&t.api, &t.refresh_token).await.data();
    assert_token_accepted(&t.api, &str_of(&data["refreshToken"]["accessToken"])).await;
}

#[tokio::test]
async fn anonymous_schema_has_only_public_operations() {
    let api = Api::shared();
    let data = api
        .graphql(
            &Auth::None,
            "{ apiVersion __schema { queryType { fields { name } } mutationType { fields { name } } } }",
            json!({}),
        )
        .await
        .data();
    assert!(!str_of(&data["apiVersion"]).is_empty());
    let queries = sorted(pluck_str(&data["__schema"]["queryType"]["fields"], "name"));
    assert_eq!(queries, strings(&["apiVersion"]));
    let mutations = pluck_str(&data["__schema"]["mutationType"]["fields"], "name");
    for public in ["signup", "login", "refreshToken"] {
        assert!(mutations.contains(&public.to_owned()), "{public} missing: {mutations:?}");
    }
    for private in ["logout", "defineEntity", "revokeSessions", "createApiKey"] {
        assert!(!mutations.contains(&private.to_owned()), "{private} exposed: {mutations:?}");
    }
}

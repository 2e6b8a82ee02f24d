//! Password reset by emailed one-time token, end to end through the real SMTP sink
//! (aiosmtpd): `requestPasswordReset` answers `true` alike for a real, an unknown and a
//! deactivated address, and only the real one gets an email, carrying the token and a link on
//! `PUBLIC_URL`; `resetPassword` refuses a weak password, sets the new one, ends every older
//! session (access and refresh tokens), signs in, and refuses the token a second time
//! (`reset_token_used`), a made-up one (`reset_token_invalid`) and an expired one
//! (`reset_token_expired`), always as UNAUTHENTICATED, never INTERNAL.

use std::time::Duration;

use serde_json::{Value, json};

use crate::audit::only_entry;
use crate::harness::*;

const NEW_PASSWORD: &str = "a brand new passphrase";

/// `requestPasswordReset` for `email` in tenant `slug`, asserting it answers `true`.
pub async fn request_reset(api: &Api, slug: &str, email: &str) {
    let query = "mutation($t: String!, $e: String!) { requestPasswordReset(tenant: $t, email: $e) }";
    let data = api.graphql(&Auth::None, query, json!({ "t": slug, "e": email })).await.data();
    assert_eq!(data["requestPasswordReset"], json!(true));
}

/// `resetPassword(token, newPassword, totpCode)`.
pub async fn reset_password(api: &Api, token: &str, password: &str, totp_code: Option<&str>) -> Response {
    let query = format!(
        "mutation($t: String!, $p: String!, $c: String) {{ resetPassword(token: $t, newPassword: $p, totpCode: $c) {{ {AUTH_PAYLOAD} }} }}"
    );
    api.graphql(&Auth::None, &query, json!({ "t": token, "p": password, "c": totp_code })).await
}

/// The reset token in the email of tenant `tenant_id` (tokens start with the tenant's id).
fn token_in(message: &Value, tenant_id: &str) -> String {
    let body = str_of(&message["body"]);
    let start = body.find(&format!("{tenant_id}.")).unwrap_or_else(|| panic!("no token in {body}"));
    body[start..].split(|c: char| c.is_whitespace() || c == '"').next().expect("a token").to_owned()
}

/// Requests a reset for the tenant's owner and reads the token from the email that arrives.
pub async fn emailed_token(t: &TestTenant) -> (String, Value) {
    request_reset(&t.api, &t.slug, &t.email).await;
    let messages = smtp_sink().wait_for(&t.email, 1, EFFECT_WAIT).await;
    let message = messages.last().cloned().expect("a message");
    (token_in(&message, &t.tenant_id), message)
}

#[tokio::test]
async fn a_password_is_reset_through_the_emailed_token() {
    let t = tenant().await;
    let (old_access, old_refresh) = t.new_session().await;
    let unknown = format!("nobody@{}.example.com", t.slug);
    request_reset(&t.api, &t.slug, &unknown).await;
    request_reset(&t.api, "no-such-tenant-anywhere", &t.email).await;

    let (token, message) = emailed_token(&t).await;
    assert_eq!(message["subject"], json!(format!("Reset your password for {}", t.name)));
    let body = str_of(&message["body"]);
    assert!(
        body.contains(&format!("{PUBLIC_URL}/reset-password?token={token}")),
        "a link on PUBLIC_URL: {body}"
    );

    reset_password(&t.api, &token, "short", None).await.expect_field_errors(&["newPassword"]);
    let reset = reset_password(&t.api, &token, NEW_PASSWORD, None).await.data()["resetPassword"].clone();
    assert_eq!(reset["user"]["id"], json!(t.user_id));
    let fresh = Auth::Bearer(str_of(&reset["accessToken"]));
    assert_eq!(t.api.graphql(&fresh, "{ me { id } }", json!({})).await.data()["me"]["id"], json!(t.user_id));

    // Every older session ended: the signup's and the second login's, access and refresh.
    for access in [&t.access_token, &old_access] {
        t.api
            .graphql(&Auth::Bearer(access.clone()), "{ me { id } }", json!({}))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    for refresh_token in [&t.refresh_token, &old_refresh] {
        refresh(&t.api, refresh_token).await.expect_code("UNAUTHENTICATED");
    }
    login(&t.api, &t.slug, &t.email, PASSWORD).await.expect_code("UNAUTHENTICATED");
    login(&t.api, &t.slug, &t.email, NEW_PASSWORD).await.data();

    reset_password(&t.api, &token, "yet another passphrase", None)
        .await
        .expect_reason("UNAUTHENTICATED", "reset_token_used");
    login(&t.api, &t.slug, &t.email, NEW_PASSWORD).await.data();
    let made_up = format!("{}.not-a-real-token", t.tenant_id);
    reset_password(&t.api, &made_up, NEW_PASSWORD, None)
        .await
        .expect_reason("UNAUTHENTICATED", "reset_token_invalid");
    reset_password(&t.api, "garbage", NEW_PASSWORD, None)
        .await
        .expect_reason("UNAUTHENTICATED", "reset_token_invalid");

    // Nothing was sent for the unknown address; the known one got exactly one email.
    assert!(smtp_sink().messages_to(&unknown).is_empty());
    assert_eq!(smtp_sink().messages_to(&t.email).len(), 1);
    let signed_in = TestTenant { access_token: str_of(&reset["accessToken"]), ..t.on(t.api.server) };
    only_entry(&signed_in, "user.password_reset_request").await;
    let entry = only_entry(&signed_in, "user.password_reset").await;
    assert_eq!(entry["changes"]["sessionsRevoked"], json!(2), "{entry}");
}

#[tokio::test]
async fn a_deactivated_user_gets_no_reset_email() {
    let t = tenant().await;
    let member = t.invite("member").await;
    let address = str_of(&member["user"]["email"]);
    let query = "mutation($u: ID!) { deactivateUser(userId: $u) { active } }";
    t.data(query, json!({ "u": member["user"]["id"] })).await;
    request_reset(&t.api, &t.slug, &address).await;
    // The owner's request, made after, is delivered: the member's would have been by then.
    let _ = emailed_token(&t).await;
    tokio::time::sleep(SILENCE).await;
    let resets: Vec<Value> = smtp_sink()
        .messages_to(&address)
        .into_iter()
        .filter(|m| str_of(&m["subject"]).starts_with("Reset"))
        .collect();
    assert!(resets.is_empty(), "no reset email to a deactivated user: {resets:?}");
}

#[tokio::test]
async fn an_expired_reset_token_is_refused() {
    let t = tenant_on(short_ttl_server()).await;
    let requested = std::time::Instant::now();
    let (token, _) = emailed_token(&t).await;
    // The token lives SHORT_TTL_SECS from the request: past that (a deadline, not an effect to
    // poll for — an early attempt would redeem the token), it is refused.
    let expiry = Duration::from_secs(SHORT_TTL_SECS + 1);
    tokio::time::sleep(expiry.saturating_sub(requested.elapsed())).await;
    reset_password(&t.api, &token, NEW_PASSWORD, None)
        .await
        .expect_reason("UNAUTHENTICATED", "reset_token_expired");
    login(&t.api, &t.slug, &t.email, PASSWORD).await.data();
}

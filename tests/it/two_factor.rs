//! TOTP two-factor sign-in, with codes computed independently by Python's `pyotp` from the
//! `otpauth://` URI the server hands out (not by the server's own code): `enrollTotp` is
//! pending until `confirmTotp` takes a current code and returns recovery codes; then `login`
//! without a code is refused (`totp_required`), with a wrong or replayed one too
//! (`totp_invalid`), never with a token; a current code or a recovery code (once) signs in;
//! refresh tokens keep working; `disableTotp` takes a recovery code; an administrator's
//! `resetUserTotp` turns a member's off; `resetPassword` needs the second factor as well.

use serde_json::{Value, json};

use crate::harness::*;
use crate::password_reset::{emailed_token, reset_password};

const ENROLL: &str = "mutation { enrollTotp { secret uri } }";
const CONFIRM: &str = "mutation($c: String!) { confirmTotp(code: $c) }";
const DISABLE: &str = "mutation($c: String!) { disableTotp(code: $c) }";

/// The code `pyotp` computes from enrolment URI `uri` for the time `offset` seconds from now.
async fn pyotp_code(uri: &str, offset: i64) -> String {
    let script = "import pyotp, sys, time; print(pyotp.parse_uri(sys.argv[1]).at(int(time.time()) + int(sys.argv[2])))";
    let out = tokio::process::Command::new("python3")
        .args(["-c", script, uri, &offset.to_string()])
        .output()
        .await
        .expect("run python3 (with pyotp)");
    assert!(out.status.success(), "pyotp failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8").trim().to_owned()
}

/// `login` with an optional `totpCode`.
async fn login_with(t: &TestTenant, email: &str, code: Option<&str>) -> Response {
    let query = format!(
        "mutation($t: String!, $e: String!, $p: String!, $c: String) {{
            login(input: {{tenant: $t, email: $e, password: $p, totpCode: $c}}) {{ {AUTH_PAYLOAD} }}
        }}"
    );
    t.api.graphql(&Auth::None, &query, json!({ "t": t.slug, "e": email, "p": PASSWORD, "c": code })).await
}

/// `me { totpEnabled }` as `auth`.
async fn totp_enabled(t: &TestTenant, auth: &Auth) -> Value {
    t.api.graphql(auth, "{ me { totpEnabled } }", json!({})).await.data()["me"]["totpEnabled"].clone()
}

/// Enrols and confirms TOTP for `auth`; the enrolment URI and the recovery codes.
async fn turn_on(t: &TestTenant, auth: &Auth) -> (String, Vec<String>) {
    let enrolled = t.api.graphql(auth, ENROLL, json!({})).await.data()["enrollTotp"].clone();
    let uri = str_of(&enrolled["uri"]);
    assert!(
        uri.starts_with("otpauth://totp/")
            && uri.contains(&format!("secret={}", str_of(&enrolled["secret"])))
    );
    assert_eq!(totp_enabled(t, auth).await, json!(false), "pending until confirmed");
    let confirmed = t.api.graphql(auth, CONFIRM, json!({ "c": pyotp_code(&uri, 0).await })).await.data();
    let codes: Vec<String> =
        confirmed["confirmTotp"].as_array().expect("recovery codes").iter().map(str_of).collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(totp_enabled(t, auth).await, json!(true));
    (uri, codes)
}

#[tokio::test]
async fn totp_guards_login_with_codes_and_recovery_codes() {
    let t = tenant().await;
    // A wrong first code does not turn it on.
    let enrolled = t.data(ENROLL, json!({})).await["enrollTotp"].clone();
    let stale = pyotp_code(&str_of(&enrolled["uri"]), -300).await;
    t.request(CONFIRM, json!({ "c": stale })).await.expect_field_errors(&["code"]);
    let (uri, recovery) = turn_on(&t, &t.auth()).await;
    t.request(ENROLL, json!({})).await.expect_code("CONFLICT");

    login_with(&t, &t.email, None).await.expect_reason("UNAUTHENTICATED", "totp_required");
    let wrong = pyotp_code(&uri, -300).await;
    let refused = login_with(&t, &t.email, Some(&wrong)).await;
    refused.expect_reason("UNAUTHENTICATED", "totp_invalid");
    assert!(refused.body["data"].is_null(), "no token on a refusal: {}", refused.text);

    // The next step's code (accepted: ±1 step) — later than the one confirmation spent.
    let code = pyotp_code(&uri, 30).await;
    let signed_in = login_with(&t, &t.email, Some(&code)).await.data()["login"].clone();
    assert_eq!(signed_in["user"]["id"], json!(t.user_id));
    login_with(&t, &t.email, Some(&code)).await.expect_reason("UNAUTHENTICATED", "totp_invalid");
    // Refresh tokens were issued after the second factor: they keep working.
    refresh(&t.api, &str_of(&signed_in["refreshToken"])).await.data();
    refresh(&t.api, &t.refresh_token).await.data();

    login_with(&t, &t.email, Some(&recovery[0].to_uppercase())).await.data();
    login_with(&t, &t.email, Some(&recovery[0])).await.expect_reason("UNAUTHENTICATED", "totp_invalid");

    t.request(DISABLE, json!({ "c": recovery[0] })).await.expect_field_errors(&["code"]);
    assert_eq!(t.data(DISABLE, json!({ "c": recovery[1] })).await["disableTotp"], json!(true));
    assert_eq!(totp_enabled(&t, &t.auth()).await, json!(false));
    login_with(&t, &t.email, None).await.data();
    t.request(DISABLE, json!({ "c": recovery[2] })).await.expect_code("CONFLICT");
}

#[tokio::test]
async fn an_administrator_resets_a_members_totp() {
    let t = tenant().await;
    let member = t.invite("member").await;
    let auth = Auth::Bearer(str_of(&member["accessToken"]));
    let email = str_of(&member["user"]["email"]);
    turn_on(&t, &auth).await;
    login_with(&t, &email, None).await.expect_reason("UNAUTHENTICATED", "totp_required");
    let query = "mutation($u: ID!) { resetUserTotp(userId: $u) { id totpEnabled } }";
    let reset = t.data(query, json!({ "u": member["user"]["id"] })).await["resetUserTotp"].clone();
    assert_eq!(reset["totpEnabled"], json!(false));
    login_with(&t, &email, None).await.data();
    // A member's schema has no `resetUserTotp`.
    let own = t.api.graphql(&auth, query, json!({ "u": t.user_id })).await;
    assert!(!own.errors().is_empty(), "a member cannot reset anyone's two-factor: {}", own.text);
}

#[tokio::test]
async fn a_password_reset_needs_the_second_factor_too() {
    let t = tenant().await;
    let (uri, _) = turn_on(&t, &t.auth()).await;
    let (token, _) = emailed_token(&t).await;
    let new = "a passphrase after the reset";
    // Refused without the code, and nothing spent: the same token then works with it.
    reset_password(&t.api, &token, new, None).await.expect_reason("UNAUTHENTICATED", "totp_required");
    let reset = reset_password(&t.api, &token, new, Some(&pyotp_code(&uri, 30).await)).await.data();
    assert_eq!(reset["resetPassword"]["user"]["id"], json!(t.user_id));
}

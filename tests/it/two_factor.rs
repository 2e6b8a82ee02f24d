//! TOTP two-factor sign-in, with codes computed independently by Python's `pyotp` from the
//! `otpauth://` URI the server hands out (not by the server's own code): `enrollTotp` is
//! pending until `confirmTotp` takes a current code and returns recovery codes; then `login`
//! without a code is refused (`totp_required`), with a wrong or replayed one too
//! (`totp_invalid`), never with a token; a current code or a recovery code (once) signs in;
//! refresh tokens keep working; `disableTotp` takes a recovery code; an administrator's
//! `resetUserTotp` turns a member's off; `resetPassword` needs the second factor as well.
//! Five wrong codes in a row lock the second factor on every instance (`totp_locked`, counted
//! in the database) until a right code resets the count or an administrator's `unlockUserTotp`;
//! `regenerateRecoveryCodes` (with a code or the password) voids the old codes at once.

use serde_json::{Value, json};

use crate::harness::*;
use crate::password_reset::{emailed_token, reset_password};

const ENROLL: &str = "mutation { enrollTotp { secret uri } }";
const CONFIRM: &str = "mutation($c: String!) { confirmTotp(code: $c) }";
const DISABLE: &str = "mutation($c: String!) { disableTotp(code: $c) }";
const REGENERATE: &str =
    "mutation($c: String, $p: String) { regenerateRecoveryCodes(code: $c, password: $p) }";

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

/// `regenerateRecoveryCodes` as `auth` with a `code` or a `password`.
async fn regenerate(t: &TestTenant, auth: &Auth, code: Option<&str>, password: Option<&str>) -> Response {
    t.api.graphql(auth, REGENERATE, json!({ "c": code, "p": password })).await
}

#[tokio::test]
async fn wrong_codes_lock_the_second_factor_on_every_instance_until_unlocked() {
    let t = tenant().await;
    // Another server on the same database: the count is the database's, not a process's.
    let other = t.on(short_ttl_server());
    let member = t.invite("member").await;
    let auth = Auth::Bearer(str_of(&member["accessToken"]));
    let email = str_of(&member["user"]["email"]);
    let (uri, recovery) = turn_on(&t, &auth).await;
    let wrong = pyotp_code(&uri, -300).await;

    // Four wrong codes (through another operation that checks codes), then a right one: the
    // count starts over, so four more wrong codes and a right one still pass.
    for _ in 0..4 {
        regenerate(&t, &auth, Some(&wrong), None).await.expect_field_errors(&["code"]);
    }
    login_with(&t, &email, Some(&recovery[0])).await.data();
    for _ in 0..4 {
        login_with(&other, &email, Some(&wrong)).await.expect_reason("UNAUTHENTICATED", "totp_invalid");
    }
    login_with(&t, &email, Some(&recovery[1])).await.data();

    // Five wrong codes on one instance lock the other: even the right code is refused.
    for _ in 0..5 {
        login_with(&other, &email, Some(&wrong)).await.expect_reason("UNAUTHENTICATED", "totp_invalid");
    }
    let locked = login_with(&t, &email, Some(&pyotp_code(&uri, 30).await)).await;
    locked.expect_reason("UNAUTHENTICATED", "totp_locked");
    assert!(locked.body["data"].is_null(), "no token while locked: {}", locked.text);
    regenerate(&t, &auth, Some(&recovery[2]), None).await.expect_reason("UNAUTHENTICATED", "totp_locked");

    // Only an administrator unlocks; the second factor stays on, and the right code passes.
    let unlock = "mutation($u: ID!) { unlockUserTotp(userId: $u) { id totpEnabled } }";
    let own = t.api.graphql(&auth, unlock, json!({ "u": member["user"]["id"] })).await;
    assert!(!own.errors().is_empty(), "a member cannot unlock: {}", own.text);
    let unlocked = t.data(unlock, json!({ "u": member["user"]["id"] })).await["unlockUserTotp"].clone();
    assert_eq!(unlocked["totpEnabled"], json!(true));
    login_with(&t, &email, Some(&pyotp_code(&uri, 30).await)).await.data();
    // The recovery code the lock refused was not spent.
    login_with(&t, &email, Some(&recovery[2])).await.data();
}

#[tokio::test]
async fn regenerated_recovery_codes_void_the_old_ones_at_once() {
    let t = tenant().await;
    let (_, old) = turn_on(&t, &t.auth()).await;
    // A code or the password is needed; a wrong password is refused.
    regenerate(&t, &t.auth(), None, None).await.expect_field_errors(&["code"]);
    regenerate(&t, &t.auth(), None, Some("not the password")).await.expect_field_errors(&["password"]);

    let by_password = regenerate(&t, &t.auth(), None, Some(PASSWORD)).await.data();
    let new: Vec<String> =
        by_password["regenerateRecoveryCodes"].as_array().expect("codes").iter().map(str_of).collect();
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|c| !old.contains(c)));
    // Every old code is void at once, used or not.
    login_with(&t, &t.email, Some(&old[0])).await.expect_reason("UNAUTHENTICATED", "totp_invalid");
    // A new code signs in once (single use), and may itself pay for the next set.
    login_with(&t, &t.email, Some(&new[0])).await.data();
    login_with(&t, &t.email, Some(&new[0])).await.expect_reason("UNAUTHENTICATED", "totp_invalid");
    let by_code = regenerate(&t, &t.auth(), Some(&new[1]), None).await.data();
    let newest: Vec<String> =
        by_code["regenerateRecoveryCodes"].as_array().expect("codes").iter().map(str_of).collect();
    login_with(&t, &t.email, Some(&new[2])).await.expect_reason("UNAUTHENTICATED", "totp_invalid");
    login_with(&t, &t.email, Some(&newest[0])).await.data();
    // Audited, without the codes.
    let log = t
        .data(
            "{ auditLog(filter: {action: \"user.totp_recovery_regenerate\"}) { nodes { changes } } }",
            json!({}),
        )
        .await;
    let entries = log["auditLog"]["nodes"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2);
    assert!(!entries.iter().any(|e| e.to_string().contains(&newest[0])));
}

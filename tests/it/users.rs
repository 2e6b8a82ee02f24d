//! The user lifecycle: `updateProfile` (name, locale, time zone, avatar; every bad member named
//! in one VALIDATION_FAILED), `changePassword` (the other sessions and their sockets end, this
//! one stays; a wrong current password is a validation error, not a sign-out), and
//! `deactivateUser`/`reactivateUser` (administrators only: sessions, sockets and the user's API
//! keys end at once, sign-in is refused as a wrong password is; the last active owner stays and
//! nobody deactivates themselves), each audited.

use serde_json::{Value, json};

use crate::audit::only_entry;
use crate::harness::{Api, Auth, PASSWORD, TIMEOUT, TestTenant, Ws, login, refresh, str_of, tenant};

const USER: &str = "id email name role locale timeZone avatar active";

/// `updateProfile(input)` as `auth`.
async fn update_profile(t: &TestTenant, auth: &Auth, input: Value) -> crate::harness::Response {
    let query = format!("mutation($i: UpdateProfileInput!) {{ updateProfile(input: $i) {{ {USER} }} }}");
    t.api.graphql(auth, &query, json!({ "i": input })).await
}

/// `changePassword` as `auth`.
async fn change_password(t: &TestTenant, auth: &Auth, current: &str, new: &str) -> crate::harness::Response {
    let query = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    t.api.graphql(auth, query, json!({ "c": current, "n": new })).await
}

/// `deactivateUser` (`active` false) or `reactivateUser` of `user_id`, as `auth`.
async fn set_active(t: &TestTenant, auth: &Auth, user_id: &str, active: bool) -> crate::harness::Response {
    let op = if active { "reactivateUser" } else { "deactivateUser" };
    let query = format!("mutation($u: ID!) {{ {op}(userId: $u) {{ {USER} }} }}");
    t.api.graphql(auth, &query, json!({ "u": user_id })).await
}

/// `me` with the profile, as `auth`.
async fn me(t: &TestTenant, auth: &Auth) -> Value {
    t.api.graphql(auth, &format!("{{ me {{ {USER} }} }}"), json!({})).await.data()["me"].clone()
}

/// A socket signed in with `init` (its `connection_init` payload), acknowledged.
async fn socket(t: &TestTenant, init: Value) -> Ws {
    let mut ws = Ws::connect(t.api.server).await;
    ws.init(init).await.expect_ack();
    ws
}

/// Asserts that `auth` is refused with HTTP 401 and UNAUTHENTICATED.
async fn assert_refused(api: &Api, auth: &Auth) {
    let response = api.graphql(auth, "{ me { id } }", json!({})).await;
    assert_eq!(response.status, 401, "expected HTTP 401, got {}", response.text);
    response.expect_code("UNAUTHENTICATED");
}

#[tokio::test]
async fn update_profile_sets_shows_and_clears() {
    let t = tenant().await;
    let input = json!({
        "name": "  Asha Rao ", "locale": "hi-IN", "timeZone": "Asia/Kolkata",
        "avatar": "https://cdn.example.com/asha.png"
    });
    let updated = update_profile(&t, &t.auth(), input).await.data()["updateProfile"].clone();
    let expected = json!({
        "id": t.user_id, "email": t.email, "name": "Asha Rao", "role": "owner", "locale": "hi-IN",
        "timeZone": "Asia/Kolkata", "avatar": "https://cdn.example.com/asha.png", "active": true
    });
    assert_eq!(updated, expected);
    // Shown wherever a user is: `me`, `users`, a login's payload.
    assert_eq!(me(&t, &t.auth()).await, expected);
    let users = t.data(&format!("{{ users {{ {USER} }} }}"), json!({})).await;
    assert_eq!(users["users"], json!([expected]));
    let signed_in = login(&t.api, &t.slug, &t.email, PASSWORD).await.data();
    assert_eq!(signed_in["login"]["user"]["name"], json!("Asha Rao"));
    let entry = only_entry(&t, "user.update_profile").await;
    assert_eq!(entry["objectId"], json!(t.user_id));
    assert_eq!(entry["changes"]["locale"], json!({ "old": null, "new": "hi-IN" }));
    // Absent keeps, null and blank remove.
    let cleared = update_profile(&t, &t.auth(), json!({ "locale": null, "avatar": "" })).await.data();
    let u = &cleared["updateProfile"];
    assert_eq!((&u["name"], &u["timeZone"]), (&json!("Asha Rao"), &json!("Asia/Kolkata")));
    assert_eq!((&u["locale"], &u["avatar"]), (&Value::Null, &Value::Null));
    // A member edits their own profile only.
    let member = t.invite("member").await;
    let member_auth = Auth::Bearer(str_of(&member["accessToken"]));
    let mine = update_profile(&t, &member_auth, json!({ "name": "Ravi" })).await.data();
    assert_eq!(mine["updateProfile"]["id"], member["user"]["id"]);
    assert_eq!(me(&t, &t.auth()).await["name"], json!("Asha Rao"));
}

#[tokio::test]
async fn failing_update_profile_names_every_bad_field() {
    let t = tenant().await;
    let input = json!({
        "name": "x".repeat(201), "locale": "not a locale", "timeZone": "Mars/Olympus_Mons",
        "avatar": "ftp://example.com/a.png"
    });
    update_profile(&t, &t.auth(), input).await.expect_field_errors(&["avatar", "locale", "name", "timeZone"]);
    for (key, bad) in [("locale", "english"), ("locale", "e"), ("timeZone", "UTC+5"), ("avatar", "not a url")]
    {
        update_profile(&t, &t.auth(), json!({ key: bad })).await.expect_field_errors(&[key]);
    }
    // Nothing was written.
    let unchanged = me(&t, &t.auth()).await;
    assert_eq!((&unchanged["name"], &unchanged["locale"]), (&Value::Null, &Value::Null));
}

#[tokio::test]
async fn change_password_keeps_this_session_and_ends_the_others() {
    let t = tenant().await;
    let (other_access, other_refresh) = t.new_session().await;
    let mut other_ws = socket(&t, json!({ "authorization": format!("Bearer {other_access}") })).await;
    let new = "a brand new passphrase";
    let changed = change_password(&t, &t.auth(), PASSWORD, new).await.data();
    assert_eq!(changed["changePassword"], json!(true));
    // The other session and its socket end at once; this one stays.
    assert_eq!(other_ws.expect_close(TIMEOUT).await, Some(4401));
    assert_refused(&t.api, &Auth::Bearer(other_access)).await;
    refresh(&t.api, &other_refresh).await.expect_code("UNAUTHENTICATED");
    assert_eq!(me(&t, &t.auth()).await["id"], json!(t.user_id));
    refresh(&t.api, &t.refresh_token).await.data();
    // Only the new password signs in.
    login(&t.api, &t.slug, &t.email, PASSWORD).await.expect_code("UNAUTHENTICATED");
    login(&t.api, &t.slug, &t.email, new).await.data();
    let entry = only_entry(&t, "user.change_password").await;
    assert_eq!(entry["changes"], json!({ "sessionsRevoked": 1 }));
}

#[tokio::test]
async fn failing_change_password_with_a_wrong_current_or_a_short_new_password() {
    let t = tenant().await;
    let wrong = change_password(&t, &t.auth(), "not my password", "a brand new passphrase").await;
    wrong.expect_field_errors(&["currentPassword"]);
    change_password(&t, &t.auth(), PASSWORD, "short").await.expect_field_errors(&["newPassword"]);
    change_password(&t, &t.auth(), "nope", "short")
        .await
        .expect_field_errors(&["currentPassword", "newPassword"]);
    // The session stays, and the password is unchanged.
    assert_eq!(me(&t, &t.auth()).await["id"], json!(t.user_id));
    login(&t.api, &t.slug, &t.email, PASSWORD).await.data();
    // An API key acting for the user cannot.
    let key = t.api_key("member").await;
    change_password(&t, &key, PASSWORD, "a brand new passphrase").await.expect_code("FORBIDDEN");
}

#[tokio::test]
async fn deactivate_user_ends_sessions_sockets_and_keys_and_refuses_login() {
    let t = tenant().await;
    let admin = t.invite("admin").await;
    let (admin_id, admin_email) = (str_of(&admin["user"]["id"]), str_of(&admin["user"]["email"]));
    let admin_auth = Auth::Bearer(str_of(&admin["accessToken"]));
    let key_query = "mutation($r: ID!) { createApiKey(name: \"ops\", roleId: $r) { key apiKey { id } } }";
    let created =
        t.api.graphql(&admin_auth, key_query, json!({ "r": t.role_id("member").await })).await.data();
    let key = str_of(&created["createApiKey"]["key"]);
    let key_auth = Auth::ApiKey(key.clone());
    me(&t, &key_auth).await;
    let mut session_ws =
        socket(&t, json!({ "authorization": format!("Bearer {}", str_of(&admin["accessToken"])) })).await;
    let mut key_ws = socket(&t, json!({ "x-api-key": key })).await;

    let deactivated = set_active(&t, &t.auth(), &admin_id, false).await.data();
    assert_eq!(deactivated["deactivateUser"]["active"], json!(false));
    assert_eq!(session_ws.expect_close(TIMEOUT).await, Some(4401));
    assert_eq!(key_ws.expect_close(TIMEOUT).await, Some(4401));
    assert_refused(&t.api, &admin_auth).await;
    assert_refused(&t.api, &key_auth).await;
    refresh(&t.api, &str_of(&admin["refreshToken"])).await.expect_code("UNAUTHENTICATED");
    let keys = t.data("{ apiKeys { id revokedAt } }", json!({})).await;
    let revoked = keys["apiKeys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["id"] == created["createApiKey"]["apiKey"]["id"])
        .cloned();
    assert!(revoked.is_some_and(|k| k["revokedAt"].is_string()), "{keys}");
    // Sign-in is refused in the words of a wrong password (no probing for deactivated accounts).
    let refused = login(&t.api, &t.slug, &admin_email, PASSWORD).await;
    let wrong = login(&t.api, &t.slug, &admin_email, "not the password").await;
    refused.expect_code("UNAUTHENTICATED");
    assert_eq!(refused.errors()[0]["message"], wrong.errors()[0]["message"]);
    let entry = only_entry(&t, "user.deactivate").await;
    assert_eq!(entry["changes"], json!({ "sessionsRevoked": 1, "apiKeysRevoked": 1 }));
    assert_eq!(entry["actorUserId"], json!(t.user_id));
    let listed = t.data("{ users { id active } }", json!({})).await;
    assert!(listed["users"].as_array().expect("users").contains(&json!({ "id": admin_id, "active": false })));
    // Deactivating again changes nothing.
    set_active(&t, &t.auth(), &admin_id, false).await.data();

    // Reactivation restores sign-in, not the revoked key.
    let reactivated = set_active(&t, &t.auth(), &admin_id, true).await.data();
    assert_eq!(reactivated["reactivateUser"]["active"], json!(true));
    let again = login(&t.api, &t.slug, &admin_email, PASSWORD).await.data();
    me(&t, &Auth::Bearer(str_of(&again["login"]["accessToken"]))).await;
    assert_refused(&t.api, &key_auth).await;
    only_entry(&t, "user.reactivate").await;
}

#[tokio::test]
async fn failing_deactivation_keeps_an_owner_and_is_for_administrators() {
    let t = tenant().await;
    let invited = t.invite_user("pending@example.com", "member", "user { id }").await;
    let member_auth = t.invite_auth("member").await;
    // The only owner cannot go, not even by their own hand.
    let last = set_active(&t, &t.auth(), &t.user_id, false).await;
    last.expect_field_errors(&["userId"]);
    assert!(last.text.contains("at least one active owner"), "{}", last.text);
    // With a second owner, still nobody deactivates themselves.
    let second = t.invite("owner").await;
    let second_auth = Auth::Bearer(str_of(&second["accessToken"]));
    let own = set_active(&t, &t.auth(), &t.user_id, false).await;
    own.expect_field_errors(&["userId"]);
    assert!(own.text.contains("yourself"), "{}", own.text);
    // An administrator who is not an owner may not deactivate an owner.
    let admin_auth = t.invite_auth("admin").await;
    set_active(&t, &admin_auth, &t.user_id, false).await.expect_code("FORBIDDEN");
    // Another owner may; then the one left is the last.
    set_active(&t, &second_auth, &t.user_id, false).await.data();
    let second_id = str_of(&second["user"]["id"]);
    set_active(&t, &second_auth, &second_id, false).await.expect_field_errors(&["userId"]);
    // Unknown users, other tenants' users and pending invitations.
    set_active(&t, &second_auth, "no-such-user", false).await.expect_code("NOT_FOUND");
    let other = tenant().await;
    set_active(&t, &second_auth, &other.user_id, false).await.expect_code("NOT_FOUND");
    set_active(&t, &second_auth, &str_of(&invited["user"]["id"]), false).await.expect_code("CONFLICT");
    // Members have neither operation in their schema; profile and password are everyone's.
    let fields = t
        .api
        .graphql(&member_auth, "{ __type(name: \"Mutation\") { fields { name } } }", json!({}))
        .await
        .data();
    let names: Vec<&str> = fields["__type"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(names.contains(&"updateProfile") && names.contains(&"changePassword"), "{names:?}");
    assert!(!names.contains(&"deactivateUser") && !names.contains(&"reactivateUser"), "{names:?}");
    set_active(&t, &member_auth, &t.user_id, true).await.expect_code("FORBIDDEN");
}

#[tokio::test]
async fn two_owners_deactivating_each_other_at_once_leave_one_active() {
    let t = tenant().await;
    let second = t.invite("owner").await;
    let second_id = str_of(&second["user"]["id"]);
    let second_auth = Auth::Bearer(str_of(&second["accessToken"]));
    let owner_auth = t.auth();
    let (a, b) = tokio::join!(
        set_active(&t, &owner_auth, &second_id, false),
        set_active(&t, &second_auth, &t.user_id, false)
    );
    let succeeded = [&a, &b].iter().filter(|r| r.errors().is_empty()).count();
    assert_eq!(succeeded, 1, "exactly one may win: {} / {}", a.text, b.text);
    let lost = if a.errors().is_empty() { &b } else { &a };
    // The loser was refused as the last owner, or had been signed out by the winner.
    assert!(["VALIDATION_FAILED", "UNAUTHENTICATED"].contains(&lost.code().as_str()), "{}", lost.text);
}

//! Snapshots of whole JSON responses through the public GraphQL API (`insta`, files under
//! `tests/it/snapshots/`): a created record of every field type with its relations and system
//! fields, the error envelope of each representative error code, an audit trail entry and an
//! aggregate. Where the other modules assert single members, these pin the complete shape a
//! client sees, so an added, renamed or reshaped member shows up as a reviewed snapshot diff.
//!
//! One `.snap` file serves SQLite and PostgreSQL alike: everything that varies per run (ids,
//! timestamps, the tenant's slug in e-mail addresses, request ids) is redacted, and nothing is
//! redacted only because the backends differ. Update with `INSTA_UPDATE=always`, then review the
//! diff of `tests/it/snapshots/` in git; see the README's testing section.

use insta::internals::{Content, Redaction};
use serde_json::json;

use crate::fixtures::{company, contact, crm_tenant, deal, define_orders, hospital_tenant, patient};
use crate::harness::{Api, Auth, Response, assert_utc_millis, str_of, tenant};

/// A fixed id that no record has: its NOT_FOUND message is the same on every run.
const ABSENT_ID: &str = "00000000-0000-4000-8000-000000000000";

/// Replaces a `DateTime` after checking that it is one (UTC, milliseconds), so the redaction
/// cannot hide a timestamp in the wrong format.
fn timestamp() -> Redaction {
    insta::dynamic_redaction(|value: Content, _| {
        let text = value.as_str().unwrap_or_else(|| panic!("a timestamp, not {value:?}"));
        assert_utc_millis(&json!(text));
        "[timestamp]"
    })
}

/// Snapshots `value` with ids and timestamps redacted wherever they occur: members named `id`
/// are generated UUIDs, `createdAt`/`updatedAt`/`at` the time of the run.
macro_rules! assert_response_snapshot {
    ($name:expr, $value:expr $(, $path:expr => $redaction:expr)* $(,)?) => {
        insta::assert_json_snapshot!($name, $value, {
            ".**.id" => "[id]",
            ".**.createdAt" => timestamp(),
            ".**.updatedAt" => timestamp(),
            $($path => $redaction,)*
        })
    };
}

/// Snapshots the error envelope of `response` as `name`, `{status, body}` (the HTTP status is
/// part of what a client sees), after checking that its first error is coded `code` and that
/// every error carries a contract code.
fn assert_error_snapshot(name: &str, code: &str, response: &Response) {
    response.expect_code(code);
    response.assert_every_error_has_code();
    assert_response_snapshot!(name, json!({ "status": response.status, "body": response.body }));
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// Every field type of the CRM (company, contact, deal) written once and read back as created,
/// with relations, record numbers and the creating user.
#[tokio::test]
async fn a_created_record_of_every_field_type() {
    let t = crm_tenant().await;
    let acme = t
        .create(
            &company(),
            json!({ "name": "Acme", "website": "https://acme.example", "employees": 42,
                    "industry": "software", "foundedOn": "1999-12-31" }),
            "",
        )
        .await;
    let ada = t
        .create(
            &contact(),
            json!({
                "fullName": "Ada Lovelace", "email": "ada@acme.example", "phone": "+44 20 7946 0958",
                "bio": "First programmer.\nSecond line.", "vip": true, "tags": ["vip", "partner"],
                "avatar": { "url": "https://files.example/ada.png", "name": "ada.png",
                            "mimeType": "image/png", "size": 2048 },
                "company": acme["id"],
            }),
            "",
        )
        .await;
    let selection = "recordNumber createdAt updatedAt createdBy { id email role } owner { role } \
        title amount probability stage closesAt details \
        contact { id recordNumber fullName email phone bio vip tags \
                  avatar { url name mimeType size } \
                  company { id name website employees industry foundedOn } } \
        referrer { fullName }";
    let created = t
        .create(
            &deal(),
            json!({
                "title": "Analytical engine", "amount": "1999.90", "probability": 62.5,
                "closesAt": "2030-01-02T03:04:05.678+02:00", "contact": ada["id"],
                "referrer": ada["id"], "details": { "source": "referral", "seats": [1, 2] },
            }),
            selection,
        )
        .await;
    assert_eq!(created, t.get(&deal(), &str_of(&created["id"]), selection).await, "read back");
    assert_eq!(str_of(&created["createdBy"]["email"]), t.email);
    assert_response_snapshot!("created_record", &created, ".createdBy.email" => "[owner email]");
}

// ---------------------------------------------------------------------------------------------
// Error envelopes, one per representative code
// ---------------------------------------------------------------------------------------------

/// VALIDATION_FAILED lists every bad field with its message.
#[tokio::test]
async fn validation_failed_envelope() {
    let t = crm_tenant().await;
    let response = t
        .create_raw(
            &contact(),
            json!({ "fullName": "", "email": "not an e-mail", "tags": ["vip", "nobody"] }),
            "fullName",
        )
        .await;
    assert_error_snapshot("validation_failed", "VALIDATION_FAILED", &response);
}

/// NOT_FOUND for an id the tenant has no record of.
#[tokio::test]
async fn not_found_envelope() {
    let t = crm_tenant().await;
    let response = t.update_raw(&deal(), ABSENT_ID, json!({ "title": "Gone" }), "title").await;
    assert_error_snapshot("not_found", "NOT_FOUND", &response);
}

/// FORBIDDEN for a member reading the audit trail, which is for administrators.
#[tokio::test]
async fn forbidden_envelope() {
    let t = tenant().await;
    let member = t.invite("member").await;
    let response = t
        .api
        .graphql(&Auth::Bearer(str_of(&member["accessToken"])), "{ auditLog { totalCount } }", json!({}))
        .await;
    assert_error_snapshot("forbidden", "FORBIDDEN", &response);
}

/// CONFLICT for applying a template to a tenant that already holds records.
#[tokio::test]
async fn conflict_envelope() {
    let t = crm_tenant().await;
    t.create(&company(), json!({ "name": "Acme" }), "").await;
    let response = t.request("mutation { applyTemplate(slug: \"hospital\") { slug } }", json!({})).await;
    assert_error_snapshot("conflict", "CONFLICT", &response);
}

/// BAD_REQUEST for a document the schema refuses (an unknown field), with its location.
#[tokio::test]
async fn bad_request_envelope() {
    let t = crm_tenant().await;
    let response = t.request("{ deals { totalCount nodes { title budget } } }", json!({})).await;
    assert_error_snapshot("bad_request", "BAD_REQUEST", &response);
}

/// UNAUTHENTICATED for a token the server never issued.
#[tokio::test]
async fn unauthenticated_envelope() {
    let api = Api::shared();
    let response = api.graphql(&Auth::Bearer("not-a-token".to_owned()), "{ me { id } }", json!({})).await;
    assert_error_snapshot("unauthenticated", "UNAUTHENTICATED", &response);
}

// ---------------------------------------------------------------------------------------------
// Audit trail and aggregates
// ---------------------------------------------------------------------------------------------

/// The entry an update writes: the changed fields only, as `{old, new}`.
#[tokio::test]
async fn audit_entry_of_an_update() {
    let t = hospital_tenant().await;
    let created = t.create(&patient(), json!({ "fullName": "Grace Hopper", "insured": false }), "").await;
    let id = str_of(&created["id"]);
    t.update(&patient(), &id, json!({ "insured": true, "gender": "female" }), "").await;
    let log = t
        .data(
            "{ auditLog(filter: {action: \"record.update\"}) { totalCount nodes { id seq action \
               objectType objectId actorUserId actorApiKeyId requestId changes at } } }",
            json!({}),
        )
        .await["auditLog"]
        .clone();
    let entry = &log["nodes"][0];
    assert_eq!(log["totalCount"], json!(1), "{log}");
    assert_eq!(entry["objectId"], json!(id));
    assert_eq!(entry["actorUserId"], json!(t.user_id));
    assert_response_snapshot!(
        "audit_entry",
        &log,
        ".**.objectId" => "[record id]",
        ".**.actorUserId" => "[owner id]",
        ".**.requestId" => "[request id]",
        ".**.at" => timestamp(),
        // The entry's place in the tenant's chain counts the events before it (signup and the
        // definitions), which a change elsewhere in the server may add to; the chain itself is
        // tested in `audit`.
        ".**.seq" => "[seq]",
    );
}

/// An aggregate grouped by a SELECT: count, sum, avg, min and max of CURRENCY and NUMBER.
#[tokio::test]
async fn aggregate_grouped_by_status() {
    let t = tenant().await;
    let orders = define_orders(&t, vec![]).await;
    let rows = [
        json!({ "status": "open", "rush": true, "total": "10.05", "qty": 1 }),
        json!({ "status": "open", "rush": false, "total": "0.10", "qty": 4 }),
        json!({ "status": "paid", "rush": false, "total": "-3.33" }),
        json!({ "status": "paid", "rush": true, "qty": 2 }),
        json!({ "rush": false, "total": "7.00", "qty": 3 }),
    ];
    for row in rows {
        t.create(&orders, row, "").await;
    }
    let data = t
        .data(
            "{ ordersAggregate(groupBy: [STATUS]) { group count sum { total qty } avg { total qty } \
               min { total qty } max { total qty } } }",
            json!({}),
        )
        .await;
    assert_response_snapshot!("aggregate", &data);
}

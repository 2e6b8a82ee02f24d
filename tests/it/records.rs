//! Record operations of a generated entity: create, update (explicit `null` clears, omitted
//! fields stay), soft delete (gone from get and list) and restore, NOT_FOUND for missing or
//! deleted records, defaults, record numbers (`PAT-000001`…, never reused, no duplicates under
//! 50 concurrent creates), and `createdBy`/`owner`.

use std::collections::BTreeSet;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::fixtures::{appointment, contact, define_crm, hospital_tenant, patient};
use crate::harness::{TestTenant, assert_utc_millis, merge, pluck_str, str_of, strings, tenant};

const PATIENT: &str = "recordNumber fullName dateOfBirth gender allergies phone email insured \
    createdAt updatedAt createdBy { id email } owner { id email }";

/// Books an appointment for the patient `patient` (May 1st 2026, 09:00 UTC) with the members of
/// `extra`; returns it with `id` and `selection`.
async fn book(t: &TestTenant, patient: &Value, extra: Value, selection: &str) -> Value {
    let mut input = json!({ "patient": patient, "scheduledAt": "2026-05-01T09:00:00Z" });
    merge(&mut input, extra);
    t.create(&appointment(), input, selection).await
}

#[tokio::test]
async fn create_update_delete_restore() {
    let t = hospital_tenant().await;
    let created = t
        .create(
            &patient(),
            json!({ "fullName": "Asha Rao", "dateOfBirth": "1990-04-01", "gender": "female",
                    "allergies": ["latex"], "phone": "+919876543210", "email": "asha@example.com",
                    "insured": true }),
            PATIENT,
        )
        .await;
    let id = str_of(&created["id"]);
    assert_eq!(created["recordNumber"], json!("PAT-000001"));
    assert_eq!(created["fullName"], json!("Asha Rao"));
    assert_eq!(created["allergies"], json!(["latex"]));
    assert_utc_millis(&created["createdAt"]);
    assert_utc_millis(&created["updatedAt"]);
    assert_eq!(created["createdBy"]["id"], json!(t.user_id));
    assert_eq!(created["owner"]["id"], json!(t.user_id));
    assert_eq!(t.get(&patient(), &id, PATIENT).await, created);

    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let updated =
        t.update(&patient(), &id, json!({ "fullName": "Asha R. Rao", "insured": false }), PATIENT).await;
    assert_eq!(updated["fullName"], json!("Asha R. Rao"));
    assert_eq!(updated["insured"], json!(false));
    assert_eq!(updated["gender"], json!("female"), "omitted fields stay");
    assert_eq!(updated["recordNumber"], json!("PAT-000001"));
    assert_eq!(updated["createdAt"], created["createdAt"]);
    assert!(
        str_of(&updated["updatedAt"]) > str_of(&created["updatedAt"]),
        "updatedAt moves forward: {} -> {}",
        created["updatedAt"],
        updated["updatedAt"]
    );
    assert_eq!(t.get(&patient(), &id, PATIENT).await, updated);

    t.delete(&patient(), &id).await;
    assert_eq!(t.get(&patient(), &id, PATIENT).await, Value::Null, "deleted: gone from get");
    let list = t.list(&patient(), "", json!({}), "fullName").await;
    assert_eq!(list["totalCount"], json!(0), "deleted: gone from list");
    let filtered =
        t.list(&patient(), "filter: $filter", json!({ "filter": { "id": { "eq": id } } }), "").await;
    assert_eq!(filtered["totalCount"], json!(0), "deleted: gone from a filter by id");
    t.update_raw(&patient(), &id, json!({ "fullName": "x" }), "").await.expect_code("NOT_FOUND");
    t.lifecycle_raw("delete", &patient(), &id).await.expect_code("NOT_FOUND");

    t.restore(&patient(), &id).await;
    let restored = t.get(&patient(), &id, PATIENT).await;
    assert_eq!(restored["fullName"], json!("Asha R. Rao"));
    assert_eq!(restored["recordNumber"], json!("PAT-000001"));
    let list = t.list(&patient(), "", json!({}), "fullName").await;
    assert_eq!(pluck_str(&list["nodes"], "fullName"), strings(&["Asha R. Rao"]));
}

#[tokio::test]
async fn update_with_explicit_null_clears_a_field() {
    let t = hospital_tenant().await;
    let created = t
        .create(
            &patient(),
            json!({ "fullName": "Li Wei", "gender": "male", "allergies": ["peanuts"],
                    "dateOfBirth": "1980-01-02", "email": "li@example.com" }),
            PATIENT,
        )
        .await;
    let id = str_of(&created["id"]);
    let updated = t
        .update(&patient(), &id, json!({ "gender": null, "allergies": null, "dateOfBirth": null }), PATIENT)
        .await;
    assert_eq!(updated["gender"], Value::Null);
    assert_eq!(updated["allergies"], Value::Null);
    assert_eq!(updated["dateOfBirth"], Value::Null);
    assert_eq!(updated["email"], json!("li@example.com"), "omitted fields stay");
    assert_eq!(updated["fullName"], json!("Li Wei"));
    let read = t.get(&patient(), &id, PATIENT).await;
    assert_eq!(read, updated);
    let empty_update = t.update(&patient(), &id, json!({}), PATIENT).await;
    assert_eq!(empty_update["email"], json!("li@example.com"));
    assert_eq!(empty_update["fullName"], json!("Li Wei"));
}

#[tokio::test]
async fn failing_operations_on_missing_records() {
    let t = hospital_tenant().await;
    let missing = uuid::Uuid::new_v4().to_string();
    assert_eq!(t.get(&patient(), &missing, "fullName").await, Value::Null);
    t.update_raw(&patient(), &missing, json!({ "fullName": "x" }), "").await.expect_code("NOT_FOUND");
    t.lifecycle_raw("delete", &patient(), &missing).await.expect_code("NOT_FOUND");
    t.lifecycle_raw("restore", &patient(), &missing).await.expect_code("NOT_FOUND");
    // An id of another entity of the same tenant is not a patient.
    let appt_patient = t.create(&patient(), json!({ "fullName": "P" }), "").await;
    let appt = book(&t, &appt_patient["id"], json!({}), "").await;
    let appt_id = str_of(&appt["id"]);
    assert_eq!(t.get(&patient(), &appt_id, "fullName").await, Value::Null);
    t.update_raw(&patient(), &appt_id, json!({ "fullName": "x" }), "").await.expect_code("NOT_FOUND");
}

#[tokio::test]
async fn record_numbers_are_sequential_and_never_reused() {
    let t = hospital_tenant().await;
    let mut ids = Vec::new();
    for (i, name) in ["A", "B", "C"].iter().enumerate() {
        let record = t.create(&patient(), json!({ "fullName": name }), "recordNumber").await;
        assert_eq!(record["recordNumber"], json!(format!("PAT-{:06}", i + 1)));
        ids.push(str_of(&record["id"]));
    }
    t.delete(&patient(), &ids[2]).await;
    let next = t.create(&patient(), json!({ "fullName": "D" }), "recordNumber").await;
    assert_eq!(next["recordNumber"], json!("PAT-000004"), "numbers are never reused");
    // Counters are per entity: the first appointment is APT-000001.
    let appt = book(&t, &json!(ids[0]), json!({}), "recordNumber").await;
    assert_eq!(appt["recordNumber"], json!("APT-000001"));
    // And per tenant: another tenant starts again at 1.
    let other = hospital_tenant().await;
    let first = other.create(&patient(), json!({ "fullName": "Z" }), "recordNumber").await;
    assert_eq!(first["recordNumber"], json!("PAT-000001"));
}

#[tokio::test]
async fn concurrent_creates_get_distinct_record_numbers() {
    let t = hospital_tenant().await;
    let names = patient();
    let requests =
        (0..50).map(|i| t.create_raw(&names, json!({ "fullName": format!("Patient {i}") }), "recordNumber"));
    let responses = join_all(requests).await;
    let mut numbers = BTreeSet::new();
    for response in responses {
        let data = response.data();
        numbers.insert(str_of(&data["createPatient"]["recordNumber"]));
    }
    let expected: BTreeSet<String> = (1..=50).map(|i| format!("PAT-{i:06}")).collect();
    assert_eq!(numbers, expected);
    let list = t.list(&patient(), "first: 500", json!({}), "").await;
    assert_eq!(list["totalCount"], json!(50));
}

#[tokio::test]
async fn created_by_and_owner_resolve_to_users() {
    let t = hospital_tenant().await;
    let explicit = t
        .create(
            &patient(),
            json!({ "fullName": "Owned", "owner": t.user_id }),
            "createdBy { id email role } owner { id email role }",
        )
        .await;
    assert_eq!(explicit["owner"], json!({ "id": t.user_id, "email": t.email, "role": "owner" }));
    assert_eq!(explicit["createdBy"], explicit["owner"]);
    // An owner that is not a user of the tenant is refused.
    let stranger = tenant().await;
    let response = t.create_raw(&patient(), json!({ "fullName": "X", "owner": stranger.user_id }), "").await;
    response.expect_field_errors(&["owner"]);
    let list = t.list(&patient(), "", json!({}), "").await;
    assert_eq!(list["totalCount"], json!(1));
}

#[tokio::test]
async fn defaults_are_applied_on_create() {
    let t = hospital_tenant().await;
    define_crm(&t).await;
    let p = t.create(&patient(), json!({ "fullName": "P" }), "").await;
    let appt = book(&t, &p["id"], json!({}), "status").await;
    assert_eq!(appt["status"], json!("scheduled"));
    let explicit = book(&t, &p["id"], json!({ "status": "completed" }), "status").await;
    assert_eq!(explicit["status"], json!("completed"));
    let contact = t.create(&contact(), json!({ "fullName": "C" }), "vip").await;
    assert_eq!(contact["vip"], json!(false));
}

//! Inbound webhook triggers: another system posts a signed JSON body to
//! `/hooks/workflows/{id}`; the record it names (by a unique field here) gets the workflow's
//! actions, with the body in templates. A redelivered event runs once; a bad or stale
//! signature is UNAUTHENTICATED (401), an unknown record NOT_FOUND (404), a body that is not
//! JSON or holds a NUL character BAD_REQUEST (400); editing the workflow keeps its secret.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::harness::*;

pub(crate) fn sign(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

pub(crate) async fn post(
    t: &TestTenant,
    workflow: &str,
    signature: &str,
    delivery: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(t.api.url(&format!("/hooks/workflows/{workflow}")))
        .header("content-type", "application/json")
        .header("x-alphery-signature", signature)
        .body(body.to_owned());
    if let Some(d) = delivery {
        req = req.header("x-alphery-delivery-id", d);
    }
    let resp = req.send().await.expect("post the hook");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_signed_inbound_webhook_updates_the_record_it_names_once() {
    let t = tenant().await;
    t.define(entity(
        "invoice",
        "invoices",
        vec![
            field("number", "TEXT", json!({"unique": true, "required": true})),
            field("status", "SELECT", json!({"options": ["Open", "Paid"]})),
            field("paid_ref", "TEXT", json!({})),
        ],
        json!({}),
    ))
    .await;
    let invoices = Names::new("invoice", "invoices");
    let inv = str_of(&t.create(&invoices, json!({"number": "INV-1", "status": "Open"}), "").await["id"]);
    let created = t
        .data(
            "mutation($i: WorkflowInput!) { createWorkflow(input: $i) { id definition } }",
            json!({"i": {"name": "payment received", "definition": {
                "trigger": {"type": "webhook", "entity": "invoice", "matchField": "number"},
                "actions": [{"type": "update_fields", "values": {"status": "Paid", "paidRef": "{{payload.payment.id}}"}}]}}}),
        )
        .await;
    let workflow = str_of(&created["createWorkflow"]["id"]);
    let secret = str_of(&created["createWorkflow"]["definition"]["trigger"]["secret"]);
    assert!(secret.len() >= 24, "a generated secret: {created}");
    let now = chrono::Utc::now().timestamp();
    let body = r#"{"number":"INV-1","payment":{"id":"pay_42"}}"#;

    let (status, answer) = post(&t, &workflow, &sign(&secret, now, body), Some("evt_1"), body).await;
    assert_eq!((status, answer["duplicate"].clone()), (202, json!(false)), "{answer}");
    let run = str_of(&answer["runId"]);
    eventually("the invoice to be paid", EFFECT_WAIT, async || {
        let status = t.get(&invoices, &inv, "status").await["status"].clone();
        if status == json!("Paid") { Ok(()) } else { Err(status) }
    })
    .await;
    let record = t.get(&invoices, &inv, "status paidRef").await;
    assert_eq!((record["status"].clone(), record["paidRef"].clone()), (json!("Paid"), json!("pay_42")));
    // Redelivered: the same run, not a second one.
    let (status, again) = post(&t, &workflow, &sign(&secret, now, body), Some("evt_1"), body).await;
    assert_eq!((status, again["duplicate"].clone(), again["runId"].clone()), (202, json!(true), json!(run)));
    let runs = t.data("query($w: ID) { workflowRuns(workflowId: $w) { id } }", json!({"w": workflow})).await;
    assert_eq!(runs["workflowRuns"].as_array().map(Vec::len), Some(1));

    // Refused: wrong secret, stale timestamp, no signature, unknown record, not JSON, unknown workflow.
    let code = |v: &Value| v["errors"][0]["extensions"]["code"].clone();
    let (s, v) = post(&t, &workflow, &sign("not-the-secret-not-the-secret", now, body), None, body).await;
    assert_eq!((s, code(&v)), (401, json!("UNAUTHENTICATED")));
    let (s, v) = post(&t, &workflow, &sign(&secret, now - 3600, body), None, body).await;
    assert_eq!((s, code(&v)), (401, json!("UNAUTHENTICATED")));
    let (s, _) = post(&t, &workflow, "", None, body).await;
    assert_eq!(s, 401);
    let other = r#"{"number":"INV-404"}"#;
    let (s, v) = post(&t, &workflow, &sign(&secret, now, other), None, other).await;
    assert_eq!((s, code(&v)), (404, json!("NOT_FOUND")));
    let (s, v) = post(&t, &workflow, &sign(&secret, now, "nope"), None, "nope").await;
    assert_eq!((s, code(&v)), (400, json!("BAD_REQUEST")));
    // A NUL character anywhere in the body (PostgreSQL stores none): refused on both backends.
    let nul = r#"{"number":"INV-1","payment":{"id":"pay\u0000"}}"#;
    let (s, v) = post(&t, &workflow, &sign(&secret, now, nul), Some("evt_nul"), nul).await;
    assert_eq!((s, code(&v)), (400, json!("BAD_REQUEST")), "{v}");
    let (s, _) = post(&t, &uuid::Uuid::new_v4().to_string(), &sign(&secret, now, body), None, body).await;
    assert_eq!(s, 404);

    // An edit that does not name a secret keeps it.
    let updated = t
        .data(
            "mutation($id: ID!, $i: WorkflowInput!) { updateWorkflow(id: $id, input: $i) { definition } }",
            json!({"id": workflow, "i": {"name": "payment received", "definition": {
                "trigger": {"type": "webhook", "entity": "invoice", "matchField": "number"},
                "actions": [{"type": "update_fields", "values": {"status": "Paid"}}]}}}),
        )
        .await;
    assert_eq!(updated["updateWorkflow"]["definition"]["trigger"]["secret"], json!(secret));
    // A match field must be unique.
    let r = t
        .request(
            "mutation($i: WorkflowInput!) { createWorkflow(input: $i) { id } }",
            json!({"i": {"name": "x", "definition": {
                "trigger": {"type": "webhook", "entity": "invoice", "matchField": "status"},
                "actions": [{"type": "update_fields", "values": {"status": "Paid"}}]}}}),
        )
        .await;
    r.expect_field_errors(&["trigger.matchField"]);
}

//! Tenant isolation: with the same entity names in two tenants, tenant B cannot read, list,
//! filter, search, update, delete or restore tenant A's records by id, cannot point a relation
//! at them, does not have A's entity types in its schema, and never receives A's events.

use serde_json::{Value, json};

use crate::fixtures::{contact, deal, define_crm};
use crate::harness::{SILENCE, TestTenant, entity, field, str_of, tenant};

/// Two CRM tenants; A has a contact and a deal.
async fn two_tenants() -> (TestTenant, TestTenant, String, String) {
    let a = tenant().await;
    let b = tenant().await;
    define_crm(&a).await;
    define_crm(&b).await;
    let contact_a = str_of(&a.create(&contact(), json!({ "fullName": "A's contact" }), "").await["id"]);
    let deal_a =
        str_of(&a.create(&deal(), json!({ "title": "A's deal", "contact": contact_a }), "").await["id"]);
    (a, b, contact_a, deal_a)
}

#[tokio::test]
async fn records_of_another_tenant_do_not_exist() {
    let (a, b, _, deal_a) = two_tenants().await;
    let missing = uuid::Uuid::new_v4().to_string();

    // Reading by id answers exactly like a random id.
    let foreign = b.get_raw(&deal(), &deal_a, "title").await;
    let random = b.get_raw(&deal(), &missing, "title").await;
    assert_eq!(foreign.body["data"]["deal"], Value::Null, "{}", foreign.text);
    assert_eq!(foreign.errors().is_empty(), random.errors().is_empty());
    if !foreign.errors().is_empty() {
        foreign.expect_code("NOT_FOUND");
    }

    let list = b.list(&deal(), "", json!({}), "title").await;
    assert_eq!(list["totalCount"], json!(0));
    let by_id = b.list(&deal(), "filter: $filter", json!({ "filter": { "id": { "eq": deal_a } } }), "").await;
    assert_eq!(by_id["totalCount"], json!(0));
    let searched = b.list(&deal(), "search: $search", json!({ "search": "A's deal" }), "").await;
    assert_eq!(searched["totalCount"], json!(0));

    b.update_raw(&deal(), &deal_a, json!({ "title": "hijacked" }), "").await.expect_code("NOT_FOUND");
    b.lifecycle_raw("delete", &deal(), &deal_a).await.expect_code("NOT_FOUND");
    b.lifecycle_raw("restore", &deal(), &deal_a).await.expect_code("NOT_FOUND");

    // Even once A deletes it, B cannot restore it.
    a.delete(&deal(), &deal_a).await;
    b.lifecycle_raw("restore", &deal(), &deal_a).await.expect_code("NOT_FOUND");
    a.restore(&deal(), &deal_a).await;

    // A's record is untouched.
    let still = a.get(&deal(), &deal_a, "title").await;
    assert_eq!(still["title"], json!("A's deal"));
}

#[tokio::test]
async fn failing_relation_to_another_tenants_record() {
    let (a, b, contact_a, deal_a) = two_tenants().await;
    b.create_raw(&deal(), json!({ "title": "B's deal", "contact": contact_a }), "")
        .await
        .expect_field_errors(&["contact"]);
    let own = b.create(&deal(), json!({ "title": "B's deal" }), "").await;
    b.update_raw(&deal(), &str_of(&own["id"]), json!({ "contact": contact_a }), "")
        .await
        .expect_field_errors(&["contact"]);
    // B's filter on a relation id of A finds nothing.
    let list =
        b.list(&deal(), "filter: $filter", json!({ "filter": { "contact": { "eq": contact_a } } }), "").await;
    assert_eq!(list["totalCount"], json!(0));
    // A still sees its own relation.
    let mine = a.get(&deal(), &deal_a, "contact { id }").await;
    assert_eq!(mine["contact"]["id"], json!(contact_a));
}

#[tokio::test]
async fn entity_types_of_another_tenant_are_not_in_the_schema() {
    let a = tenant().await;
    let b = tenant().await;
    a.define(entity("invoice", "invoices", vec![field("total", "CURRENCY", json!({}))], json!({}))).await;
    assert!(a.type_fields("Invoice").await.is_some());
    assert_eq!(b.type_fields("Invoice").await, None);
    assert!(b.entity_names().await.is_empty());
    b.request("{ invoices { totalCount } }", json!({})).await.expect_code("BAD_REQUEST");
    let sdl = b.data("{ tenantSchemaSdl }", json!({})).await;
    assert!(!str_of(&sdl["tenantSchemaSdl"]).contains("Invoice"));
    // B can define its own `invoice` independently.
    b.define(entity("invoice", "invoices", vec![field("note", "TEXT", json!({}))], json!({}))).await;
    let b_fields = b.type_fields("Invoice").await.expect("B's Invoice");
    assert!(b_fields.contains(&"note".to_owned()) && !b_fields.contains(&"total".to_owned()));
    let a_fields = a.type_fields("Invoice").await.expect("A's Invoice");
    assert!(a_fields.contains(&"total".to_owned()) && !a_fields.contains(&"note".to_owned()));
}

#[tokio::test]
async fn subscriptions_never_see_another_tenants_events() {
    let (a, b, _, _) = two_tenants().await;
    let mut socket = b.subscribe("subscription { dealChanged { kind record { title } } }", json!({})).await;
    let created = a.create(&deal(), json!({ "title": "A secret" }), "").await;
    a.update(&deal(), &str_of(&created["id"]), json!({ "title": "A secret 2" }), "").await;
    socket.expect_silence(SILENCE).await;
    // The socket works: B's own event arrives.
    b.create(&deal(), json!({ "title": "B visible" }), "").await;
    let data = socket.next_data("1").await;
    assert_eq!(data["dealChanged"]["kind"], json!("CREATED"));
    assert_eq!(data["dealChanged"]["record"]["title"], json!("B visible"));
}

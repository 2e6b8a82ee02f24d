//! RELATION fields across entities: to-one resolution (nested), the reverse side as a connection
//! (`Contact.deals`, with filter/orderBy/first, and `dealsByReferrer` for a second relation to
//! the same target), ONE_TO_ONE reverse as a single object, self relations, changing and
//! clearing a relation, and soft-deleted targets resolving to null.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::fixtures::{company, contact, crm_tenant, deal, hospital_tenant, medical_record, patient};
use crate::harness::{TestTenant, field, pluck_str, str_of, strings, tenant};

/// A CRM tenant: Acme; Alice (at Acme) and Bob; four deals.
struct Crm {
    t: TestTenant,
    ids: HashMap<&'static str, String>,
}

async fn crm() -> Crm {
    let t = crm_tenant().await;
    let acme = str_of(&t.create(&company(), json!({ "name": "Acme" }), "").await["id"]);
    let alice =
        str_of(&t.create(&contact(), json!({ "fullName": "Alice", "company": acme }), "").await["id"]);
    let bob = str_of(&t.create(&contact(), json!({ "fullName": "Bob" }), "").await["id"]);
    let mut ids = HashMap::from([("acme", acme), ("alice", alice.clone()), ("bob", bob.clone())]);
    let deals: [(&'static str, Value); 4] = [
        ("d1", json!({ "title": "d1", "stage": "won", "contact": alice, "referrer": bob })),
        ("d2", json!({ "title": "d2", "stage": "lead", "contact": alice })),
        ("d3", json!({ "title": "d3", "stage": "won", "contact": bob, "referrer": alice })),
        ("d4", json!({ "title": "d4", "stage": "lost", "contact": alice })),
    ];
    for (key, input) in deals {
        let record = t.create(&deal(), input, "").await;
        ids.insert(key, str_of(&record["id"]));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    Crm { t, ids }
}

impl Crm {
    fn id(&self, key: &str) -> String {
        self.ids[key].clone()
    }
}

#[tokio::test]
async fn to_one_relations_resolve_nested() {
    let c = crm().await;
    let data =
        c.t.data(
            "{ deals { nodes { title contact { id fullName company { name } } referrer { fullName } } } }",
            json!({}),
        )
        .await;
    let nodes = &data["deals"]["nodes"];
    assert_eq!(pluck_str(nodes, "title"), strings(&["d1", "d2", "d3", "d4"]));
    assert_eq!(
        nodes[0],
        json!({ "title": "d1", "contact": { "id": c.id("alice"), "fullName": "Alice",
                "company": { "name": "Acme" } }, "referrer": { "fullName": "Bob" } })
    );
    assert_eq!(nodes[1]["referrer"], Value::Null);
    assert_eq!(nodes[2]["contact"], json!({ "id": c.id("bob"), "fullName": "Bob", "company": null }));
    assert_eq!(nodes[2]["referrer"]["fullName"], json!("Alice"));
    let one = c.t.get(&deal(), &c.id("d4"), "contact { fullName }").await;
    assert_eq!(one["contact"]["fullName"], json!("Alice"));
}

#[tokio::test]
async fn a_bad_cursor_on_a_nested_connection_is_the_clients_error() {
    let c = crm().await;
    // As at the root: a malformed or foreign cursor is BAD_REQUEST, nested or not.
    for after in ["abc", "eyJub3QiOiJhIGN1cnNvciJ9"] {
        let nested =
            "query($id: ID!, $after: String) { contact(id: $id) { deals(after: $after) { totalCount } } }";
        let code = c.t.error_code(nested, json!({ "id": c.id("alice"), "after": after })).await;
        assert_eq!(code, "BAD_REQUEST", "nested after: {after}");
        let listed = "query($after: String) { contacts { nodes { deals(after: $after) { totalCount } } } }";
        assert_eq!(
            c.t.error_code(listed, json!({ "after": after })).await,
            "BAD_REQUEST",
            "in a list: {after}"
        );
        let root = "query($after: String) { deals(after: $after) { totalCount } }";
        assert_eq!(c.t.error_code(root, json!({ "after": after })).await, "BAD_REQUEST", "root: {after}");
    }
}

#[tokio::test]
async fn reverse_relation_is_a_connection() {
    let c = crm().await;
    let data =
        c.t.data(
            "query($id: ID!) { contact(id: $id) {
                deals { totalCount nodes { title } }
                won: deals(filter: { stage: { eq: \"won\" } }) { totalCount nodes { title } }
                top: deals(first: 1, orderBy: [{ field: TITLE, direction: DESC }]) {
                    totalCount nodes { title } pageInfo { hasNextPage } }
                dealsByReferrer { totalCount nodes { title } }
                company { name contacts { totalCount nodes { fullName } } }
            } }",
            json!({ "id": c.id("alice") }),
        )
        .await;
    let alice = &data["contact"];
    assert_eq!(alice["deals"]["totalCount"], json!(3));
    assert_eq!(pluck_str(&alice["deals"]["nodes"], "title"), strings(&["d1", "d2", "d4"]));
    assert_eq!(alice["won"]["totalCount"], json!(1));
    assert_eq!(pluck_str(&alice["won"]["nodes"], "title"), strings(&["d1"]));
    assert_eq!(alice["top"]["totalCount"], json!(3));
    assert_eq!(pluck_str(&alice["top"]["nodes"], "title"), strings(&["d4"]));
    assert_eq!(alice["top"]["pageInfo"]["hasNextPage"], json!(true));
    assert_eq!(alice["dealsByReferrer"]["totalCount"], json!(1));
    assert_eq!(pluck_str(&alice["dealsByReferrer"]["nodes"], "title"), strings(&["d3"]));
    assert_eq!(alice["company"]["contacts"]["totalCount"], json!(1));
    assert_eq!(pluck_str(&alice["company"]["contacts"]["nodes"], "fullName"), strings(&["Alice"]));

    // The same through a list, where each row resolves its own reverse connection.
    let data =
        c.t.data(
            "{ contacts(orderBy: [{ field: FULL_NAME }]) { nodes { fullName
                deals { totalCount nodes { title } } dealsByReferrer { totalCount } } } }",
            json!({}),
        )
        .await;
    let nodes = &data["contacts"]["nodes"];
    assert_eq!(pluck_str(nodes, "fullName"), strings(&["Alice", "Bob"]));
    assert_eq!(nodes[0]["deals"]["totalCount"], json!(3));
    assert_eq!(nodes[1]["deals"]["totalCount"], json!(1));
    assert_eq!(pluck_str(&nodes[1]["deals"]["nodes"], "title"), strings(&["d3"]));
    assert_eq!(nodes[0]["dealsByReferrer"]["totalCount"], json!(1));
    assert_eq!(nodes[1]["dealsByReferrer"]["totalCount"], json!(1));
}

#[tokio::test]
async fn changing_and_clearing_a_relation() {
    let c = crm().await;
    let moved =
        c.t.update(&deal(), &c.id("d2"), json!({ "contact": c.id("bob") }), "contact { fullName }").await;
    assert_eq!(moved["contact"]["fullName"], json!("Bob"));
    let cleared = c.t.update(&deal(), &c.id("d2"), json!({ "contact": null }), "contact { fullName }").await;
    assert_eq!(cleared["contact"], Value::Null);
    let counts =
        c.t.data(
            "query($a: ID!, $b: ID!) { a: contact(id: $a) { deals { totalCount } }
                                      b: contact(id: $b) { deals { totalCount } } }",
            json!({ "a": c.id("alice"), "b": c.id("bob") }),
        )
        .await;
    assert_eq!(counts["a"]["deals"]["totalCount"], json!(2));
    assert_eq!(counts["b"]["deals"]["totalCount"], json!(1));
}

#[tokio::test]
async fn soft_deleted_targets_resolve_to_null() {
    let c = crm().await;
    c.t.delete(&contact(), &c.id("bob")).await;
    let d1 = c.t.get(&deal(), &c.id("d1"), "contact { fullName } referrer { fullName }").await;
    assert_eq!(d1["contact"]["fullName"], json!("Alice"));
    assert_eq!(d1["referrer"], Value::Null, "the referrer was deleted");
    let d3 = c.t.get(&deal(), &c.id("d3"), "contact { fullName }").await;
    assert_eq!(d3["contact"], Value::Null);

    // A deleted deal leaves the reverse connection.
    c.t.delete(&deal(), &c.id("d2")).await;
    let alice = c.t.get(&contact(), &c.id("alice"), "deals { totalCount nodes { title } }").await;
    assert_eq!(alice["deals"]["totalCount"], json!(2));
    assert_eq!(pluck_str(&alice["deals"]["nodes"], "title"), strings(&["d1", "d4"]));

    // Restoring brings both back.
    c.t.restore(&contact(), &c.id("bob")).await;
    c.t.restore(&deal(), &c.id("d2")).await;
    let d1 = c.t.get(&deal(), &c.id("d1"), "referrer { fullName }").await;
    assert_eq!(d1["referrer"]["fullName"], json!("Bob"));
    let alice = c.t.get(&contact(), &c.id("alice"), "deals { totalCount }").await;
    assert_eq!(alice["deals"]["totalCount"], json!(3));
}

#[tokio::test]
async fn failing_relation_to_a_deleted_record() {
    let c = crm().await;
    c.t.delete(&contact(), &c.id("bob")).await;
    let response = c.t.create_raw(&deal(), json!({ "title": "x", "contact": c.id("bob") }), "").await;
    response.expect_field_errors(&["contact"]);
    // A live record of another entity is no contact either; with one good and one bad
    // relation only the bad one is named. (On PostgreSQL the create's own INSERT checks its
    // relations and refuses the whole write; the error comes from the step-by-step check.)
    let response = c.t.create_raw(&deal(), json!({ "title": "y", "contact": c.id("d1") }), "").await;
    response.expect_field_errors(&["contact"]);
    let both = json!({ "title": "z", "contact": c.id("alice"), "referrer": c.id("acme") });
    c.t.create_raw(&deal(), both, "").await.expect_field_errors(&["referrer"]);
    // Nothing of the refused creates was written.
    assert_eq!(c.t.list(&deal(), "", json!({}), "").await["totalCount"], json!(4));
    let good = json!({ "title": "w", "contact": c.id("alice"), "referrer": c.id("alice") });
    c.t.create(&deal(), good, "").await;
    assert_eq!(c.t.list(&deal(), "", json!({}), "").await["totalCount"], json!(5));
}

#[tokio::test]
async fn one_to_one_reverse_is_a_single_object() {
    let t = hospital_tenant().await;
    let asha = str_of(&t.create(&patient(), json!({ "fullName": "Asha" }), "").await["id"]);
    let ravi = str_of(&t.create(&patient(), json!({ "fullName": "Ravi" }), "").await["id"]);
    let record = t
        .create(
            &medical_record(),
            json!({ "patient": asha, "bloodType": "O+", "summary": { "notes": ["ok"] } }),
            "patient { fullName } bloodType",
        )
        .await;
    assert_eq!(record["patient"]["fullName"], json!("Asha"));
    let data = t
        .data(
            "query($a: ID!, $r: ID!) {
                a: patient(id: $a) { medicalRecord { id bloodType summary } }
                r: patient(id: $r) { medicalRecord { id } } }",
            json!({ "a": asha, "r": ravi }),
        )
        .await;
    assert_eq!(
        data["a"]["medicalRecord"],
        json!({ "id": record["id"], "bloodType": "O+", "summary": { "notes": ["ok"] } })
    );
    assert_eq!(data["r"]["medicalRecord"], Value::Null);
    // One-to-one: a second record for the same patient is refused.
    let response = t.create_raw(&medical_record(), json!({ "patient": asha, "bloodType": "A+" }), "").await;
    response.expect_field_errors(&["patient"]);
    let list = t.list(&medical_record(), "", json!({}), "").await;
    assert_eq!(list["totalCount"], json!(1));
}

#[tokio::test]
async fn self_relation() {
    let t = tenant().await;
    let employee = t
        .define_entity(
            "employee",
            "employees",
            vec![
                field("name", "TEXT", json!({ "required": true })),
                field("manager", "RELATION", json!({ "relatedEntity": "employee" })),
            ],
        )
        .await;
    let boss = str_of(&t.create(&employee, json!({ "name": "Boss" }), "").await["id"]);
    for name in ["Ann", "Ben"] {
        t.create(&employee, json!({ "name": name, "manager": boss }), "").await;
    }
    let data = t
        .data(
            "query($id: ID!) { employee(id: $id) { name manager { name }
                employees { totalCount nodes { name manager { name } } } } }",
            json!({ "id": boss }),
        )
        .await;
    let boss = &data["employee"];
    assert_eq!(boss["manager"], Value::Null);
    assert_eq!(boss["employees"]["totalCount"], json!(2));
    assert_eq!(pluck_str(&boss["employees"]["nodes"], "name"), strings(&["Ann", "Ben"]));
    assert_eq!(boss["employees"]["nodes"][0]["manager"]["name"], json!("Boss"));
}

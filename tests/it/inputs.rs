//! What every argument passes before an operation runs (`schema::inputs`), on both backends
//! alike: an `ID` input given an Int answers exactly as its decimal string does (the GraphQL
//! spec's input coercion).

use serde_json::{Value, json};

use crate::harness::{Auth, Names, TestTenant, entity, field, str_of, tenant};

fn deal() -> Names {
    Names::new("deal", "deals")
}

/// A tenant with a `deal` (TEXT, JSON, MULTI_SELECT, RELATION to `person`) and one deal.
async fn setup() -> (TestTenant, String) {
    let t = tenant().await;
    t.define(entity("person", "people", vec![field("name", "TEXT", json!({}))], json!({}))).await;
    t.define(entity(
        "deal",
        "deals",
        vec![
            field("title", "TEXT", json!({ "required": true })),
            field("meta", "JSON", json!({})),
            field("tags", "MULTI_SELECT", json!({ "options": ["hot", "new"] })),
            field("person", "RELATION", json!({ "relatedEntity": "person" })),
        ],
        json!({}),
    ))
    .await;
    let id = str_of(&t.create(&deal(), json!({ "title": "Alpha" }), "").await["id"]);
    (t, id)
}

/// The answer to `query` with `variables`, without what differs between two requests.
async fn answer(t: &TestTenant, auth: &Auth, query: &str, variables: Value) -> Value {
    let r = t.api.graphql(auth, query, variables).await;
    assert!(r.errors().iter().all(|e| e["extensions"]["code"] != "INTERNAL"), "{query}: {}", r.text);
    r.body
}

#[tokio::test]
async fn successful_int_for_an_id_is_its_decimal_string() {
    let (t, id) = setup().await;
    let auth = t.auth();
    // Each query with the id 123 as an Int (`{n}` → `123`) and as a string (`"123"`).
    let written = [
        "{ deal(id: {n}) { id } }",
        "query($id: ID! = {n}) { deal(id: $id) { id } }",
        "{ deals(filter: {id: {in: [{n}, {n}]}}) { totalCount } }",
        "{ deals(filter: {or: [{id: {eq: {n}}}, {person: {in: [{n}]}}]}) { totalCount } }",
        "{ auditLog(filter: {actorUserId: {n}}) { totalCount } }",
        "mutation { updateDeal(id: {n}, input: {title: \"x\"}) { id } }",
        "mutation { createDeal(input: {title: \"x\", person: {n}}) { id } }",
        "mutation { revokeSessions(userId: {n}) }",
    ];
    for query in written {
        let as_int = answer(&t, &auth, &query.replace("{n}", "123"), json!({})).await;
        let as_string = answer(&t, &auth, &query.replace("{n}", "\"123\""), json!({})).await;
        assert_eq!(as_int, as_string, "{query}");
    }
    let sent = [
        ("query($id: ID!) { deal(id: $id) { id } }", json!({ "id": 123 }), json!({ "id": "123" })),
        (
            "query($ids: [ID!]) { deals(filter: {id: {in: $ids}}) { totalCount } }",
            json!({ "ids": [123, 7] }),
            json!({ "ids": ["123", "7"] }),
        ),
        (
            "query($f: DealFilter) { deals(filter: $f) { totalCount } }",
            json!({ "f": { "id": { "in": [123] }, "person": { "eq": 123 } } }),
            json!({ "f": { "id": { "in": ["123"] }, "person": { "eq": "123" } } }),
        ),
        (
            "mutation($i: CreateDealInput!) { createDeal(input: $i) { id } }",
            json!({ "i": { "title": "x", "person": 123 } }),
            json!({ "i": { "title": "x", "person": "123" } }),
        ),
    ];
    for (query, as_int, as_string) in sent {
        // Twice each: the second may be a compiled plan's answer.
        for _ in 0..2 {
            let int_answer = answer(&t, &auth, query, as_int.clone()).await;
            assert_eq!(int_answer, answer(&t, &auth, query, as_string.clone()).await, "{query} {as_int}");
        }
    }
    // And the Int matches nothing, while the record's own id still finds it.
    let data = t.data("{ deals(filter: {id: {in: [123]}}) { totalCount } }", json!({})).await;
    assert_eq!(data["deals"]["totalCount"], json!(0));
    let data = t
        .data(
            "query($ids: [ID!]) { deals(filter: {id: {in: $ids}}) { totalCount } }",
            json!({ "ids": [123, id] }),
        )
        .await;
    assert_eq!(data["deals"]["totalCount"], json!(1));
}

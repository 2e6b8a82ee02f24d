//! Bulk writes (`createDeals`, `updateDeals`, `deleteDeals`): all or nothing, every record
//! through its single write's checks (a bad input is named by index and field), a filter
//! matching exactly what a list shows the caller (a row rule leaves records out of an
//! update-many as it does from the list), ids outside the rule NOT_FOUND, one audit entry and
//! one change event per record, and the size limit.

use serde_json::{Value, json};

use crate::audit::verify;
use crate::harness::*;

fn deal() -> Names {
    Names::new("deal", "deals")
}

const CREATE: &str = "mutation($i: [CreateDealInput!]!) {
    createDeals(inputs: $i) { count records { id title region } } }";
const UPDATE_BY_FILTER: &str = "mutation($f: DealFilter, $i: UpdateDealInput!) {
    updateDeals(filter: $f, input: $i) { count records { id stage } } }";
const UPDATE_BY_IDS: &str = "mutation($ids: [ID!], $i: UpdateDealInput!) {
    updateDeals(ids: $ids, input: $i) { count records { id stage } } }";
const DELETE_BY_IDS: &str = "mutation($ids: [ID!]) { deleteDeals(ids: $ids) { count records { id } } }";

/// A tenant with deals (title required, region, stage), as its owner.
async fn with_deals() -> TestTenant {
    let t = tenant().await;
    t.define(entity(
        "deal",
        "deals",
        vec![
            field("title", "TEXT", json!({"required": true})),
            field("region", "SELECT", json!({"options": ["North", "South"]})),
            field("stage", "TEXT", json!({})),
        ],
        json!({}),
    ))
    .await;
    t
}

/// Creates deals in one `createDeals`, asserting success; their ids in input order.
async fn create_deals(t: &TestTenant, inputs: Value) -> Vec<String> {
    let data = t.data(CREATE, json!({ "i": inputs })).await;
    pluck_str(&data["createDeals"]["records"], "id")
}

async fn all_titles(t: &TestTenant) -> Vec<String> {
    sorted(pluck_str(&t.list(&deal(), "first: 500", json!({}), "title").await["nodes"], "title"))
}

#[tokio::test]
async fn create_many_writes_all_or_nothing_and_names_the_bad_input() {
    let t = with_deals().await;
    let inputs = json!([
        {"title": "A"}, {"title": "B", "region": "North"}, {"title": "C", "region": "East"}, {"title": "D"},
        {"title": "E", "region": "West"},
    ]);
    let r = t.request(CREATE, json!({ "i": inputs })).await;
    r.expect_field_errors(&["inputs[2].region", "inputs[4].region"]);
    assert!(all_titles(&t).await.is_empty(), "nothing was written");

    let data = t.data(CREATE, json!({ "i": [{"title": "A"}, {"title": "B"}, {"title": "C"}] })).await;
    assert_eq!(data["createDeals"]["count"], json!(3));
    assert_eq!(pluck_str(&data["createDeals"]["records"], "title"), strings(&["A", "B", "C"]), "input order");
    assert_eq!(all_titles(&t).await, strings(&["A", "B", "C"]));
}

#[tokio::test]
async fn update_many_by_filter_changes_exactly_what_the_list_shows() {
    let t = with_deals().await;
    let regions = ["North", "South", "North", "South", "North"];
    let inputs: Vec<Value> =
        regions.iter().enumerate().map(|(i, r)| json!({"title": format!("D{i}"), "region": r})).collect();
    let ids = create_deals(&t, json!(inputs)).await;
    t.create_role(
        "north",
        json!({"deal": {"actions": ["read", "update"], "where": {"region": {"eq": "North"}}}}),
    )
    .await;
    let member = t.invite_auth("north").await;
    let filter = json!({"title": {"startsWith": "D"}});

    let listed = t
        .api
        .graphql(
            &member,
            "query($f: DealFilter) { deals(filter: $f) { nodes { id } } }",
            json!({"f": filter}),
        )
        .await
        .data();
    let shown = sorted(pluck_str(&listed["deals"]["nodes"], "id"));
    let r =
        t.api.graphql(&member, UPDATE_BY_FILTER, json!({"f": filter, "i": {"stage": "won"}})).await.data();
    assert_eq!(r["updateDeals"]["count"], json!(3));
    assert_eq!(sorted(pluck_str(&r["updateDeals"]["records"], "id")), shown, "what the list showed");

    let all = t.list(&deal(), "first: 500", json!({}), "region stage").await;
    for node in all["nodes"].as_array().expect("nodes") {
        let expected = if node["region"] == json!("North") { json!("won") } else { Value::Null };
        assert_eq!(node["stage"], expected, "{node}");
    }

    // By id, a record outside the rule is NOT_FOUND, and the write is refused whole.
    let (north, south) = (&ids[0], &ids[1]);
    let r =
        t.api.graphql(&member, UPDATE_BY_IDS, json!({"ids": [north, south], "i": {"stage": "lost"}})).await;
    r.expect_code("NOT_FOUND");
    assert_eq!(t.get(&deal(), north, "stage").await["stage"], json!("won"), "nothing written");
    assert_eq!(t.get(&deal(), south, "stage").await["stage"], Value::Null);
}

#[tokio::test]
async fn delete_many_writes_an_audit_entry_and_an_event_per_record() {
    let t = with_deals().await;
    let ids = create_deals(&t, json!([{"title": "A"}, {"title": "B"}, {"title": "C"}])).await;
    let mut socket =
        t.subscribe("subscription { dealChanged { kind record { id stage } } }", json!({})).await;

    let r = t.data(UPDATE_BY_FILTER, json!({"f": {}, "i": {"stage": "done"}})).await;
    assert_eq!(r["updateDeals"]["count"], json!(3));
    let r = t.data(DELETE_BY_IDS, json!({"ids": [ids[0], ids[2]]})).await;
    assert_eq!(r["deleteDeals"]["count"], json!(2));
    assert_eq!(all_titles(&t).await, strings(&["B"]));

    let mut events = Vec::new();
    while events.len() < 5 {
        let e = socket.next_data("1").await["dealChanged"].clone();
        // The creates, committed just before the subscription began, may still reach it.
        if e["kind"] != json!("CREATED") {
            events.push((str_of(&e["kind"]), str_of(&e["record"]["id"])));
        }
    }
    let kinds =
        |k: &str| sorted(events.iter().filter(|(kind, _)| kind == k).map(|(_, id)| id.clone()).collect());
    assert_eq!(kinds("UPDATED"), sorted(ids.clone()), "{events:?}");
    assert_eq!(kinds("DELETED"), sorted(vec![ids[0].clone(), ids[2].clone()]), "{events:?}");

    let log = "query($f: AuditFilter) { auditLog(filter: $f, first: 50) { totalCount nodes { objectId } } }";
    for (action, expected) in [
        ("record.create", ids.clone()),
        ("record.update", ids.clone()),
        ("record.delete", vec![ids[0].clone(), ids[2].clone()]),
    ] {
        let entries = t.data(log, json!({"f": {"action": action}})).await["auditLog"].clone();
        assert_eq!(sorted(pluck_str(&entries["nodes"], "objectId")), sorted(expected), "{action}");
    }
    assert_eq!(verify(&t).await["ok"], json!(true));
}

#[tokio::test]
async fn bulk_writes_beyond_the_size_limit_or_with_two_selections_are_refused() {
    let t = with_deals().await;
    let inputs: Vec<Value> = (0..1001).map(|i| json!({"title": format!("T{i}")})).collect();
    t.request(CREATE, json!({ "i": inputs })).await.expect_code("BAD_REQUEST");
    assert!(all_titles(&t).await.is_empty(), "nothing was written");

    let ids = create_deals(&t, json!([{"title": "A"}])).await;
    let both = "mutation($ids: [ID!], $f: DealFilter) { deleteDeals(ids: $ids, filter: $f) { count } }";
    t.request(both, json!({"ids": ids, "f": {}})).await.expect_code("BAD_REQUEST");
    t.request("mutation { deleteDeals { count } }", json!({})).await.expect_code("BAD_REQUEST");
    assert_eq!(all_titles(&t).await, strings(&["A"]));
}

//! The stock engine through GraphQL on the manufacturing template (its inventory moves are a
//! stock ledger, its BOM lines a bill of materials, its production orders consume them):
//! balances exact after 200 concurrent receipts, issues and transfers in both directions; an
//! update or delete of a movement adjusts them; an issue that would go negative refused with
//! nothing written; a reorder workflow firing once per crossing; a bill of materials exploded
//! over three levels (and a loop refused); a production order that consumes its components
//! and receives the item, and one refused for a shortfall with nothing written.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::harness::*;

const ON_HAND: &str =
    "query($i: ID!, $w: ID) { stockOnHand(item: $i, warehouse: $w) { item warehouse quantity } }";
const EXPLODE: &str =
    "query($i: ID!, $q: Float!) { explodeBom(item: $i, quantity: $q) { component quantity level leaf } }";

fn moves() -> Names {
    Names::new("inventory_move", "inventory_moves")
}

/// A tenant with the manufacturing template and two plants, A and B.
async fn factory() -> (TestTenant, String, String) {
    let t = tenant().await;
    t.data("mutation { applyTemplate(slug: \"manufacturing\") { slug } }", json!({})).await;
    let co = str_of(&t.create(&Names::new("company", "companies"), json!({"name": "Acme"}), "").await["id"]);
    let plants = Names::new("plant", "plants");
    let mut ids = Vec::new();
    for code in ["A", "B"] {
        let p = t
            .create(&plants, json!({"name": format!("Plant {code}"), "code": code, "company": co}), "")
            .await;
        ids.push(str_of(&p["id"]));
    }
    (t, ids[0].clone(), ids[1].clone())
}

async fn item(t: &TestTenant, code: &str, extra: Value) -> String {
    let mut input = json!({"code": code, "name": code, "type": "Component"});
    merge(&mut input, extra);
    str_of(&t.create(&Names::new("item", "items"), input, "").await["id"])
}

/// One movement's input: `direction` In, Out or Transfer (to `to`).
fn movement(item: &str, plant: &str, direction: &str, quantity: f64, to: Option<&str>) -> Value {
    json!({"item": item, "plant": plant, "direction": direction, "quantity": quantity, "toPlant": to,
           "movedAt": "2026-12-06T10:00:00Z"})
}

async fn book(t: &TestTenant, item: &str, plant: &str, direction: &str, quantity: f64) -> String {
    str_of(&t.create(&moves(), movement(item, plant, direction, quantity, None), "").await["id"])
}

/// The item's quantity on hand in `plant` (0 where it never moved).
async fn on_hand(t: &TestTenant, item: &str, plant: &str) -> f64 {
    let data = t.data(ON_HAND, json!({"i": item, "w": plant})).await;
    data["stockOnHand"]
        .as_array()
        .expect("balances")
        .first()
        .map_or(0.0, |b| b["quantity"].as_f64().expect("a number"))
}

#[tokio::test]
async fn balances_stay_exact_under_200_concurrent_receipts_issues_and_transfers() {
    let (t, a, b) = factory().await;
    let bolt = item(&t, "BOLT", json!({})).await;
    book(&t, &bolt, &a, "In", 100.0).await;
    book(&t, &bolt, &b, "In", 100.0).await;
    let mut inputs = Vec::new();
    for i in 0..80 {
        inputs.push(movement(&bolt, &a, "In", 3.0, None));
        if i < 60 {
            inputs.push(movement(&bolt, &a, "Out", 1.0, None));
        }
    }
    // Transfers both ways lock the same two balances in opposite directions of travel.
    for _ in 0..30 {
        inputs.push(movement(&bolt, &a, "Transfer", 2.0, Some(&b)));
        inputs.push(movement(&bolt, &b, "Transfer", 1.0, Some(&a)));
    }
    assert_eq!(inputs.len(), 200);
    let names = moves();
    let responses = join_all(inputs.into_iter().map(|i| t.create_raw(&names, i, ""))).await;
    for r in &responses {
        assert!(r.errors().is_empty(), "a movement failed: {}", r.text);
    }
    // A: 100 + 80×3 − 60 − 30×2 + 30 = 250; B: 100 + 30×2 − 30 = 130.
    assert_eq!(on_hand(&t, &bolt, &a).await, 250.0);
    assert_eq!(on_hand(&t, &bolt, &b).await, 130.0);
    let all = t.data(ON_HAND, json!({"i": bolt})).await["stockOnHand"].clone();
    assert_eq!(all.as_array().map(Vec::len), Some(2), "{all}");
}

#[tokio::test]
async fn updates_and_deletes_adjust_and_a_negative_issue_is_refused_with_nothing_written() {
    let (t, a, _) = factory().await;
    let nut = item(&t, "NUT", json!({})).await;
    let receipt = book(&t, &nut, &a, "In", 10.0).await;
    let issue = book(&t, &nut, &a, "Out", 4.0).await;
    assert_eq!(on_hand(&t, &nut, &a).await, 6.0);
    t.update(&moves(), &issue, json!({"quantity": 7}), "").await;
    assert_eq!(on_hand(&t, &nut, &a).await, 3.0);
    // More than is on hand: refused on the quantity, and no movement is written.
    let refused = t.create_raw(&moves(), movement(&nut, &a, "Out", 5.0, None), "").await;
    refused.expect_code("VALIDATION_FAILED");
    assert_eq!(refused.field_errors(), vec!["quantity".to_owned()], "{}", refused.text);
    assert_eq!(t.list(&moves(), "", json!({}), "").await["totalCount"], json!(2));
    assert_eq!(on_hand(&t, &nut, &a).await, 3.0);
    // Deleting the receipt would leave −7: refused too; deleting the issue gives it back.
    t.lifecycle_raw("delete", &moves(), &receipt).await.expect_code("VALIDATION_FAILED");
    t.delete(&moves(), &issue).await;
    assert_eq!(on_hand(&t, &nut, &a).await, 10.0);
    t.restore(&moves(), &issue).await;
    assert_eq!(on_hand(&t, &nut, &a).await, 3.0);
    // A transfer needs its destination.
    t.create_raw(&moves(), movement(&nut, &a, "Transfer", 1.0, None), "")
        .await
        .expect_code("VALIDATION_FAILED");
}

/// The runs of the template's reorder workflow.
async fn reorder_runs(t: &TestTenant) -> Vec<Value> {
    let all = t.data("{ workflows { id name } }", json!({})).await["workflows"].clone();
    let id = all
        .as_array()
        .expect("workflows")
        .iter()
        .find(|w| w["name"] == json!("Reorder alert"))
        .expect("the reorder workflow")["id"]
        .clone();
    let runs =
        t.data("query($w: ID) { workflowRuns(workflowId: $w) { id recordId } }", json!({"w": id})).await;
    runs["workflowRuns"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_reorder_alert_fires_once_per_crossing() {
    let (t, a, _) = factory().await;
    let gear = item(&t, "GEAR", json!({"reorderLevel": 10})).await;
    book(&t, &gear, &a, "In", 30.0).await;
    book(&t, &gear, &a, "Out", 15.0).await; // 15: above
    book(&t, &gear, &a, "Out", 10.0).await; // 5: crosses
    book(&t, &gear, &a, "Out", 2.0).await; // 3: still below, no new alert
    eventually("the first reorder alert", EFFECT_WAIT, async || reorder_runs(&t).await.len() == 1).await;
    book(&t, &gear, &a, "In", 20.0).await; // 23: back above
    book(&t, &gear, &a, "Out", 20.0).await; // 3: crosses again
    eventually("the second reorder alert", EFFECT_WAIT, async || reorder_runs(&t).await.len() == 2).await;
    tokio::time::sleep(SILENCE).await;
    let runs = reorder_runs(&t).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r["recordId"] == json!(gear)), "{runs:?}");
}

/// Items and BOM lines of a bike: bike ← frame, 2 wheels, 4 bolts; frame ← 3 tubes, 0.5 paint,
/// 2 bolts; wheel ← rim, 32 spokes; spoke ← wire (three levels). Returns the ids by code.
async fn bike(t: &TestTenant) -> std::collections::HashMap<&'static str, String> {
    let mut ids = std::collections::HashMap::new();
    for code in ["BIKE", "FRAME", "WHEEL", "BOLT", "TUBE", "PAINT", "RIM", "SPOKE", "WIRE"] {
        ids.insert(code, item(t, code, json!({})).await);
    }
    let lines = Names::new("bom_line", "bom_lines");
    for (parent, component, q) in [
        ("BIKE", "FRAME", 1.0),
        ("BIKE", "WHEEL", 2.0),
        ("BIKE", "BOLT", 4.0),
        ("FRAME", "TUBE", 3.0),
        ("FRAME", "PAINT", 0.5),
        ("FRAME", "BOLT", 2.0),
        ("WHEEL", "RIM", 1.0),
        ("WHEEL", "SPOKE", 32.0),
        ("SPOKE", "WIRE", 1.0),
    ] {
        let input = json!({"parentItem": ids[parent], "componentItem": ids[component], "quantity": q});
        t.create(&lines, input, "").await;
    }
    ids
}

#[tokio::test]
async fn a_bill_of_materials_explodes_over_three_levels_and_a_loop_is_refused() {
    let (t, _, _) = factory().await;
    let ids = bike(&t).await;
    let code = |id: &Value| ids.iter().find(|(_, v)| json!(v) == *id).map(|(k, _)| *k).expect("a known item");
    let got = t.data(EXPLODE, json!({"i": ids["BIKE"], "q": 2})).await["explodeBom"].clone();
    let shown: Vec<(String, f64, i64, bool)> = got
        .as_array()
        .expect("requirements")
        .iter()
        .map(|r| {
            (
                code(&r["component"]).to_owned(),
                r["quantity"].as_f64().expect("q"),
                r["level"].as_i64().expect("l"),
                r["leaf"] == json!(true),
            )
        })
        .collect();
    let mut shown = shown;
    shown.sort_by(|x, y| x.0.cmp(&y.0));
    let expected = vec![
        ("BOLT".to_owned(), 12.0, 2, true),
        ("FRAME".to_owned(), 2.0, 1, false),
        ("PAINT".to_owned(), 1.0, 2, true),
        ("RIM".to_owned(), 4.0, 2, true),
        ("SPOKE".to_owned(), 128.0, 2, false),
        ("TUBE".to_owned(), 6.0, 2, true),
        ("WHEEL".to_owned(), 4.0, 1, false),
        ("WIRE".to_owned(), 128.0, 3, true),
    ];
    assert_eq!(shown, expected);
    // A line that makes the wire of bikes closes a loop: refused, not followed forever.
    let lines = Names::new("bom_line", "bom_lines");
    let looped = t
        .create(&lines, json!({"parentItem": ids["WIRE"], "componentItem": ids["BIKE"], "quantity": 1}), "")
        .await;
    let refused = t.request(EXPLODE, json!({"i": ids["BIKE"], "q": 1})).await;
    refused.expect_code("VALIDATION_FAILED");
    assert!(refused.text.contains("loops"), "{}", refused.text);
    t.delete(&lines, &str_of(&looped["id"])).await;
    assert_eq!(
        t.data(EXPLODE, json!({"i": ids["WHEEL"], "q": 1})).await["explodeBom"].as_array().map(Vec::len),
        Some(3)
    );
}

#[tokio::test]
async fn a_production_order_consumes_its_components_and_a_shortfall_is_refused_whole() {
    let (t, a, _) = factory().await;
    let ids = bike(&t).await;
    for (code, q) in [("TUBE", 10.0), ("PAINT", 5.0), ("RIM", 4.0), ("WIRE", 200.0), ("BOLT", 12.0)] {
        book(&t, &ids[code], &a, "In", q).await;
    }
    let orders = Names::new("production_order", "production_orders");
    let order =
        str_of(&t.create(&orders, json!({"plant": a, "item": ids["BIKE"], "quantity": 2}), "").await["id"]);
    let done = t.update(&orders, &order, json!({"status": "Completed"}), "status").await;
    assert_eq!(done["status"], json!("Completed"));
    for (code, left) in
        [("TUBE", 4.0), ("PAINT", 4.0), ("RIM", 0.0), ("WIRE", 72.0), ("BOLT", 0.0), ("BIKE", 2.0)]
    {
        assert_eq!(on_hand(&t, &ids[code], &a).await, left, "{code}");
    }
    // Sub-assemblies are exploded, not taken from stock.
    assert_eq!(on_hand(&t, &ids["FRAME"], &a).await, 0.0);
    // One more bike needs two rims and four bolts: none are left. Refused on the status, and
    // nothing moves: the order stays planned, every balance as it was.
    let second =
        str_of(&t.create(&orders, json!({"plant": a, "item": ids["BIKE"], "quantity": 1}), "").await["id"]);
    let refused = t.update_raw(&orders, &second, json!({"status": "Completed"}), "status").await;
    refused.expect_code("VALIDATION_FAILED");
    assert_eq!(refused.field_errors(), vec!["status".to_owned()], "{}", refused.text);
    assert!(refused.text.contains("not enough stock"), "{}", refused.text);
    assert_eq!(t.get(&orders, &second, "status").await["status"], json!("Planned"));
    for (code, left) in [("TUBE", 4.0), ("PAINT", 4.0), ("WIRE", 72.0), ("BIKE", 2.0)] {
        assert_eq!(on_hand(&t, &ids[code], &a).await, left, "{code}");
    }
}

#[tokio::test]
async fn stock_on_hand_needs_the_right_to_read_the_item() {
    let (t, a, _) = factory().await;
    let pin = item(&t, "PIN", json!({})).await;
    book(&t, &pin, &a, "In", 5.0).await;
    // A store keeper reads items; a role that reads none has no such operation.
    let reader = t.invite_auth("store_keeper").await;
    let ok = t.api.graphql(&reader, ON_HAND, json!({"i": pin})).await;
    assert_eq!(ok.data()["stockOnHand"][0]["quantity"], json!(5.0));
    t.create_role("no_items", json!({"plant": {"actions": ["read"]}})).await;
    let outsider = t.invite_auth("no_items").await;
    let refused = t.api.graphql(&outsider, ON_HAND, json!({"i": pin})).await;
    assert!(!refused.errors().is_empty(), "{}", refused.text);
    // An id of no item is NOT_FOUND.
    t.request(ON_HAND, json!({"i": a})).await.expect_code("NOT_FOUND");
}

#[tokio::test]
async fn any_entities_become_a_stock_ledger_through_configure_stock() {
    let t = tenant().await;
    let relation = |to: &str| json!({"relatedEntity": to, "relationKind": "MANY_TO_ONE"});
    t.define_entity("depot", "depots", vec![field("name", "TEXT", json!({}))]).await;
    t.define_entity("part", "parts", vec![field("sku", "TEXT", json!({}))]).await;
    let bookings = t
        .define_entity(
            "booking",
            "bookings",
            vec![
                field("part", "RELATION", relation("part")),
                field("depot", "RELATION", relation("depot")),
                field("qty", "NUMBER", json!({})),
                field("kind", "SELECT", json!({"options": ["Receive", "Ship"]})),
            ],
        )
        .await;
    let configure = "mutation($e: String!, $c: JSON) { configureStock(entity: $e, config: $c) }";
    let ledger = |quantity: &str, issue: &str| {
        json!({"ledger": {"item": "part", "warehouse": "depot", "quantity": quantity, "kind": "kind",
                          "receipt": "Receive", "issue": issue, "allowNegative": true}})
    };
    // Checked against the definitions: a field that is not there, an option that is not one.
    t.request(configure, json!({"e": "booking", "c": ledger("amount", "Return")}))
        .await
        .expect_field_errors(&["ledger.quantity", "ledger.issue"]);
    t.request(configure, json!({"e": "nothing", "c": ledger("qty", "Ship")})).await.expect_code("NOT_FOUND");
    let done = t.data(configure, json!({"e": "booking", "c": ledger("qty", "Ship")})).await;
    assert_eq!(done["configureStock"], json!(true));
    let depot = str_of(&t.create(&Names::new("depot", "depots"), json!({"name": "North"}), "").await["id"]);
    let part = str_of(&t.create(&Names::new("part", "parts"), json!({"sku": "P-1"}), "").await["id"]);
    let book = |kind: &str, qty: f64| json!({"part": part, "depot": depot, "qty": qty, "kind": kind});
    t.create(&bookings, book("Receive", 5.0), "").await;
    // This ledger allows negative balances.
    t.create(&bookings, book("Ship", 8.25), "").await;
    assert_eq!(on_hand(&t, &part, &depot).await, -3.25);
    // Cleared: its records move nothing any more, and the tenant has no stock query.
    t.data(configure, json!({"e": "booking", "c": null})).await;
    t.create(&bookings, book("Receive", 10.0), "").await;
    assert!(!t.request(ON_HAND, json!({"i": part})).await.errors().is_empty());
    t.data(configure, json!({"e": "booking", "c": ledger("qty", "Ship")})).await;
    assert_eq!(on_hand(&t, &part, &depot).await, -3.25);
}

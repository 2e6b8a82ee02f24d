//! FORMULA fields through GraphQL: defined and type-checked, read (computed in SQL), filtered,
//! sorted and aggregated, absent from inputs, read through a to-one relation, seen by a
//! subscription's filter and a workflow condition (computed in memory), and — on random
//! records — SQL and memory agreeing on every value, filter and order (`property`).

use serde_json::{Value, json};

use crate::harness::*;

mod edits;
mod paths;
mod property;

/// `field: message` of each field error of a `VALIDATION_FAILED` answer.
fn problems(r: &Response) -> Vec<String> {
    r.expect_code("VALIDATION_FAILED");
    let fields = r.errors()[0]["extensions"]["fields"].as_array().cloned().unwrap_or_default();
    fields.iter().map(|f| format!("{}: {}", str_of(&f["field"]), str_of(&f["message"]))).collect()
}

/// A record as answered, without its id.
fn values(mut record: Value) -> Value {
    record.as_object_mut().map(|o| o.remove("id"));
    record
}

pub(crate) fn formula(key: &str, expression: &str, result: &str) -> Value {
    field(key, "FORMULA", json!({"formula": {"expression": expression, "resultType": result}}))
}

/// Order lines: `amount = quantity * unit_price`, and formulas over it.
async fn lines(t: &TestTenant) -> Names {
    let fields = vec![
        field("name", "TEXT", json!({})),
        field("quantity", "NUMBER", json!({})),
        field("unit_price", "CURRENCY", json!({})),
        field("due", "DATE", json!({})),
        formula("amount", "quantity * unit_price", "CURRENCY"),
        formula("big", "amount > 100", "BOOLEAN"),
        formula("ship_by", "due + 3", "DATE"),
        formula("title", "UPPER(name) & ' #' & LOWER(COALESCE(name, '?'))", "TEXT"),
    ];
    t.define(entity("line", "lines", fields, json!({}))).await;
    Names::new("line", "lines")
}

const LINE: &str = "id name amount big shipBy title";

#[tokio::test]
async fn a_line_amount_is_computed_filtered_sorted_and_aggregated() {
    let t = tenant().await;
    let lines = lines(&t).await;
    let input = |name: &str, q: f64, p: &str| json!({"name": name, "quantity": q, "unitPrice": p, "due": "2026-02-27"});
    let a = t.create(&lines, input("bolt", 3.0, "0.10"), LINE).await;
    // The mutation's answer is computed in memory; the reads below in SQL.
    assert_eq!(a["amount"], json!("0.30"));
    assert_eq!(a["big"], json!(false));
    assert_eq!(a["shipBy"], json!("2026-03-02"));
    assert_eq!(a["title"], json!("BOLT #bolt"));
    let b = t.create(&lines, input("nut", 12.5, "10.00"), LINE).await;
    let c = t.create(&lines, json!({"name": "gear"}), LINE).await;
    assert_eq!(c["amount"], Value::Null, "null propagates: {c}");
    let got = t.get(&lines, &str_of(&b["id"]), LINE).await;
    assert_json_eq(
        &got,
        &json!({"id": b["id"], "name": "nut", "amount": "125.00", "big": true,
        "shipBy": "2026-03-02", "title": "NUT #nut"}),
        "read back",
    );

    let listed = t
        .list(
            &lines,
            "filter: {amount: {gt: \"0.25\"}}, orderBy: [{field: AMOUNT, direction: DESC}]",
            json!({}),
            "name amount",
        )
        .await;
    assert_eq!(pluck_str(&listed["nodes"], "name"), strings(&["nut", "bolt"]));
    let listed = t.list(&lines, "filter: {big: {eq: false}}", json!({}), "name").await;
    assert_eq!(pluck_str(&listed["nodes"], "name"), strings(&["bolt"]));
    let listed = t
        .list(
            &lines,
            "filter: {shipBy: {gte: \"2026-03-02\"}, title: {startsWith: \"NUT\"}}",
            json!({}),
            "name",
        )
        .await;
    assert_eq!(pluck_str(&listed["nodes"], "name"), strings(&["nut"]));
    let agg = t.data("{ linesAggregate { count sum { amount } max { amount } } }", json!({})).await;
    assert_json_eq(
        &agg["linesAggregate"][0],
        &json!({"count": 3, "sum": {"amount": "125.30"}, "max": {"amount": "125.00"}}),
        "aggregate",
    );

    // An update recomputes it; it is no input.
    let updated = t.update(&lines, &str_of(&a["id"]), json!({"quantity": 2000}), "amount big").await;
    assert_json_eq(&values(updated), &json!({"amount": "200.00", "big": true}), "after the update");
    // The input types have no member for it.
    t.create_raw(&lines, json!({"name": "x", "amount": "1.00"}), "id").await.expect_code("BAD_REQUEST");
    let defined = t.data("{ entity(name: \"line\") { fields { key type formula } } }", json!({})).await;
    let amount =
        defined["entity"]["fields"].as_array().and_then(|f| f.iter().find(|f| f["key"] == "amount").cloned());
    assert_json_eq(
        &amount.unwrap_or_default(),
        &json!({"key": "amount", "type": "FORMULA",
        "formula": {"expression": "quantity * unit_price", "resultType": "CURRENCY"}}),
        "its definition",
    );
}

#[tokio::test]
async fn formulas_are_type_checked_when_defined() {
    let t = tenant().await;
    lines(&t).await;
    let cases = [
        ("nope * 2", "NUMBER", "at position 0: unknown field `nope`"),
        ("quantity / name", "NUMBER", "at position 11: `/` takes numbers, not a text"),
        ("name & 'x'", "NUMBER", "the expression is a text, but resultType is NUMBER"),
        ("quantity +", "NUMBER", "at position 10: expected a value"),
        ("FOO(quantity)", "NUMBER", "at position 0: unknown function `FOO`"),
        ("IF(big, 1, 'one')", "NUMBER", "at position 11: IF mixes a number and a text"),
        ("due - name", "NUMBER", "`-` takes numbers, not a date"),
        ("TODAY(1)", "DATE", "TODAY takes 0 arguments"),
    ];
    for (expression, result, message) in cases {
        let r = t.add_field_raw("line", formula("bad", expression, result)).await;
        let errors = problems(&r);
        assert!(
            errors.iter().any(|e| e.contains("formula.expression") && e.contains(message)),
            "{expression}: {errors:?}"
        );
    }
    // A cycle, within one definition.
    let fields = vec![formula("a", "b + 1", "NUMBER"), formula("b", "a + 1", "NUMBER")];
    let r = t.define_raw(entity("loop", "loops", fields, json!({}))).await;
    let errors = problems(&r);
    assert!(
        errors.iter().any(|e| e.contains("fields[0].formula.expression") && e.contains("cycle")),
        "{errors:?}"
    );
    // What a computed field cannot take.
    let r = t
        .add_field_raw(
            "line",
            field(
                "c",
                "FORMULA",
                json!({"required": true, "formula": {"expression": "1", "resultType": "JSON"}}),
            ),
        )
        .await;
    r.expect_code("VALIDATION_FAILED");
    let r = t
        .request(
            "mutation { updateField(entity: \"line\", key: \"amount\", input: {indexed: true}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(problems(&r), ["indexed: a FORMULA field is computed: it takes no such option"]);
    // A field a formula reads cannot be removed from under it.
    let removed =
        t.request("mutation { removeField(entity: \"line\", key: \"unit_price\") { id } }", json!({})).await;
    let errors = problems(&removed);
    assert!(errors.iter().any(|e| e.contains("unknown field `unit_price`")), "{errors:?}");
}

#[tokio::test]
async fn exact_decimals_and_fields_of_a_related_record() {
    let t = tenant().await;
    let customers = t
        .define_entity(
            "customer",
            "customers",
            vec![field("name", "TEXT", json!({})), field("discount", "NUMBER", json!({}))],
        )
        .await;
    let fields = vec![
        field("customer", "RELATION", json!({"relatedEntity": "customer"})),
        field("a", "NUMBER", json!({})),
        field("b", "NUMBER", json!({})),
        formula("sum", "a + b", "NUMBER"),
        formula("exact", "a + b = 0.3", "BOOLEAN"),
        formula("who", "customer.name", "TEXT"),
        formula("net", "ROUND((a + b) * (1 - COALESCE(customer.discount, 0)), 2)", "NUMBER"),
    ];
    t.define(entity("order", "orders", fields, json!({}))).await;
    let orders = Names::new("order", "orders");
    let acme = str_of(&t.create(&customers, json!({"name": "Acme", "discount": 0.5}), "id").await["id"]);
    let made = t.create(&orders, json!({"customer": acme, "a": 0.1, "b": 0.2}), "sum exact who net").await;
    assert_json_eq(
        &values(made.clone()),
        &json!({"sum": 0.3, "exact": true, "who": "Acme", "net": 0.15}),
        "in memory",
    );
    t.create(&orders, json!({"a": 1}), "id").await;
    let listed = t
        .list(
            &orders,
            "filter: {sum: {eq: 0.3}, exact: {eq: true}, who: {eq: \"Acme\"}}",
            json!({}),
            "sum exact who net",
        )
        .await;
    assert_json_eq(
        &values(listed["nodes"][0].clone()),
        &json!({"sum": 0.3, "exact": true, "who": "Acme", "net": 0.15}),
        "in SQL",
    );
    assert_eq!(listed["nodes"].as_array().map(Vec::len), Some(1));
    // Read through a relation, to-one and reverse: computed there too.
    let notes = t
        .define_entity("note", "notes", vec![field("order", "RELATION", json!({"relatedEntity": "order"}))])
        .await;
    let order = str_of(&made["id"]);
    let note = str_of(&t.create(&notes, json!({"order": order}), "id").await["id"]);
    let via = t.get(&notes, &note, "order { sum who }").await;
    assert_json_eq(&via["order"], &json!({"sum": 0.3, "who": "Acme"}), "to-one");
    let back = t.get(&customers, &acme, "orders { nodes { net } }").await;
    assert_json_eq(&back["orders"]["nodes"], &json!([{"net": 0.15}]), "reverse");
    // The related record changes: a read computes the new value.
    t.update(&customers, &acme, json!({"name": "Acme Ltd"}), "id").await;
    let listed = t.list(&orders, "orderBy: [{field: WHO, direction: ASC}]", json!({}), "who").await;
    assert_eq!(listed["nodes"][0]["who"], json!("Acme Ltd"));
}

#[tokio::test]
async fn a_subscription_filter_and_a_workflow_condition_read_a_formula() {
    let t = tenant().await;
    let lines = lines(&t).await;
    let mut ws = t
        .subscribe(
            "subscription { lineChanged(filter: {big: {eq: true}}) { record { name amount } } }",
            json!({}),
        )
        .await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "line"},
        "condition": {"amount": {"gte": "1000"}},
        "actions": [{"type": "update_fields", "values": {"name": "large {{record.name}}"}}]
    });
    t.create_workflow("Large lines", definition).await;
    t.create(&lines, json!({"name": "small", "quantity": 1, "unitPrice": "5.00"}), "id").await;
    let big = str_of(
        &t.create(&lines, json!({"name": "huge", "quantity": 100, "unitPrice": "20.00"}), "id").await["id"],
    );
    match ws.recv(EFFECT_WAIT).await {
        WsEvent::Message(m) => {
            assert_json_eq(
                &m["payload"]["data"]["lineChanged"]["record"],
                &json!({"name": "huge", "amount": "2000.00"}),
                "the big line only",
            );
        }
        other => panic!("expected the big line, got {other:?}"),
    }
    eventually("the workflow to rename the large line", EFFECT_WAIT, async || {
        let names = pluck_str(&t.list(&lines, "", json!({}), "name").await["nodes"], "name");
        if sorted(names.clone()) == strings(&["large huge", "small"]) { Ok(()) } else { Err(names) }
    })
    .await;
    assert_eq!(t.get(&lines, &big, "name").await["name"], json!("large huge"));
}

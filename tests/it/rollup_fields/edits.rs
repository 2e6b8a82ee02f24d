//! A ROLLUP field's definition changed with `updateField` (function, measured field, filter):
//! every parent's stored value is right in the answer's own transaction (read back at once,
//! filtered on); what would change its child entity or result type is refused, and so is a
//! rollup over another rollup (no transitive maintenance), each with its input path.

use serde_json::{Value, json};

use super::{invoice, invoicing, new_invoice, new_line, rollup};
use crate::harness::*;

const UPDATE: &str =
    "mutation($i: UpdateFieldInput!) { updateField(entity: \"invoice\", key: \"total\", input: $i) { id } }";

/// Invoice number → total, as a list reads them.
async fn totals(t: &TestTenant) -> Vec<(String, Value)> {
    let list =
        t.list(&invoice(), "orderBy: [{field: NUMBER, direction: ASC}]", json!({}), "number total").await;
    list["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| (str_of(&n["number"]), n["total"].clone()))
        .collect()
}

fn expect(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect()
}

#[tokio::test]
async fn a_rollup_definition_changes_and_every_parent_is_recomputed_at_once() {
    let t = invoicing().await;
    t.add_field("invoice", rollup("total", "SUM", Some("amount"), None)).await;
    let (a, b) = (new_invoice(&t, "A").await, new_invoice(&t, "B").await);
    new_line(&t, &a, "10.00", json!({"status": "Open"})).await;
    new_line(&t, &a, "2.50", json!({"status": "Paid"})).await;
    new_line(&t, &b, "7.25", json!({"status": "Paid"})).await;
    assert_eq!(totals(&t).await, expect(&[("A", json!("12.50")), ("B", json!("7.25"))]));

    // Only the open lines: recomputed before the mutation answers.
    let open = json!({"entity": "invoice_line", "relation": "invoice", "function": "SUM", "field": "amount",
                      "filter": {"status": {"eq": "Open"}}});
    t.data(UPDATE, json!({"i": {"rollup": open}})).await;
    assert_eq!(totals(&t).await, expect(&[("A", json!("10.00")), ("B", json!("0.00"))]));
    let big = t.list(&invoice(), "filter: {total: {gt: \"5\"}}", json!({}), "number").await;
    assert_eq!(pluck_str(&big["nodes"], "number"), strings(&["A"]), "filtered on the new values");
    // Another function over the same type; the child writes keep it current from now on.
    let max = json!({"entity": "invoice_line", "relation": "invoice", "function": "MAX", "field": "amount"});
    t.data(UPDATE, json!({"i": {"rollup": max}})).await;
    assert_eq!(totals(&t).await, expect(&[("A", json!("10.00")), ("B", json!("7.25"))]));
    new_line(&t, &b, "8.00", json!({})).await;
    assert_eq!(totals(&t).await, expect(&[("A", json!("10.00")), ("B", json!("8.00"))]));
    let shown = t.data("{ entity(name: \"invoice\") { fields { key rollup } } }", json!({})).await;
    let total =
        shown["entity"]["fields"].as_array().and_then(|f| f.iter().find(|f| f["key"] == "total").cloned());
    assert_eq!(total.unwrap_or_default()["rollup"]["function"], json!("MAX"));

    // A COUNT is a NUMBER, the field a CURRENCY; a field that is not the child's; a filter
    // on a field the child lacks.
    let count = json!({"entity": "invoice_line", "relation": "invoice", "function": "COUNT"});
    t.request(UPDATE, json!({"i": {"rollup": count}}))
        .await
        .expect_code("VALIDATION_FAILED")
        .expect_field_errors(&["rollup"]);
    let nope = json!({"entity": "invoice_line", "relation": "invoice", "function": "SUM", "field": "nope"});
    t.request(UPDATE, json!({"i": {"rollup": nope}}))
        .await
        .expect_code("VALIDATION_FAILED")
        .expect_field_errors(&["rollup.field"]);
    // A formula on a rollup field, a rollup on a formula field: each takes only its own.
    t.request(UPDATE, json!({"i": {"formula": {"expression": "1", "resultType": "NUMBER"}}}))
        .await
        .expect_code("VALIDATION_FAILED")
        .expect_field_errors(&["formula"]);
    assert_eq!(totals(&t).await, expect(&[("A", json!("10.00")), ("B", json!("8.00"))]), "unchanged");
}

#[tokio::test]
async fn a_rollup_over_a_rollup_is_refused_when_defined() {
    let t = invoicing().await;
    t.add_field("invoice", rollup("total", "SUM", Some("amount"), None)).await;
    t.define(entity("customer", "customers", vec![field("name", "TEXT", json!({}))], json!({}))).await;
    t.add_field("invoice", field("customer", "RELATION", json!({"relatedEntity": "customer"}))).await;
    let over =
        json!({"rollup": {"entity": "invoice", "relation": "customer", "function": "SUM", "field": "total"}});
    let r = t.add_field_raw("customer", field("revenue", "ROLLUP", over)).await;
    r.expect_code("VALIDATION_FAILED").expect_field_errors(&["rollup.field"]);
    let message = str_of(&r.errors()[0]["extensions"]["fields"][0]["message"]);
    assert!(message.contains("cannot roll up `total`") && message.contains("ROLLUP"), "{message}");
}

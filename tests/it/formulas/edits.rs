//! A FORMULA's expression changed with `updateField`: the next read computes the new one (in
//! SQL, filters included) and the next write too (in memory); a new expression that does not
//! check, or that breaks a formula reading this one, is refused with VALIDATION_FAILED naming
//! it; a field that is no formula takes none.

use serde_json::json;

use super::{lines, problems, values};
use crate::harness::*;

const UPDATE: &str = "mutation($k: String!, $i: UpdateFieldInput!) { updateField(entity: \"line\", key: $k, input: $i) { id } }";

fn source(expression: &str, result: &str) -> serde_json::Value {
    json!({"formula": {"expression": expression, "resultType": result}})
}

#[tokio::test]
async fn a_formula_expression_changes_and_its_readers_are_checked_again() {
    let t = tenant().await;
    let lines = lines(&t).await;
    let a = str_of(
        &t.create(&lines, json!({"name": "bolt", "quantity": 3, "unitPrice": "20.00"}), "id").await["id"],
    );
    assert_eq!(values(t.get(&lines, &a, "amount big").await), json!({"amount": "60.00", "big": false}));

    t.data(UPDATE, json!({"k": "amount", "i": source("quantity * unit_price * 2", "CURRENCY")})).await;
    assert_eq!(
        values(t.get(&lines, &a, "amount big").await),
        json!({"amount": "120.00", "big": true}),
        "SQL"
    );
    let big = t.list(&lines, "filter: {amount: {gte: \"120\"}}", json!({}), "name").await;
    assert_eq!(pluck_str(&big["nodes"], "name"), strings(&["bolt"]));
    let written = t.update(&lines, &a, json!({"quantity": 1}), "amount big").await;
    assert_eq!(values(written), json!({"amount": "40.00", "big": false}), "memory");
    let shown = t.data("{ entity(name: \"line\") { fields { key formula } } }", json!({})).await;
    let amount =
        shown["entity"]["fields"].as_array().and_then(|f| f.iter().find(|f| f["key"] == "amount").cloned());
    assert_eq!(amount.unwrap_or_default()["formula"]["expression"], json!("quantity * unit_price * 2"));

    // `big` reads `amount > 100`: a text amount would break it.
    let r = t.request(UPDATE, json!({"k": "amount", "i": source("name", "TEXT")})).await;
    let errors = problems(&r);
    assert!(
        errors.iter().any(|e| e.starts_with("formula: the formula `line.big` would no longer check")),
        "{errors:?}"
    );
    let r = t.request(UPDATE, json!({"k": "amount", "i": source("quantity *", "CURRENCY")})).await;
    assert!(problems(&r).iter().any(|e| e.starts_with("formula.expression: at position 10")), "{r:?}");
    let r = t.request(UPDATE, json!({"k": "amount", "i": source("1", "JSON")})).await;
    assert_eq!(
        problems(&r),
        ["formula.resultType: must be NUMBER, CURRENCY, TEXT, DATE, DATETIME or BOOLEAN"]
    );
    let r = t.request(UPDATE, json!({"k": "name", "i": source("1", "NUMBER")})).await;
    assert_eq!(problems(&r), ["formula: only FORMULA fields take a formula"]);
    assert_eq!(t.get(&lines, &a, "amount").await["amount"], json!("40.00"), "nothing changed");
}

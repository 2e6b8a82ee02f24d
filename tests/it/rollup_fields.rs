//! ROLLUP fields (`invoice.total` = SUM of `invoice_line.amount` over `invoice_line.invoice`):
//! kept in the transaction of every child write — create, update of the measure, a line moved
//! to another invoice, a filter match changing, delete, restore — exact for money, right after
//! 100 concurrent line writes (compared with a recomputation from the lines themselves),
//! filterable and sortable like a stored field, back-filled when defined over existing data,
//! pushed to the parent's subscribers, and refused with their input paths when ill-defined.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::harness::*;

mod edits;

fn invoice() -> Names {
    Names::new("invoice", "invoices")
}

fn line() -> Names {
    Names::new("invoice_line", "invoice_lines")
}

/// A ROLLUP `FieldInput` over `invoice_line.invoice`.
fn rollup(key: &str, function: &str, measured: Option<&str>, filter: Option<Value>) -> Value {
    let mut spec = json!({"entity": "invoice_line", "relation": "invoice", "function": function});
    if let Some(m) = measured {
        spec["field"] = json!(m);
    }
    if let Some(f) = filter {
        spec["filter"] = f;
    }
    field(key, "ROLLUP", json!({ "rollup": spec }))
}

/// A tenant with invoices and their lines (no rollup fields yet).
async fn invoicing() -> TestTenant {
    let t = tenant().await;
    t.define(entity("invoice", "invoices", vec![field("number", "TEXT", json!({}))], json!({}))).await;
    t.define(entity(
        "invoice_line",
        "invoice_lines",
        vec![
            field("invoice", "RELATION", json!({"relatedEntity": "invoice"})),
            field("amount", "CURRENCY", json!({})),
            field("quantity", "NUMBER", json!({})),
            field("status", "SELECT", json!({"options": ["Open", "Paid"]})),
            field("due", "DATE", json!({})),
        ],
        json!({}),
    ))
    .await;
    t
}

/// `12.34` ↔ 1234 cents.
fn cents(s: &str) -> i64 {
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    let sign = if whole.starts_with('-') { -1 } else { 1 };
    let whole: i64 = whole.trim_start_matches('-').parse().expect("whole");
    let frac: i64 = format!("{frac:0<2}")[..2].parse().expect("cents");
    sign * (whole * 100 + frac)
}

fn money(c: i64) -> String {
    format!("{}{}.{:02}", if c < 0 { "-" } else { "" }, c.abs() / 100, c.abs() % 100)
}

async fn new_invoice(t: &TestTenant, number: &str) -> String {
    str_of(&t.create(&invoice(), json!({ "number": number }), "").await["id"])
}

async fn new_line(t: &TestTenant, inv: &str, amount: &str, extra: Value) -> String {
    let mut input = json!({ "invoice": inv, "amount": amount });
    merge(&mut input, extra);
    str_of(&t.create(&line(), input, "").await["id"])
}

/// Invoice id → (total, lineCount) as the server stores them.
async fn stored(t: &TestTenant) -> HashMap<String, (Value, Value)> {
    let list = t.list(&invoice(), "first: 500", json!({}), "total lineCount").await;
    list["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| (str_of(&n["id"]), (n["total"].clone(), n["lineCount"].clone())))
        .collect()
}

/// Invoice id → (total, lineCount) recomputed from the live lines.
async fn recomputed(t: &TestTenant, invoices: &[String]) -> HashMap<String, (Value, Value)> {
    let list = t.list(&line(), "first: 500", json!({}), "amount invoice { id }").await;
    let mut sums: HashMap<String, (i64, i64)> = invoices.iter().map(|i| (i.clone(), (0, 0))).collect();
    for n in list["nodes"].as_array().expect("nodes") {
        let entry = sums.entry(str_of(&n["invoice"]["id"])).or_default();
        entry.0 += cents(n["amount"].as_str().expect("amount"));
        entry.1 += 1;
    }
    // A COUNT is a NUMBER: a GraphQL Float.
    sums.into_iter().map(|(k, (c, n))| (k, (json!(money(c)), json!(n as f64)))).collect()
}

#[tokio::test]
async fn invoice_totals_stay_exact_under_100_concurrent_line_writes() {
    let t = invoicing().await;
    t.add_field("invoice", rollup("total", "SUM", Some("amount"), None)).await;
    t.add_field("invoice", rollup("line_count", "COUNT", None, None)).await;
    let mut invoices = Vec::new();
    for i in 0..3 {
        invoices.push(new_invoice(&t, &format!("INV-{i}")).await);
    }
    let created = t.get(&invoice(), &invoices[0], "total lineCount").await;
    assert_eq!((&created["total"], &created["lineCount"]), (&json!("0.00"), &json!(0.0)), "{created}");
    let mut lines = Vec::new();
    for i in 0..50usize {
        let amount = money((i as i64 * 7919) % 100_000 + 1);
        lines.push(new_line(&t, &invoices[i % 3], &amount, json!({})).await);
    }
    assert_eq!(stored(&t).await, recomputed(&t, &invoices).await, "after sequential creates");

    // 100 writes at once: creates, amount changes, moves to another invoice, deletes.
    let mut writers = Vec::new();
    for i in 0..100usize {
        let (t, invoices, lines) = (&t, &invoices, &lines);
        writers.push(async move {
            let amount = money((i as i64 * 104_729) % 50_000 + 3);
            let k = i / 4;
            match i % 4 {
                0 => {
                    new_line(t, &invoices[k % 3], &amount, json!({})).await;
                }
                1 => {
                    t.update(&line(), &lines[k % 15], json!({ "amount": amount }), "").await;
                }
                2 => {
                    let input = json!({ "invoice": invoices[(k + 1) % 3], "amount": amount });
                    t.update(&line(), &lines[15 + k % 10], input, "").await;
                }
                _ => t.delete(&line(), &lines[25 + k]).await,
            }
        });
    }
    futures_util::future::join_all(writers).await;
    let after = stored(&t).await;
    assert_eq!(after, recomputed(&t, &invoices).await, "after 100 concurrent line writes");
    let total_lines: f64 = after.values().map(|(_, n)| n.as_f64().expect("count")).sum();
    assert_eq!(total_lines, 50.0 + 25.0 - 25.0, "25 creates and 25 deletes");

    // A restore counts the line again.
    t.restore(&line(), &lines[25]).await;
    assert_eq!(stored(&t).await, recomputed(&t, &invoices).await, "after a restore");
}

#[tokio::test]
async fn count_with_a_filter_min_max_avg_and_a_moved_line() {
    let t = invoicing().await;
    let paid = json!({"status": {"eq": "Paid"}});
    t.add_field("invoice", rollup("paid_lines", "COUNT", None, Some(paid))).await;
    t.add_field("invoice", rollup("smallest", "MIN", Some("amount"), None)).await;
    t.add_field("invoice", rollup("largest", "MAX", Some("amount"), None)).await;
    t.add_field("invoice", rollup("average", "AVG", Some("amount"), None)).await;
    t.add_field("invoice", rollup("mean_quantity", "AVG", Some("quantity"), None)).await;
    t.add_field("invoice", rollup("first_due", "MIN", Some("due"), None)).await;
    let (a, b) = (new_invoice(&t, "A").await, new_invoice(&t, "B").await);
    let sel = "paidLines smallest largest average meanQuantity firstDue";
    let none = t.get(&invoice(), &a, sel).await;
    assert_eq!(
        none,
        json!({"id": a, "paidLines": 0.0, "smallest": null, "largest": null, "average": null,
               "meanQuantity": null, "firstDue": null})
    );

    let l1 = new_line(&t, &a, "10.00", json!({"status": "Paid", "quantity": 1, "due": "2027-03-01"})).await;
    let l2 = new_line(&t, &a, "0.01", json!({"status": "Open", "quantity": 2, "due": "2027-01-15"})).await;
    new_line(&t, &a, "0.02", json!({"quantity": 4})).await;
    let got = t.get(&invoice(), &a, sel).await;
    // AVG of money is exact and rounded half away from zero: 10.03 / 3 = 3.343… → 3.34.
    assert_eq!(
        got,
        json!({"id": a, "paidLines": 1.0, "smallest": "0.01", "largest": "10.00", "average": "3.34",
               "meanQuantity": 7.0 / 3.0, "firstDue": "2027-01-15"})
    );

    // The filter's match changes: Open → Paid counts it.
    t.update(&line(), &l2, json!({"status": "Paid"}), "").await;
    assert_eq!(t.get(&invoice(), &a, "paidLines").await["paidLines"], json!(2.0));

    // A line moved to another invoice leaves one and enters the other, in one write.
    t.update(&line(), &l1, json!({"invoice": b}), "").await;
    let (got_a, got_b) = (t.get(&invoice(), &a, sel).await, t.get(&invoice(), &b, sel).await);
    assert_eq!(
        (got_a["paidLines"].clone(), got_a["largest"].clone(), got_a["average"].clone()),
        (json!(1.0), json!("0.02"), json!("0.02")),
        "{got_a}"
    );
    assert_eq!(
        (got_b["paidLines"].clone(), got_b["smallest"].clone(), got_b["firstDue"].clone()),
        (json!(1.0), json!("10.00"), json!("2027-03-01")),
        "{got_b}"
    );

    // The last line gone: back to no value.
    t.delete(&line(), &l1).await;
    let gone = t.get(&invoice(), &b, sel).await;
    assert_eq!((gone["paidLines"].clone(), gone["largest"].clone()), (json!(0.0), Value::Null), "{gone}");
}

#[tokio::test]
async fn invoices_filter_and_sort_by_their_totals() {
    let t = invoicing().await;
    t.add_field("invoice", rollup("total", "SUM", Some("amount"), None)).await;
    let mut ids = HashMap::new();
    for (number, amounts) in
        [("small", vec!["1.00", "2.50"]), ("big", vec!["900.00", "0.99"]), ("mid", vec!["99.99"])]
    {
        let id = new_invoice(&t, number).await;
        for a in amounts {
            new_line(&t, &id, a, json!({})).await;
        }
        ids.insert(number, id);
    }
    new_invoice(&t, "empty").await;
    let vars =
        json!({"filter": {"total": {"gt": "5"}}, "orderBy": [{"field": "TOTAL", "direction": "DESC"}]});
    let list = t.list(&invoice(), "filter: $filter, orderBy: $orderBy", vars, "number total").await;
    assert_eq!(pluck_str(&list["nodes"], "number"), strings(&["big", "mid"]), "{list}");
    assert_eq!(pluck_str(&list["nodes"], "total"), strings(&["900.99", "99.99"]));
    let asc = json!({"orderBy": [{"field": "TOTAL", "direction": "ASC"}]});
    let list = t.list(&invoice(), "orderBy: $orderBy", asc, "number").await;
    assert_eq!(pluck_str(&list["nodes"], "number"), strings(&["empty", "small", "mid", "big"]));
    let sums = t.data("{ invoicesAggregate { count sum { total } } }", json!({})).await;
    assert_eq!(sums["invoicesAggregate"][0]["sum"]["total"], json!("1004.48"), "{sums}");
}

#[tokio::test]
async fn a_rollup_defined_over_existing_lines_is_filled_at_once() {
    let t = invoicing().await;
    let (a, b) = (new_invoice(&t, "A").await, new_invoice(&t, "B").await);
    new_line(&t, &a, "5.25", json!({})).await;
    new_line(&t, &a, "4.75", json!({})).await;
    t.add_field("invoice", rollup("total", "SUM", Some("amount"), None)).await;
    t.add_field("invoice", rollup("line_count", "COUNT", Some("amount"), None)).await;
    assert_eq!(
        t.get(&invoice(), &a, "total lineCount").await,
        json!({"id": a, "total": "10.00", "lineCount": 2.0})
    );
    assert_eq!(
        t.get(&invoice(), &b, "total lineCount").await,
        json!({"id": b, "total": "0.00", "lineCount": 0.0})
    );
    // Described as defined, and typed ROLLUP.
    let defs = t.data("{ entity(name: \"invoice\") { fields { key type rollup } } }", json!({})).await;
    let fields = defs["entity"]["fields"].clone();
    let total =
        fields.as_array().expect("fields").iter().find(|f| f["key"] == json!("total")).expect("total");
    assert_eq!(
        total,
        &json!({"key": "total", "type": "ROLLUP",
                "rollup": {"entity": "invoice_line", "relation": "invoice", "function": "SUM", "field": "amount"}})
    );
}

#[tokio::test]
async fn the_parents_subscribers_hear_of_a_new_total() {
    let t = invoicing().await;
    t.add_field("invoice", rollup("total", "SUM", Some("amount"), None)).await;
    let a = new_invoice(&t, "A").await;
    let query = "subscription { invoiceChanged { kind changedFields record { id total } } }";
    let mut socket = t.subscribe(query, json!({})).await;
    new_line(&t, &a, "12.30", json!({})).await;
    // The invoice's own creation may still be on its way to the new subscriber: skip it.
    let mut event = socket.next_data("1").await["invoiceChanged"].clone();
    if event["kind"] == json!("CREATED") {
        event = socket.next_data("1").await["invoiceChanged"].clone();
    }
    assert_eq!(
        event,
        json!({"kind": "UPDATED", "changedFields": ["total"], "record": {"id": a, "total": "12.30"}})
    );
}

#[tokio::test]
async fn ill_defined_rollups_and_writes_to_them_are_refused() {
    let t = invoicing().await;
    let cases: Vec<(Value, &str)> = vec![
        (field("total", "ROLLUP", json!({})), "rollup"),
        (rollup("total", "SUM", None, None), "rollup.field"),
        (rollup("total", "MEDIAN", Some("amount"), None), "rollup.function"),
        (rollup("total", "SUM", Some("status"), None), "rollup.field"),
        (rollup("total", "AVG", Some("due"), None), "rollup.field"),
        (rollup("total", "SUM", Some("nope"), None), "rollup.field"),
        (rollup("total", "COUNT", None, Some(json!({"nope": {"eq": 1}}))), "rollup.filter.nope"),
        (rollup("total", "COUNT", None, Some(json!({"status": {"gt": "Open"}}))), "rollup.filter.status.gt"),
        (
            field(
                "total",
                "ROLLUP",
                json!({"rollup": {"entity": "nothing", "relation": "invoice", "function": "COUNT"}}),
            ),
            "rollup.entity",
        ),
        (
            field(
                "total",
                "ROLLUP",
                json!({"rollup": {"entity": "invoice_line", "relation": "amount", "function": "COUNT"}}),
            ),
            "rollup.relation",
        ),
        (
            field(
                "total",
                "ROLLUP",
                json!({"required": true, "rollup": {"entity": "invoice_line", "relation": "invoice", "function": "COUNT"}}),
            ),
            "required",
        ),
        (field("total", "NUMBER", json!({"rollup": {"entity": "invoice_line"}})), "rollup"),
    ];
    for (input, path) in cases {
        let r = t.add_field_raw("invoice", input.clone()).await;
        r.expect_code("VALIDATION_FAILED");
        assert!(r.field_errors().contains(&path.to_owned()), "{input}: {:?}", r.field_errors());
    }
    // A rollup pointing the wrong way (the line's relation points at invoices, not lines).
    let r = t
        .add_field_raw(
            "invoice_line",
            field(
                "n",
                "ROLLUP",
                json!({"rollup": {"entity": "invoice_line", "relation": "invoice", "function": "COUNT"}}),
            ),
        )
        .await;
    r.expect_code("VALIDATION_FAILED");

    t.add_field("invoice", rollup("total", "SUM", Some("amount"), None)).await;
    // Read-only: no input type has it.
    let a = new_invoice(&t, "A").await;
    t.update_raw(&invoice(), &a, json!({"total": "5.00"}), "").await.expect_code("BAD_REQUEST");
    // Nor can a change make it take input.
    let q = "mutation { updateField(entity: \"invoice\", key: \"total\", input: {required: true}) { id } }";
    t.request(q, json!({})).await.expect_field_errors(&["required"]);
    // What it reads cannot be removed from under it.
    let removed =
        t.gql("mutation { removeField(entity: \"invoice_line\", key: \"amount\") { id } }", json!({})).await;
    assert_eq!(removed["errors"][0]["extensions"]["code"], json!("CONFLICT"), "{removed}");
}

/// A bulk update of lines under two invoices and single updates of one line, at once, round
/// after round: the bulk write reads and locks every parent before its first record (as a
/// single write locks its parents before the tenant's audit head), so neither waits for the
/// other in the opposite order, none fails, and the totals match the lines.
#[tokio::test]
async fn concurrent_single_writes_to_the_same_rollup_parents_never_deadlock() {
    let t = invoicing().await;
    t.add_field("invoice", rollup("total", "SUM", Some("amount"), None)).await;
    t.add_field("invoice", rollup("line_count", "COUNT", None, None)).await;
    let invoices = vec![new_invoice(&t, "A").await, new_invoice(&t, "B").await];
    let mut lines = Vec::new();
    for i in 0..6 {
        lines.push(new_line(&t, &invoices[i % 2], "1.00", json!({})).await);
    }
    let bulk = "mutation($a: String!) { updateInvoiceLines(filter: {}, input: {amount: $a}) { count } }";
    let single = "mutation($id: ID!, $a: String!) { updateInvoiceLine(id: $id, input: {amount: $a}) { id } }";
    for round in 0..8 {
        let (whole, one, other) = tokio::join!(
            t.request(bulk, json!({ "a": format!("{round}.50") })),
            t.request(single, json!({ "id": lines[1], "a": format!("{round}.25") })),
            t.request(single, json!({ "id": lines[4], "a": format!("{round}.75") })),
        );
        for r in [&whole, &one, &other] {
            assert!(r.body["errors"].is_null(), "round {round}: {}", r.text);
        }
    }
    assert_eq!(stored(&t).await, recomputed(&t, &invoices).await);
}

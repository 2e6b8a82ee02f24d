//! `<entities>Aggregate(filter, groupBy)`: count, sum, avg, min and max of NUMBER and CURRENCY
//! fields — overall, per group, per two groups, under a filter, and under a role's row rule and
//! field access — each checked against a computation made here from the records created.
//! Money is compared as exact minor units.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::fixtures::define_orders;
use crate::harness::*;

/// One order as created: (status, rush, total in cents or none, quantity or none).
pub(crate) type Order = (&'static str, bool, Option<i64>, Option<i64>);

pub(crate) fn orders() -> Vec<Order> {
    let statuses = ["open", "paid", "void"];
    (0..30)
        .map(|i: i64| {
            let total = (i % 7 != 3).then_some((i * 1999 + 5) % 100_000 - 20_000);
            let qty = (i % 5 != 0).then_some(i % 9 + 1);
            (statuses[(i % 3) as usize], i % 4 == 0, total, qty)
        })
        .collect()
}

pub(crate) fn cents(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", v.abs() / 100, v.abs() % 100)
}

/// What the server should answer for a set of orders.
pub(crate) fn expected(rows: &[&Order]) -> Value {
    let totals: Vec<i64> = rows.iter().filter_map(|o| o.2).collect();
    let qtys: Vec<i64> = rows.iter().filter_map(|o| o.3).collect();
    let money = |v: Option<i64>| v.map_or(Value::Null, |c| json!(cents(c)));
    let avg_cents = (!totals.is_empty()).then(|| {
        let (sum, n) = (totals.iter().sum::<i64>(), totals.len() as i64);
        // half away from zero
        let q = sum / n;
        let r = sum % n;
        if 2 * r.abs() >= n { q + sum.signum() } else { q }
    });
    let float = |v: Option<f64>| v.map_or(Value::Null, |f| json!(f));
    json!({
        "count": rows.len(),
        "sum": {"total": money((!totals.is_empty()).then(|| totals.iter().sum())),
                "qty": float((!qtys.is_empty()).then(|| qtys.iter().sum::<i64>() as f64))},
        "avg": {"total": money(avg_cents),
                "qty": float((!qtys.is_empty()).then(|| qtys.iter().sum::<i64>() as f64 / qtys.len() as f64))},
        "min": {"total": money(totals.iter().min().copied()), "qty": float(qtys.iter().min().map(|&q| q as f64))},
        "max": {"total": money(totals.iter().max().copied()), "qty": float(qtys.iter().max().map(|&q| q as f64))},
    })
}

pub(crate) const FIGURES: &str =
    "count sum { total qty } avg { total qty } min { total qty } max { total qty }";

async fn setup() -> TestTenant {
    let t = tenant().await;
    let names = define_orders(&t, vec![]).await;
    for (status, rush, total, qty) in orders() {
        let mut input = json!({"status": status, "rush": rush});
        if let Some(c) = total {
            input["total"] = json!(cents(c));
        }
        if let Some(q) = qty {
            input["qty"] = json!(q);
        }
        t.create(&names, input, "").await;
    }
    t
}

pub(crate) fn without_group(row: &Value) -> Value {
    let mut r = row.clone();
    r.as_object_mut().expect("an aggregate row").remove("group");
    r
}

#[tokio::test]
async fn aggregates_match_a_computation_in_the_test() {
    let t = setup().await;
    let all = orders();
    let data = t.data(&format!("{{ ordersAggregate {{ group {FIGURES} }} }}"), json!({})).await;
    let rows = data["ordersAggregate"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["group"], json!({}));
    assert_json_eq(&without_group(&rows[0]), &expected(&all.iter().collect::<Vec<_>>()), "overall");

    let data = t
        .data(&format!("{{ ordersAggregate(groupBy: [STATUS, RUSH]) {{ group {FIGURES} }} }}"), json!({}))
        .await;
    let mut groups: BTreeMap<(String, bool), Vec<&Order>> = BTreeMap::new();
    for o in &all {
        groups.entry((o.0.to_owned(), o.1)).or_default().push(o);
    }
    let rows = data["ordersAggregate"].as_array().expect("rows");
    assert_eq!(rows.len(), groups.len());
    for row in rows {
        let key = (str_of(&row["group"]["status"]), row["group"]["rush"].as_bool().expect("rush"));
        assert_json_eq(&without_group(row), &expected(&groups[&key]), &format!("group {key:?}"));
    }

    let filtered = t
        .data(
            &format!("{{ ordersAggregate(filter: {{status: {{in: [\"open\", \"paid\"]}}}}, groupBy: [STATUS]) {{ group {FIGURES} }} }}"),
            json!({}),
        )
        .await;
    let rows = filtered["ordersAggregate"].as_array().expect("rows");
    assert_eq!(pluck_group(rows, "status"), strings(&["open", "paid"]));
    for row in rows {
        let status = str_of(&row["group"]["status"]);
        let matching: Vec<&Order> = all.iter().filter(|o| o.0 == status).collect();
        assert_json_eq(&without_group(row), &expected(&matching), &status);
    }

    let none = t
        .data(&format!("{{ ordersAggregate(filter: {{qty: {{gt: 1000}}}}) {{ {FIGURES} }} }}"), json!({}))
        .await;
    assert_json_eq(&none["ordersAggregate"][0], &expected(&[]), "no matching records");
}

fn pluck_group(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter().map(|r| str_of(&r["group"][key])).collect()
}

#[tokio::test]
async fn aggregates_respect_row_rules_and_field_access() {
    let t = setup().await;
    t.data(
        "mutation($p: JSON!) { createRole(input: {name: \"cashier\", permissions: $p}) { id } }",
        json!({"p": {"order": {"actions": ["read"], "where": {"status": {"eq": "paid"}}, "fields": {"qty": "none"}}}}),
    )
    .await;
    let cashier = Auth::Bearer(str_of(&t.invite("cashier").await["accessToken"]));
    let data = t
        .api
        .graphql(&cashier, "{ ordersAggregate(groupBy: [STATUS]) { group count sum { total } } }", json!({}))
        .await
        .data();
    let paid: Vec<&Order> =
        orders().iter().filter(|o| o.0 == "paid").cloned().collect::<Vec<_>>().leak().iter().collect();
    let rows = data["ordersAggregate"].as_array().expect("rows");
    assert_eq!(pluck_group(rows, "status"), strings(&["paid"]), "only the rows the role may read");
    assert_eq!(rows[0]["count"], json!(paid.len()));
    assert_eq!(rows[0]["sum"]["total"], expected(&paid)["sum"]["total"]);
    // A hidden field has no figures and cannot be grouped by.
    t.api
        .graphql(&cashier, "{ ordersAggregate { sum { qty } } }", json!({}))
        .await
        .expect_code("BAD_REQUEST");
    t.api
        .graphql(&cashier, "{ ordersAggregate(groupBy: [QTY]) { count } }", json!({}))
        .await
        .expect_code("BAD_REQUEST");
}

#[tokio::test]
async fn aggregates_group_by_owner() {
    let t = setup().await;
    let member = t.invite("member").await;
    let member_auth = Auth::Bearer(str_of(&member["accessToken"]));
    let create = "mutation { createOrder(input: {status: \"open\", total: \"1.05\"}) { id } }";
    for _ in 0..2 {
        t.api.graphql(&member_auth, create, json!({})).await.data();
    }
    let data = t.data("{ ordersAggregate(groupBy: [OWNER]) { group count } }", json!({})).await;
    let by_owner: BTreeMap<String, i64> = data["ordersAggregate"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (str_of(&r["group"]["owner"]), r["count"].as_i64().expect("count")))
        .collect();
    assert_eq!(by_owner[&t.user_id], 30);
    assert_eq!(by_owner[&str_of(&member["user"]["id"])], 2);
}

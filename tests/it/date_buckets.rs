//! Aggregates by date bucket in the tenant's time zone: `groupByDate: {field, bucket}` with
//! day, week, month, quarter and year, for a DATE_TIME field, `createdAt` and a DATE field,
//! every function checked against a computation made here. The tenant is in Asia/Kolkata
//! (UTC+05:30), and the instants sit around local midnights, so a UTC bucketing would differ.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use crate::aggregates::{FIGURES, Order, cents, expected, orders, without_group};
use crate::fixtures::define_orders;
use crate::harness::*;

/// When order `i` was placed: every 9 days and a bit from 28 Dec 2025, 18:25 UTC (23:55 in
/// India), so many sit minutes before or after a local midnight.
fn placed_at(i: i64) -> DateTime<Utc> {
    let base = Utc.with_ymd_and_hms(2025, 12, 28, 18, 25, 0).single().expect("instant");
    base + Duration::days(i * 9) + Duration::minutes((i % 3) * 7)
}

fn local(t: DateTime<Utc>) -> NaiveDate {
    let ist = FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("offset");
    t.with_timezone(&ist).date_naive()
}

fn label(d: NaiveDate, bucket: &str) -> String {
    match bucket {
        "DAY" => d.format("%Y-%m-%d").to_string(),
        "WEEK" => format!("{}-W{:02}", d.iso_week().year(), d.iso_week().week()),
        "MONTH" => d.format("%Y-%m").to_string(),
        "QUARTER" => format!("{}-Q{}", d.year(), (d.month() - 1) / 3 + 1),
        _ => d.year().to_string(),
    }
}

#[tokio::test]
async fn date_buckets_follow_the_tenant_zone_for_every_function() {
    let t = tenant().await;
    let zone = t
        .data("mutation { updateTenant(input: {timeZone: \"Asia/Kolkata\"}) { timeZone } }", json!({}))
        .await;
    assert_eq!(zone["updateTenant"]["timeZone"], json!("Asia/Kolkata"));
    t.request("mutation { updateTenant(input: {timeZone: \"Mars/Olympus\"}) { timeZone } }", json!({}))
        .await
        .expect_field_errors(&["timeZone"]);
    let placed = field("placed_at", "DATETIME", json!({"indexed": true}));
    let names = define_orders(&t, vec![placed, field("due", "DATE", json!({}))]).await;
    let all = orders();
    for (i, (status, rush, total, qty)) in all.iter().enumerate() {
        let at = placed_at(i as i64);
        let mut input = json!({"status": status, "rush": rush,
            "placedAt": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "due": local(at).format("%Y-%m-%d").to_string()});
        if let Some(c) = total {
            input["total"] = json!(cents(*c));
        }
        if let Some(q) = qty {
            input["qty"] = json!(q);
        }
        t.create(&names, input, "").await;
    }
    for bucket in ["DAY", "WEEK", "MONTH", "QUARTER", "YEAR"] {
        let mut groups: BTreeMap<String, Vec<&Order>> = BTreeMap::new();
        for (i, o) in all.iter().enumerate() {
            groups.entry(label(local(placed_at(i as i64)), bucket)).or_default().push(o);
        }
        for (field, key) in [("PLACED_AT", "placedAt"), ("DUE", "due")] {
            let q = format!(
                "{{ ordersAggregate(groupByDate: {{field: {field}, bucket: {bucket}}}) {{ group {FIGURES} }} }}"
            );
            let rows = t.data(&q, json!({})).await["ordersAggregate"].as_array().cloned().expect("rows");
            let got: Vec<String> = rows.iter().map(|r| str_of(&r["group"][key])).collect();
            let want: Vec<&String> = groups.keys().collect();
            assert_eq!(got.iter().collect::<Vec<_>>(), want, "{field} by {bucket}");
            for row in &rows {
                let k = str_of(&row["group"][key]);
                assert_json_eq(&without_group(row), &expected(&groups[&k]), &format!("{field} {bucket} {k}"));
            }
        }
    }
    // With other groups and a filter, by createdAt: all created today (local).
    let q = "{ ordersAggregate(filter: {status: {eq: \"paid\"}}, groupBy: [RUSH], groupByDate: {field: CREATED_AT, bucket: YEAR}) { group count } }";
    let rows = t.data(q, json!({})).await["ordersAggregate"].clone();
    let year = local(Utc::now()).year().to_string();
    let paid: Vec<&Order> = all.iter().filter(|o| o.0 == "paid").collect();
    let want: Vec<Value> = [false, true]
        .iter()
        .filter_map(|&rush| {
            let n = paid.iter().filter(|o| o.1 == rush).count();
            (n > 0).then(|| json!({"group": {"rush": rush, "createdAt": year}, "count": n}))
        })
        .collect();
    assert_eq!(rows, json!(want));
    // Not a date: refused.
    let bad = "{ ordersAggregate(groupByDate: {field: STATUS, bucket: DAY}) { count } }";
    t.request(bad, json!({})).await.expect_code("BAD_REQUEST");
}

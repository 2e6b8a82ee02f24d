//! The demo tenant `alphery serve` seeds into an empty database (`SEED_DEMO=true`), seen as
//! its user sees it: every widget of every dashboard shows data that makes sense — the
//! finance figures are quotes and invoices with lines that add up, "Open activities" lists
//! only open ones, soonest due first — and a second start on the same database adds nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;
use crate::processes::{Scratch, free_port, process_env, ready_server, spawn};

const DASHBOARDS: &str = "{ dashboards { key widgets { type title entity config data } } }";

/// How many records of each demo entity there are.
const COUNTS: &str = "{ accounts { totalCount } contacts { totalCount } leads { totalCount } \
    deals { totalCount } activities { totalCount } products { totalCount } quotes { totalCount } \
    invoices { totalCount } invoiceLines { totalCount } }";

/// A figure as the API gives it: a number, or a decimal string for money.
pub(crate) fn number(v: &Value) -> f64 {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or(f64::NAN)
}

/// A template field key as the GraphQL name widget data uses (`due_at` → `dueAt`).
fn camel(key: &str) -> String {
    let mut parts = key.split('_');
    let mut name = parts.next().unwrap_or_default().to_owned();
    for p in parts {
        let mut chars = p.chars();
        name.extend(chars.next().map(|c| c.to_ascii_uppercase()));
        name.push_str(chars.as_str());
    }
    name
}

/// The data of the widget titled `title` on the dashboard `key`.
pub(crate) fn widget<'a>(boards: &'a Value, key: &str, title: &str) -> &'a Value {
    let board = boards.as_array().into_iter().flatten().find(|b| b["key"] == json!(key));
    let found = board
        .and_then(|b| b["widgets"].as_array())
        .into_iter()
        .flatten()
        .find(|w| w["title"] == json!(title));
    &found.unwrap_or_else(|| panic!("no widget `{title}` on `{key}`: {boards}"))["data"]
}

/// Whatever its kind, a widget shows something: a positive figure, a chart with positive
/// points, records with every listed field, a pipeline with deals and money in it.
fn assert_shows_something(board: &str, w: &Value) {
    let (title, data) = (&w["title"], &w["data"]);
    let what = format!("`{board}` / {title}: {data}");
    match w["type"].as_str() {
        Some("METRIC") => assert!(number(&data["value"]) > 0.0, "{what}"),
        Some("CHART") => {
            let series =
                data["series"].as_array().filter(|s| !s.is_empty()).unwrap_or_else(|| panic!("{what}"));
            assert!(series.iter().all(|p| !p["key"].is_null() && number(&p["value"]) > 0.0), "{what}");
        }
        Some("RECENT") => {
            let records =
                data["records"].as_array().filter(|r| !r.is_empty()).unwrap_or_else(|| panic!("{what}"));
            let fields: Vec<String> =
                w["config"]["fields"].as_array().into_iter().flatten().map(|f| camel(&str_of(f))).collect();
            assert!(records.iter().all(|r| fields.iter().all(|f| !r[f].is_null())), "{what}");
        }
        Some("PIPELINE") => {
            let stages = data["stages"].as_array().into_iter().flatten();
            let (count, total) = stages
                .fold((0, 0.0), |(c, t), s| (c + s["count"].as_i64().unwrap_or(0), t + number(&s["total"])));
            assert!(count > 0 && total > 0.0, "{what}");
        }
        other => panic!("an unknown widget type {other:?}: {what}"),
    }
}

/// The values of `field` among the groups of an aggregate, with their counts.
fn groups(rows: &Value, field: &str) -> BTreeMap<String, i64> {
    rows.as_array()
        .into_iter()
        .flatten()
        .map(|r| (str_of(&r["group"][field]), r["count"].as_i64().unwrap_or(0)))
        .collect()
}

#[tokio::test]
async fn every_dashboard_of_the_demo_shows_sensible_data_and_a_second_start_adds_nothing() {
    let scratch = Scratch::new("demo").await;
    let (dir, url) = (scratch.dir.clone(), scratch.url.clone());
    let port = free_port();
    let own =
        [("BIND", format!("127.0.0.1:{port}")), ("WORKERS", "false".into()), ("SEED_DEMO", "true".into())];
    let env = process_env(&dir, &url, &own);
    let first = spawn(&["serve"], &env);
    let server = ready_server("the server seeding the demo", port, Duration::from_secs(180), &first).await;
    let api = Api::new(server);
    let token = str_of(
        &login(&api, "demo", "demo@alphery.local", "alphery-demo").await.data()["login"]["accessToken"],
    );
    let demo = Auth::Bearer(token);

    // Every dashboard the demo has, every widget on it.
    let boards = api.graphql(&demo, DASHBOARDS, json!({})).await.data()["dashboards"].clone();
    let keys: BTreeSet<String> = boards.as_array().into_iter().flatten().map(|b| str_of(&b["key"])).collect();
    assert_eq!(keys, BTreeSet::from(["finance".to_owned(), "sales".to_owned()]), "{boards}");
    for b in boards.as_array().into_iter().flatten() {
        let widgets = b["widgets"].as_array().filter(|w| !w.is_empty()).expect("widgets");
        for w in widgets {
            assert_shows_something(&str_of(&b["key"]), w);
        }
    }

    // "Open activities": open ones only, soonest due first — and the demo has done ones.
    let open = widget(&boards, "sales", "Open activities")["records"].clone();
    let ids: Vec<String> = open.as_array().into_iter().flatten().map(|r| str_of(&r["id"])).collect();
    let q = "query($ids: [ID!]) { listed: activities(filter: {id: {in: $ids}}) { nodes { id done } } \
             done: activities(filter: {done: {eq: true}}) { totalCount } \
             open: activities(filter: {done: {eq: false}}) { totalCount } }";
    let a = api.graphql(&demo, q, json!({"ids": ids})).await.data();
    let listed = a["listed"]["nodes"].as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), ids.len(), "{a}");
    assert!(
        listed.iter().all(|r| r["done"] == json!(false)),
        "a done activity among the open ones: {a}\n{open}"
    );
    assert!(a["done"]["totalCount"].as_i64() > Some(0), "{a}");
    assert_eq!(ids.len() as i64, a["open"]["totalCount"].as_i64().unwrap_or(0).min(5), "{a}");
    let due: Vec<String> = open.as_array().into_iter().flatten().map(|r| str_of(&r["dueAt"])).collect();
    assert!(due.windows(2).all(|w| w[0] <= w[1]), "soonest due first: {due:?}");

    // Finance: quotes and invoices in every status, over months, this month included.
    let f = api
        .graphql(
            &demo,
            "{ quotesAggregate(groupBy: [STATUS]) { group count } invoicesAggregate(groupBy: [STATUS]) { group count } \
             invoiceLinesAggregate(groupBy: [INVOICE]) { group count sum { lineTotal } } \
             invoices(first: 100) { nodes { id status total amountPaid issueDate dueDate } } }",
            json!({}),
        )
        .await
        .data();
    let quotes = groups(&f["quotesAggregate"], "status");
    let invoices = groups(&f["invoicesAggregate"], "status");
    assert_eq!(
        quotes.keys().collect::<Vec<_>>(),
        ["Accepted", "Draft", "Expired", "Rejected", "Sent"],
        "{f}"
    );
    assert_eq!(invoices.keys().collect::<Vec<_>>(), ["Draft", "Overdue", "Paid", "Sent"], "{f}");
    let months = widget(&boards, "finance", "Invoiced per month")["series"].as_array().map_or(0, Vec::len);
    assert!(months >= 4, "invoices over months: {boards}");
    let this_month = chrono::Utc::now().format("%Y-%m").to_string();
    let by_month = widget(&boards, "finance", "Invoiced per month")["series"].clone();
    assert!(by_month.as_array().into_iter().flatten().any(|p| p["key"] == json!(this_month)), "{by_month}");
    // Each invoice's total is the sum of its lines; paid ones are paid in full; overdue ones
    // were due before today, sent ones are not yet due.
    let lines: BTreeMap<String, f64> = f["invoiceLinesAggregate"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (str_of(&r["group"]["invoice"]), number(&r["sum"]["lineTotal"])))
        .collect();
    let today = chrono::Utc::now().date_naive().to_string();
    for i in f["invoices"]["nodes"].as_array().into_iter().flatten() {
        let total = number(&i["total"]);
        assert!((lines.get(&str_of(&i["id"])).copied().unwrap_or(0.0) - total).abs() < 0.005, "{i}");
        match i["status"].as_str() {
            Some("Paid") => assert_eq!(number(&i["amountPaid"]), total, "{i}"),
            Some("Overdue") => assert!(str_of(&i["dueDate"]) < today, "{i}"),
            Some("Sent") => assert!(str_of(&i["dueDate"]) >= today, "{i}"),
            _ => {}
        }
        assert!(str_of(&i["issueDate"]) <= today, "{i}");
    }

    // A second start on the same database seeds nothing more.
    let before = api.graphql(&demo, COUNTS, json!({})).await.data();
    drop(first);
    let second = spawn(&["serve"], &env);
    ready_server("the second start", port, Duration::from_secs(180), &second).await;
    let after = api.graphql(&demo, COUNTS, json!({})).await.data();
    assert_eq!(after, before);
    drop(second);
    scratch.remove().await;
}

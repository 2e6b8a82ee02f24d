//! Filtering, search and ordering of connections: every operator per field type from
//! docs/api-conventions.md (text-like, numeric, currency compared as decimals, boolean, date,
//! datetime with offsets, select, multi-select, relation), `and`/`or`/`not`, the system fields
//! (`id createdAt updatedAt owner recordNumber`), `search`, and `orderBy` over several fields with
//! the documented null placement and tie-breaks.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::fixtures::{deal, define_people_and_deals};
use crate::harness::{
    Names, TIMEOUT, TestTenant, Ws, WsEvent, field, plain_fields, pluck_str, sorted, str_of, strings, tenant,
};

fn person() -> Names {
    Names::new("person", "people")
}

/// A tenant with five deals whose values cover every operator, two people, and the ids.
struct Data {
    t: TestTenant,
    ids: HashMap<&'static str, String>,
    created_at: HashMap<&'static str, String>,
}

const SELECTION: &str = "title createdAt updatedAt recordNumber";

async fn setup() -> Data {
    let t = tenant().await;
    let mut fields = plain_fields(&[
        ("email", "EMAIL"),
        ("amount", "CURRENCY"),
        ("probability", "NUMBER"),
        ("won", "BOOLEAN"),
        ("closes_on", "DATE"),
        ("closes_at", "DATETIME"),
    ]);
    fields.extend([
        field("stage", "SELECT", json!({ "options": ["lead", "qualified", "won", "lost"] })),
        field("tags", "MULTI_SELECT", json!({ "options": ["hot", "new", "big"] })),
        field("person", "RELATION", json!({ "relatedEntity": "person" })),
        field("notes", "TEXTAREA", json!({})),
    ]);
    define_people_and_deals(&t, fields, json!({ "recordNumberPrefix": "DEAL" })).await;
    let alice = str_of(&t.create(&person(), json!({ "name": "Alice" }), "").await["id"]);
    let bob = str_of(&t.create(&person(), json!({ "name": "Bob" }), "").await["id"]);
    let rows: Vec<(&'static str, Value)> = vec![
        (
            "Alpha deal",
            json!({
            "email": "alpha@x.com", "amount": "100.00", "probability": 10, "won": false,
            "closesOn": "2026-01-10", "closesAt": "2026-01-10T10:00:00Z", "stage": "lead",
            "tags": ["hot", "new"], "person": alice, "notes": "Needle in notes" }),
        ),
        (
            "Beta Deal",
            json!({
            "email": "beta@y.org", "amount": "250.50", "probability": 50, "won": true,
            "closesOn": "2026-02-15", "closesAt": "2026-02-15T12:00:00Z", "stage": "qualified",
            "tags": ["hot"], "person": bob }),
        ),
        (
            "gamma",
            json!({
            "amount": "999.99", "probability": 90, "won": true,
            "closesOn": "2026-03-20", "closesAt": "2026-03-20T08:30:00Z", "stage": "won",
            "tags": ["new", "big"], "person": alice }),
        ),
        ("Delta alpha", json!({ "email": "delta@x.com" })),
        (
            "Epsilon",
            json!({
            "email": "eps@z.net", "amount": "99.00", "probability": 0, "won": false,
            "closesOn": "2025-12-31", "closesAt": "2025-12-31T23:59:59Z", "stage": "lost",
            "tags": ["big"], "person": bob }),
        ),
    ];
    let mut ids = HashMap::from([("alice", alice), ("bob", bob)]);
    let mut created_at = HashMap::new();
    for (title, mut input) in rows {
        input["title"] = json!(title);
        let record = t.create(&deal(), input, SELECTION).await;
        ids.insert(title, str_of(&record["id"]));
        created_at.insert(title, str_of(&record["createdAt"]));
        // Distinct millisecond timestamps, so createdAt comparisons are unambiguous.
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    Data { t, ids, created_at }
}

impl Data {
    /// Titles matching `filter` (sorted: set comparison).
    async fn titles(&self, filter: Value) -> Vec<String> {
        let list =
            self.t.list(&deal(), "filter: $filter, first: 500", json!({ "filter": filter }), "title").await;
        let titles = pluck_str(&list["nodes"], "title");
        assert_eq!(list["totalCount"], json!(titles.len()), "totalCount matches the filter");
        sorted(titles)
    }

    async fn check(&self, cases: Vec<(Value, Vec<&str>)>) {
        for (filter, expected) in cases {
            let actual = self.titles(filter.clone()).await;
            assert_eq!(actual, sorted(strings(&expected)), "filter {filter}");
        }
    }

    /// Titles in the order returned for `orderBy` (and optional extra variables).
    async fn ordered(&self, order_by: Value) -> Vec<String> {
        let list = self
            .t
            .list(&deal(), "orderBy: $orderBy, first: 500", json!({ "orderBy": order_by }), "title")
            .await;
        pluck_str(&list["nodes"], "title")
    }

    fn id(&self, key: &str) -> String {
        self.ids[key].clone()
    }
}

const ALL: [&str; 5] = ["Alpha deal", "Beta Deal", "gamma", "Delta alpha", "Epsilon"];

#[tokio::test]
async fn text_operators() {
    let d = setup().await;
    d.check(vec![
        (json!({ "title": { "eq": "gamma" } }), vec!["gamma"]),
        (json!({ "title": { "eq": "Gamma" } }), vec![]),
        (json!({ "title": { "neq": "gamma" } }), vec!["Alpha deal", "Beta Deal", "Delta alpha", "Epsilon"]),
        (json!({ "title": { "in": ["gamma", "Epsilon", "nope"] } }), vec!["gamma", "Epsilon"]),
        (
            json!({ "title": { "notIn": ["gamma", "Epsilon"] } }),
            vec!["Alpha deal", "Beta Deal", "Delta alpha"],
        ),
        (json!({ "title": { "contains": "ALPHA" } }), vec!["Alpha deal", "Delta alpha"]),
        (json!({ "title": { "contains": "a d" } }), vec!["Alpha deal", "Beta Deal"]),
        (json!({ "title": { "startsWith": "beta" } }), vec!["Beta Deal"]),
        (json!({ "title": { "startsWith": "deal" } }), vec![]),
        // LIKE wildcards are literal characters.
        (json!({ "title": { "contains": "%" } }), vec![]),
        (json!({ "title": { "startsWith": "_" } }), vec![]),
        (json!({ "email": { "isNull": true } }), vec!["gamma"]),
        (json!({ "email": { "isNull": false } }), vec!["Alpha deal", "Beta Deal", "Delta alpha", "Epsilon"]),
        // Comparisons never match a null value.
        (json!({ "email": { "neq": "alpha@x.com" } }), vec!["Beta Deal", "Delta alpha", "Epsilon"]),
        (json!({ "email": { "notIn": ["alpha@x.com"] } }), vec!["Beta Deal", "Delta alpha", "Epsilon"]),
        (json!({ "email": { "contains": "@x.com" } }), vec!["Alpha deal", "Delta alpha"]),
        (json!({ "notes": { "contains": "needle" } }), vec!["Alpha deal"]),
        (json!({ "notes": { "isNull": true } }), vec!["Beta Deal", "gamma", "Delta alpha", "Epsilon"]),
        // Several operators in one object are ANDed.
        (json!({ "title": { "contains": "a", "startsWith": "d" } }), vec!["Delta alpha"]),
    ])
    .await;
}

#[tokio::test]
async fn number_operators() {
    let d = setup().await;
    d.check(vec![
        (json!({ "probability": { "eq": 0 } }), vec!["Epsilon"]),
        (json!({ "probability": { "neq": 10 } }), vec!["Beta Deal", "gamma", "Epsilon"]),
        (json!({ "probability": { "gt": 10 } }), vec!["Beta Deal", "gamma"]),
        (json!({ "probability": { "gte": 10 } }), vec!["Alpha deal", "Beta Deal", "gamma"]),
        (json!({ "probability": { "lt": 50 } }), vec!["Alpha deal", "Epsilon"]),
        (json!({ "probability": { "lte": 50 } }), vec!["Alpha deal", "Beta Deal", "Epsilon"]),
        (json!({ "probability": { "in": [10, 90] } }), vec!["Alpha deal", "gamma"]),
        (json!({ "probability": { "gt": 9.5, "lt": 50.5 } }), vec!["Alpha deal", "Beta Deal"]),
        (json!({ "probability": { "isNull": true } }), vec!["Delta alpha"]),
        (json!({ "probability": { "isNull": false } }), vec!["Alpha deal", "Beta Deal", "gamma", "Epsilon"]),
    ])
    .await;
}

#[tokio::test]
async fn currency_operators_compare_decimals_not_strings() {
    let d = setup().await;
    d.check(vec![
        // "99.00" > "100.00" as strings; numerically it is smaller.
        (json!({ "amount": { "gt": "100.00" } }), vec!["Beta Deal", "gamma"]),
        (json!({ "amount": { "gte": "100" } }), vec!["Alpha deal", "Beta Deal", "gamma"]),
        (json!({ "amount": { "lt": "100.00" } }), vec!["Epsilon"]),
        (json!({ "amount": { "lte": "250.50" } }), vec!["Alpha deal", "Beta Deal", "Epsilon"]),
        (json!({ "amount": { "eq": "250.5" } }), vec!["Beta Deal"]),
        (json!({ "amount": { "eq": 100 } }), vec!["Alpha deal"]),
        (json!({ "amount": { "neq": "100.00" } }), vec!["Beta Deal", "gamma", "Epsilon"]),
        (json!({ "amount": { "in": ["100.00", "999.99"] } }), vec!["Alpha deal", "gamma"]),
        (json!({ "amount": { "isNull": true } }), vec!["Delta alpha"]),
    ])
    .await;
}

#[tokio::test]
async fn boolean_operators() {
    let d = setup().await;
    d.check(vec![
        (json!({ "won": { "eq": true } }), vec!["Beta Deal", "gamma"]),
        (json!({ "won": { "eq": false } }), vec!["Alpha deal", "Epsilon"]),
        (json!({ "won": { "isNull": true } }), vec!["Delta alpha"]),
    ])
    .await;
}

#[tokio::test]
async fn date_and_datetime_operators() {
    let d = setup().await;
    d.check(vec![
        (json!({ "closesOn": { "eq": "2026-03-20" } }), vec!["gamma"]),
        (json!({ "closesOn": { "neq": "2026-03-20" } }), vec!["Alpha deal", "Beta Deal", "Epsilon"]),
        (json!({ "closesOn": { "gt": "2026-01-10" } }), vec!["Beta Deal", "gamma"]),
        (json!({ "closesOn": { "gte": "2026-01-10" } }), vec!["Alpha deal", "Beta Deal", "gamma"]),
        (json!({ "closesOn": { "lt": "2026-01-01" } }), vec!["Epsilon"]),
        (json!({ "closesOn": { "lte": "2026-02-15" } }), vec!["Alpha deal", "Beta Deal", "Epsilon"]),
        (json!({ "closesOn": { "in": ["2025-12-31", "2026-02-15"] } }), vec!["Beta Deal", "Epsilon"]),
        (json!({ "closesOn": { "isNull": true } }), vec!["Delta alpha"]),
        (json!({ "closesAt": { "gt": "2026-01-10T10:00:00Z" } }), vec!["Beta Deal", "gamma"]),
        (
            json!({ "closesAt": { "gte": "2026-01-10T10:00:00.000Z" } }),
            vec!["Alpha deal", "Beta Deal", "gamma"],
        ),
        // 11:00+01:00 is 10:00Z: the offset is applied before comparing.
        (json!({ "closesAt": { "lt": "2026-01-10T11:00:00+01:00" } }), vec!["Epsilon"]),
        (json!({ "closesAt": { "lte": "2026-01-10T11:00:00+01:00" } }), vec!["Alpha deal", "Epsilon"]),
        (json!({ "closesAt": { "eq": "2026-02-15T13:00:00+01:00" } }), vec!["Beta Deal"]),
        (json!({ "closesAt": { "neq": "2026-02-15T12:00:00Z" } }), vec!["Alpha deal", "gamma", "Epsilon"]),
        (
            json!({ "closesAt": { "in": ["2026-03-20T08:30:00Z", "2025-12-31T23:59:59Z"] } }),
            vec!["gamma", "Epsilon"],
        ),
        (json!({ "closesAt": { "isNull": true } }), vec!["Delta alpha"]),
    ])
    .await;
}

#[tokio::test]
async fn select_and_multi_select_operators() {
    let d = setup().await;
    d.check(vec![
        (json!({ "stage": { "eq": "lead" } }), vec!["Alpha deal"]),
        (json!({ "stage": { "neq": "lead" } }), vec!["Beta Deal", "gamma", "Epsilon"]),
        (json!({ "stage": { "in": ["won", "lost"] } }), vec!["gamma", "Epsilon"]),
        (json!({ "stage": { "notIn": ["won", "lost"] } }), vec!["Alpha deal", "Beta Deal"]),
        (json!({ "stage": { "isNull": true } }), vec!["Delta alpha"]),
        (json!({ "tags": { "containsAny": ["big", "nope"] } }), vec!["gamma", "Epsilon"]),
        (
            json!({ "tags": { "containsAny": ["hot", "big"] } }),
            vec!["Alpha deal", "Beta Deal", "gamma", "Epsilon"],
        ),
        (json!({ "tags": { "containsAll": ["hot", "new"] } }), vec!["Alpha deal"]),
        (json!({ "tags": { "containsAll": ["new"] } }), vec!["Alpha deal", "gamma"]),
        (json!({ "tags": { "isNull": true } }), vec!["Delta alpha"]),
        (json!({ "tags": { "isNull": false } }), vec!["Alpha deal", "Beta Deal", "gamma", "Epsilon"]),
    ])
    .await;
}

#[tokio::test]
async fn relation_operators() {
    let d = setup().await;
    let (alice, bob) = (d.id("alice"), d.id("bob"));
    d.check(vec![
        (json!({ "person": { "eq": alice } }), vec!["Alpha deal", "gamma"]),
        (json!({ "person": { "eq": bob } }), vec!["Beta Deal", "Epsilon"]),
        (json!({ "person": { "in": [alice, bob] } }), vec!["Alpha deal", "Beta Deal", "gamma", "Epsilon"]),
        (json!({ "person": { "eq": uuid::Uuid::new_v4().to_string() } }), vec![]),
        (json!({ "person": { "isNull": true } }), vec!["Delta alpha"]),
        (json!({ "person": { "isNull": false } }), vec!["Alpha deal", "Beta Deal", "gamma", "Epsilon"]),
    ])
    .await;
}

#[tokio::test]
async fn logical_operators() {
    let d = setup().await;
    d.check(vec![
        (json!({ "and": [{ "stage": { "eq": "won" } }, { "won": { "eq": true } }] }), vec!["gamma"]),
        (json!({ "stage": { "eq": "won" }, "won": { "eq": true } }), vec!["gamma"]),
        (
            json!({ "or": [{ "stage": { "eq": "lead" } }, { "stage": { "eq": "lost" } }] }),
            vec!["Alpha deal", "Epsilon"],
        ),
        (json!({ "not": { "title": { "contains": "alpha" } } }), vec!["Beta Deal", "gamma", "Epsilon"]),
        (
            json!({ "or": [
                { "and": [{ "won": { "eq": true } }, { "probability": { "gt": 60 } }] },
                { "not": { "title": { "neq": "Delta alpha" } } }
            ] }),
            vec!["gamma", "Delta alpha"],
        ),
        // `or` combined with a sibling field: the sibling is ANDed.
        (
            json!({ "won": { "eq": false },
                    "or": [{ "title": { "startsWith": "a" } }, { "title": { "startsWith": "b" } }] }),
            vec!["Alpha deal"],
        ),
        (json!({ "and": [] }), ALL.to_vec()),
        (json!({}), ALL.to_vec()),
    ])
    .await;
}

#[tokio::test]
async fn system_field_filters() {
    let d = setup().await;
    // Touch Beta last, so it is the only one updated after Epsilon was created.
    tokio::time::sleep(Duration::from_millis(15)).await;
    d.t.update(&deal(), &d.id("Beta Deal"), json!({ "notes": "touched" }), "").await;
    let gamma_created = d.created_at["gamma"].clone();
    let epsilon_created = d.created_at["Epsilon"].clone();
    d.check(vec![
        (json!({ "id": { "eq": d.id("gamma") } }), vec!["gamma"]),
        (json!({ "id": { "in": [d.id("Alpha deal"), d.id("Beta Deal")] } }), vec!["Alpha deal", "Beta Deal"]),
        (json!({ "recordNumber": { "eq": "DEAL-000003" } }), vec!["gamma"]),
        (json!({ "recordNumber": { "startsWith": "DEAL-00000" } }), ALL.to_vec()),
        (json!({ "recordNumber": { "in": ["DEAL-000001", "DEAL-000005"] } }), vec!["Alpha deal", "Epsilon"]),
        (json!({ "createdAt": { "gte": gamma_created } }), vec!["gamma", "Delta alpha", "Epsilon"]),
        (json!({ "createdAt": { "gt": gamma_created } }), vec!["Delta alpha", "Epsilon"]),
        (json!({ "createdAt": { "lt": gamma_created } }), vec!["Alpha deal", "Beta Deal"]),
        (json!({ "createdAt": { "eq": gamma_created } }), vec!["gamma"]),
        (json!({ "updatedAt": { "gt": epsilon_created } }), vec!["Beta Deal"]),
        (json!({ "owner": { "eq": d.t.user_id } }), ALL.to_vec()),
        (json!({ "owner": { "eq": uuid::Uuid::new_v4().to_string() } }), vec![]),
        (json!({ "owner": { "in": [d.t.user_id] } }), ALL.to_vec()),
    ])
    .await;
}

/// The start of a (long) filter, for an assertion message.
fn short(filter: &Value) -> String {
    filter.to_string().chars().take(100).collect()
}

/// Titles matching `filter`, asked over a socket (its queries, unlike an HTTP request's on
/// PostgreSQL, bind their values as statement parameters); sorted.
async fn titles_over_socket(ws: &mut Ws, id: &str, filter: Value) -> Vec<String> {
    let query = "query($filter: DealFilter) { deals(filter: $filter, first: 500) { nodes { title } } }";
    ws.subscribe(id, query, json!({ "filter": filter })).await;
    let titles = pluck_str(&ws.next_data(id).await["deals"]["nodes"], "title");
    match ws.recv(TIMEOUT).await {
        WsEvent::Message(m) if m["type"] == "complete" && m["id"] == id => {}
        other => panic!("expected `complete` for {id}, got {other:?}"),
    }
    sorted(titles)
}

/// `in`/`notIn` lists of any length answer like short ones: 100,000 elements, past the
/// parameters one statement may bind (SQLite 32,766, PostgreSQL 65,535), for text, numbers
/// and money (ids: 20,000, all a request can carry), also under `or` and `not`, over HTTP and
/// over a socket; a timestamp list
/// compares as timestamps. `containsAny` takes at most 1,000 distinct items (each is a test of
/// its own).
#[tokio::test]
async fn in_lists_of_any_length() {
    const N: usize = 100_000;
    let d = setup().await;
    // `N` elements: those that match nothing (short, to keep the request under its size
    // limit), then `real`.
    let long = |fake: fn(usize) -> Value, real: Vec<Value>| -> Value {
        let mut items: Vec<Value> = (0..N - real.len()).map(fake).collect();
        items.extend(real);
        Value::Array(items)
    };
    let hex = |i: usize| json!(format!("{i:x}"));
    let number = |i: usize| json!(i + 1000);
    let titles = long(hex, vec![json!("gamma"), json!("Epsilon")]);
    // Ids must be UUIDs, 38 bytes each in JSON: as many as the request size limit lets through.
    let mut ids: Vec<Value> = (0..20_000u128).map(|i| json!(uuid::Uuid::from_u128(i).to_string())).collect();
    ids.extend([json!(d.id("Alpha deal")), json!(d.id("Beta Deal"))]);
    let ids = Value::Array(ids);
    let cases = vec![
        (json!({ "title": { "in": titles } }), vec!["gamma", "Epsilon"]),
        (json!({ "title": { "notIn": titles } }), vec!["Alpha deal", "Beta Deal", "Delta alpha"]),
        (json!({ "not": { "title": { "in": titles } } }), vec!["Alpha deal", "Beta Deal", "Delta alpha"]),
        (
            json!({ "or": [{ "title": { "in": titles } }, { "stage": { "eq": "lead" } }] }),
            vec!["Alpha deal", "gamma", "Epsilon"],
        ),
        (json!({ "id": { "in": ids } }), vec!["Alpha deal", "Beta Deal"]),
        (
            json!({ "probability": { "in": long(number, vec![json!(10), json!(90)]) } }),
            vec!["Alpha deal", "gamma"],
        ),
        (json!({ "amount": { "in": long(number, vec![json!("250.5")]) } }), vec!["Beta Deal"]),
        (json!({ "createdAt": { "in": [d.created_at["gamma"], "2020-01-01T00:00:00Z"] } }), vec!["gamma"]),
        (json!({ "tags": { "containsAll": long(hex, vec![json!("big")]) } }), vec![]),
    ];
    let mut ws = d.t.ws().await;
    for (i, (filter, expected)) in cases.into_iter().enumerate() {
        let over_socket = titles_over_socket(&mut ws, &i.to_string(), filter.clone()).await;
        assert_eq!(over_socket, sorted(strings(&expected)), "over the socket: {}", short(&filter));
        d.check(vec![(filter, expected)]).await;
    }
    let mut any: Vec<Value> = (0..999).map(hex).collect();
    any.push(json!("big"));
    d.check(vec![(json!({ "tags": { "containsAny": any } }), vec!["gamma", "Epsilon"])]).await;
    any.push(json!("one too many"));
    let refused =
        d.t.list_raw(&deal(), "filter: $filter", json!({ "filter": { "tags": { "containsAny": any } } }), "")
            .await;
    assert_eq!(refused.field_errors(), vec!["filter.tags.containsAny".to_owned()], "{}", refused.text);
}

#[tokio::test]
async fn search_matches_text_fields_and_record_numbers() {
    let d = setup().await;
    let search = |term: &'static str, filter: Value| {
        let t = &d.t;
        async move {
            let list = t
                .list(
                    &deal(),
                    "filter: $filter, search: $search, first: 500",
                    json!({ "search": term, "filter": filter }),
                    "title",
                )
                .await;
            sorted(pluck_str(&list["nodes"], "title"))
        }
    };
    assert_eq!(search("ALPHA", json!({})).await, strings(&["Alpha deal", "Delta alpha"]));
    assert_eq!(search("@y.org", json!({})).await, strings(&["Beta Deal"]));
    assert_eq!(search("NEEDLE", json!({})).await, strings(&["Alpha deal"]));
    assert_eq!(search("deal-000005", json!({})).await, strings(&["Epsilon"]));
    assert_eq!(search("no such text", json!({})).await, Vec::<String>::new());
    assert_eq!(search("alpha", json!({ "won": { "eq": false } })).await, strings(&["Alpha deal"]));
}

#[tokio::test]
async fn order_by_fields_with_null_placement() {
    let d = setup().await;
    let order = |field: &str, direction: &str| json!([{ "field": field, "direction": direction }]);
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (order("PROBABILITY", "ASC"), vec!["Epsilon", "Alpha deal", "Beta Deal", "gamma", "Delta alpha"]),
        (order("PROBABILITY", "DESC"), vec!["Delta alpha", "gamma", "Beta Deal", "Alpha deal", "Epsilon"]),
        (
            json!([{ "field": "PROBABILITY" }]),
            vec!["Epsilon", "Alpha deal", "Beta Deal", "gamma", "Delta alpha"],
        ),
        // Decimal order, not string order.
        (order("AMOUNT", "ASC"), vec!["Epsilon", "Alpha deal", "Beta Deal", "gamma", "Delta alpha"]),
        (order("AMOUNT", "DESC"), vec!["Delta alpha", "gamma", "Beta Deal", "Alpha deal", "Epsilon"]),
        (order("CLOSES_AT", "DESC"), vec!["Delta alpha", "gamma", "Beta Deal", "Alpha deal", "Epsilon"]),
        (order("CLOSES_ON", "ASC"), vec!["Epsilon", "Alpha deal", "Beta Deal", "gamma", "Delta alpha"]),
        (order("RECORD_NUMBER", "DESC"), vec!["Epsilon", "Delta alpha", "gamma", "Beta Deal", "Alpha deal"]),
        (order("CREATED_AT", "DESC"), vec!["Epsilon", "Delta alpha", "gamma", "Beta Deal", "Alpha deal"]),
        (
            json!([{ "field": "WON", "direction": "DESC" }, { "field": "PROBABILITY", "direction": "ASC" }]),
            vec!["Delta alpha", "Beta Deal", "gamma", "Epsilon", "Alpha deal"],
        ),
        (
            json!([{ "field": "WON", "direction": "ASC" }, { "field": "TITLE", "direction": "DESC" }]),
            vec!["Epsilon", "Alpha deal", "gamma", "Beta Deal", "Delta alpha"],
        ),
    ];
    for (order_by, expected) in cases {
        assert_eq!(d.ordered(order_by.clone()).await, strings(&expected), "orderBy {order_by}");
    }
    // Default order: CREATED_AT ASC.
    let list = d.t.list(&deal(), "", json!({}), "title").await;
    assert_eq!(pluck_str(&list["nodes"], "title"), strings(&ALL));
}

#[tokio::test]
async fn order_by_ties_break_on_id() {
    let d = setup().await;
    // WON has ties (two false, two true); within a tie the id decides, ascending.
    let by_id = |titles: &[&'static str]| {
        let mut pairs: Vec<(String, &str)> = titles.iter().map(|t| (d.id(t), *t)).collect();
        pairs.sort();
        pairs.into_iter().map(|(_, t)| t.to_owned()).collect::<Vec<_>>()
    };
    let mut expected = by_id(&["Alpha deal", "Epsilon"]);
    expected.extend(by_id(&["Beta Deal", "gamma"]));
    expected.push("Delta alpha".to_owned());
    assert_eq!(d.ordered(json!([{ "field": "WON", "direction": "ASC" }])).await, expected);
    // ID itself is a sortable field and gives a total order.
    let asc = d.ordered(json!([{ "field": "ID", "direction": "ASC" }])).await;
    let mut desc = d.ordered(json!([{ "field": "ID", "direction": "DESC" }])).await;
    desc.reverse();
    assert_eq!(asc, desc);
    assert_eq!(asc, by_id(&ALL));
}

#[tokio::test]
async fn failing_unknown_filter_or_order_field() {
    let d = setup().await;
    d.t.list_raw(&deal(), "filter: $filter", json!({ "filter": { "nope": { "eq": "x" } } }), "")
        .await
        .expect_code("BAD_REQUEST");
    d.t.list_raw(&deal(), "filter: $filter", json!({ "filter": { "won": { "contains": "x" } } }), "")
        .await
        .expect_code("BAD_REQUEST");
    d.t.list_raw(&deal(), "orderBy: $orderBy", json!({ "orderBy": [{ "field": "TAGS" }] }), "")
        .await
        .expect_code("BAD_REQUEST");
}

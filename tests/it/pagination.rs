//! Relay cursor pagination of connections: forwards (`first`/`after`) and backwards
//! (`last`/`before`) through every page, `pageInfo` flags and cursors, `totalCount`, cursors
//! combined with `orderBy` (including ties) and filters, and the `BAD_REQUEST` cases.

use serde_json::{Value, json};

use crate::harness::{Names, TestTenant, plain_fields, str_of, tenant};

fn item() -> Names {
    Names::new("item", "items")
}

const PAGE: &str = "totalCount edges { cursor node { id n label } } nodes { id n }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }";

/// A tenant with items n = 1..=7 created in order; labels have ties (a a b b b c c).
async fn setup() -> TestTenant {
    let t = tenant().await;
    t.define_entity("item", "items", plain_fields(&[("n", "NUMBER"), ("label", "TEXT")])).await;
    for (n, label) in [(1, "a"), (2, "b"), (3, "c"), (4, "a"), (5, "b"), (6, "c"), (7, "b")] {
        t.create(&item(), json!({ "n": n, "label": label }), "").await;
        // Distinct creation timestamps for the default CREATED_AT order.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    t
}

/// One page of `items(...)`, every variable passed as the argument of the same name.
async fn page(t: &TestTenant, vars: Value) -> Value {
    t.connection(&item(), vars, PAGE).await
}

fn ns(page: &Value) -> Vec<i64> {
    page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["n"].as_f64().expect("n") as i64)
        .collect()
}

/// Checks the invariants every page has: nodes mirror edges, start/end cursors are the first and
/// last edge cursors, totalCount ignores paging.
fn check_page(page: &Value, total: i64) {
    assert_eq!(page["totalCount"], json!(total));
    let edges = page["edges"].as_array().expect("edges");
    let nodes = page["nodes"].as_array().expect("nodes");
    assert_eq!(edges.len(), nodes.len());
    for (edge, node) in edges.iter().zip(nodes) {
        assert_eq!(edge["node"]["id"], node["id"]);
        assert!(!str_of(&edge["cursor"]).is_empty());
    }
    match (edges.first(), edges.last()) {
        (Some(first), Some(last)) => {
            assert_eq!(page["pageInfo"]["startCursor"], first["cursor"]);
            assert_eq!(page["pageInfo"]["endCursor"], last["cursor"]);
        }
        _ => {
            assert_eq!(page["pageInfo"]["startCursor"], Value::Null);
            assert_eq!(page["pageInfo"]["endCursor"], Value::Null);
        }
    }
}

/// Pages through the seven items three at a time from the first page on, forwards (`first`,
/// `after` the previous page's `endCursor`) or backwards (`last`, `before` its `startCursor`),
/// asserting each page (`check_page`), its items and whether it says there is more in its
/// direction (`hasNextPage`, `hasPreviousPage`): `expected` holds both, page by page.
async fn walk(t: &TestTenant, forwards: bool, expected: &[(&[i64], bool)]) -> Vec<Value> {
    let (size, from, cursor, more) = if forwards {
        ("first", "after", "endCursor", "hasNextPage")
    } else {
        ("last", "before", "startCursor", "hasPreviousPage")
    };
    let mut pages: Vec<Value> = Vec::new();
    for (i, (items, has_more)) in expected.iter().enumerate() {
        let mut vars = json!({ size: 3 });
        if let Some(previous) = pages.last() {
            vars[from] = previous["pageInfo"][cursor].clone();
        }
        let p = page(t, vars).await;
        check_page(&p, 7);
        assert_eq!(ns(&p), *items, "page {} ({size})", i + 1);
        assert_eq!(p["pageInfo"][more], json!(has_more), "{more} of page {} ({size})", i + 1);
        pages.push(p);
    }
    pages
}

#[tokio::test]
async fn forwards_through_every_page() {
    let t = setup().await;
    let pages = walk(&t, true, &[(&[1, 2, 3], true), (&[4, 5, 6], true), (&[7], false), (&[], false)]).await;
    let p1 = &pages[0];
    assert_eq!(p1["pageInfo"]["hasPreviousPage"], json!(false));

    // Any edge cursor works as `after`, not only endCursor.
    let mid = page(&t, json!({ "first": 2, "after": p1["edges"][0]["cursor"] })).await;
    assert_eq!(ns(&mid), [2, 3]);
    // An exact fit: no next page.
    let all = page(&t, json!({ "first": 7 })).await;
    assert_eq!(ns(&all), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(all["pageInfo"]["hasNextPage"], json!(false));
    // Without arguments the default page size (50) covers everything.
    let default = page(&t, json!({})).await;
    assert_eq!(ns(&default), [1, 2, 3, 4, 5, 6, 7]);
}

#[tokio::test]
async fn backwards_through_every_page() {
    let t = setup().await;
    // Edges stay in ascending order on every page.
    let pages = walk(&t, false, &[(&[5, 6, 7], true), (&[2, 3, 4], true), (&[1], false)]).await;
    assert_eq!(pages[0]["pageInfo"]["hasNextPage"], json!(false));

    // Cursors from forward paging work backwards: the page before item 4.
    let forward = page(&t, json!({ "first": 4 })).await;
    let before_4 = page(&t, json!({ "last": 2, "before": forward["edges"][3]["cursor"] })).await;
    assert_eq!(ns(&before_4), [2, 3]);
    // `after` and `before` together: the window between them.
    let window = page(
        &t,
        json!({ "first": 10, "after": forward["edges"][0]["cursor"], "before": forward["edges"][3]["cursor"] }),
    )
    .await;
    assert_eq!(ns(&window), [2, 3]);
}

#[tokio::test]
async fn cursors_follow_order_by() {
    let t = setup().await;
    let order = json!([{ "field": "N", "direction": "DESC" }]);
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let p = page(&t, json!({ "first": 2, "after": after, "orderBy": order })).await;
        check_page(&p, 7);
        seen.extend(ns(&p));
        pages += 1;
        if p["pageInfo"]["hasNextPage"] == json!(false) {
            break;
        }
        after = p["pageInfo"]["endCursor"].clone();
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, [7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(pages, 4);
}

#[tokio::test]
async fn cursors_are_stable_across_ties() {
    let t = setup().await;
    // Label has ties; ordering by it must still visit every item exactly once, in both
    // directions, and agree with the single-page order.
    let order = json!([{ "field": "LABEL", "direction": "ASC" }]);
    let full = page(&t, json!({ "first": 50, "orderBy": order })).await;
    let expected = ns(&full);
    let labels: Vec<String> =
        full["edges"].as_array().expect("edges").iter().map(|e| str_of(&e["node"]["label"])).collect();
    assert_eq!(labels, ["a", "a", "b", "b", "b", "c", "c"]);

    let mut forward = Vec::new();
    let mut after = Value::Null;
    for _ in 0..10 {
        let p = page(&t, json!({ "first": 2, "after": after, "orderBy": order })).await;
        forward.extend(ns(&p));
        if p["pageInfo"]["hasNextPage"] == json!(false) {
            break;
        }
        after = p["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(forward, expected);

    let mut backward: Vec<i64> = Vec::new();
    let mut before = Value::Null;
    for _ in 0..10 {
        let p = page(&t, json!({ "last": 2, "before": before, "orderBy": order })).await;
        let mut chunk = ns(&p);
        chunk.extend(backward);
        backward = chunk;
        if p["pageInfo"]["hasPreviousPage"] == json!(false) {
            break;
        }
        before = p["pageInfo"]["startCursor"].clone();
    }
    assert_eq!(backward, expected);
}

#[tokio::test]
async fn pagination_with_a_filter() {
    let t = setup().await;
    let filter = json!({ "n": { "gt": 2 } });
    let p1 = page(&t, json!({ "first": 2, "filter": filter })).await;
    check_page(&p1, 5);
    assert_eq!(ns(&p1), [3, 4]);
    let p2 = page(&t, json!({ "first": 2, "filter": filter, "after": p1["pageInfo"]["endCursor"] })).await;
    check_page(&p2, 5);
    assert_eq!(ns(&p2), [5, 6]);
    let empty = page(&t, json!({ "first": 2, "filter": { "n": { "gt": 100 } } })).await;
    check_page(&empty, 0);
    assert!(ns(&empty).is_empty());
    assert_eq!(empty["pageInfo"]["hasNextPage"], json!(false));
    assert_eq!(empty["pageInfo"]["hasPreviousPage"], json!(false));
}

#[tokio::test]
async fn failing_bad_paging_arguments() {
    let t = setup().await;
    assert_eq!(t.error_code("{ items(first: 2, last: 2) { totalCount } }", json!({})).await, "BAD_REQUEST");
    for cursor in ["garbage", "bm90IGEgY3Vyc29y", "%%%", "eyJ4IjoxfQ"] {
        let code = t
            .error_code(
                "query($c: String) { items(first: 2, after: $c) { totalCount } }",
                json!({ "c": cursor }),
            )
            .await;
        assert_eq!(code, "BAD_REQUEST", "after: {cursor:?}");
    }
    let code = t
        .error_code(
            "query($c: String) { items(last: 2, before: $c) { totalCount } }",
            json!({ "c": "garbage" }),
        )
        .await;
    assert_eq!(code, "BAD_REQUEST");
}

//! Group-bys answered from rollups (`record_rollups`): counts and exact sums per value of a
//! SELECT field, kept current by every write. Each answer is compared with the same figures
//! computed by the scan (a filter that matches every record forces the scan), after creates,
//! updates that move records between groups, deletes, restores, definition changes and
//! concurrent writers; and a cell changed behind the server's back shows up in the answer,
//! proving it is read from the cells.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::harness::*;
use crate::rls::{connect, stmt};

fn deal() -> Names {
    Names::new("deal", "deals")
}

const FIGURES: &str = "group count sum { amount } avg { amount }";

/// The group-by of `group_by` (a GraphQL enum list) from the cells and from a scan.
async fn both(t: &TestTenant, group_by: &str) -> (Value, Value) {
    let cells = t.data(&format!("{{ dealsAggregate{group_by} {{ {FIGURES} }} }}"), json!({})).await;
    let args = if group_by.is_empty() {
        "(filter: {createdAt: {gte: \"2000-01-01T00:00:00Z\"}})".to_owned()
    } else {
        format!(
            "({}, filter: {{createdAt: {{gte: \"2000-01-01T00:00:00Z\"}}}})",
            &group_by[1..group_by.len() - 1]
        )
    };
    let scan = t.data(&format!("{{ dealsAggregate{args} {{ {FIGURES} }} }}"), json!({})).await;
    (cells["dealsAggregate"].clone(), scan["dealsAggregate"].clone())
}

async fn agree(t: &TestTenant, when: &str) {
    for group_by in ["", "(groupBy: [STAGE])", "(groupBy: [REGION])"] {
        let (cells, scan) = both(t, group_by).await;
        assert_eq!(cells, scan, "{when}, {group_by}: rollups and scan differ");
    }
}

#[tokio::test]
async fn group_bys_from_rollups_match_the_scan_through_every_change() {
    let t = tenant().await;
    t.define(entity(
        "deal",
        "deals",
        vec![
            field("name", "TEXT", json!({})),
            field("stage", "SELECT", json!({"options": ["New", "Won", "Lost"]})),
            field("region", "SELECT", json!({"options": ["North", "South"]})),
            field("amount", "CURRENCY", json!({})),
        ],
        json!({}),
    ))
    .await;
    agree(&t, "no records").await;
    let mut ids = Vec::new();
    for i in 0..12i64 {
        let stage = ["New", "Won", "Lost"][(i % 3) as usize];
        let mut input = json!({"name": format!("D{i}"), "stage": stage});
        if i % 4 != 0 {
            input["region"] = json!(["North", "South"][(i % 2) as usize]);
        }
        if i % 5 != 0 {
            input["amount"] = json!(format!("{}.{:02}", i * 1000 + 7, i * 13 % 100));
        }
        ids.push(str_of(&t.create(&deal(), input, "").await["id"]));
    }
    agree(&t, "after creates").await;
    let (cells, _) = both(&t, "(groupBy: [STAGE])").await;
    assert_eq!(cells.as_array().map(Vec::len), Some(3), "{cells}");

    // Moves between groups, amounts set, changed and cleared.
    t.update(&deal(), &ids[0], json!({"stage": "Won", "amount": "1.10"}), "").await;
    t.update(&deal(), &ids[1], json!({"amount": null, "region": null}), "").await;
    t.update(&deal(), &ids[2], json!({"stage": null}), "").await;
    agree(&t, "after updates").await;
    t.delete(&deal(), &ids[3]).await;
    t.delete(&deal(), &ids[4]).await;
    agree(&t, "after deletes").await;
    t.restore(&deal(), &ids[4]).await;
    agree(&t, "after a restore").await;

    // Concurrent writers: no drift.
    let mut writers = Vec::new();
    for i in 0..16i64 {
        let t = &t;
        let id = ids[(i % 12) as usize].clone();
        writers.push(async move {
            if i % 2 == 0 {
                t.create(&deal(), json!({"name": "C", "stage": "Lost", "amount": "2.50"}), "").await;
            } else {
                t.update_raw(&deal(), &id, json!({"amount": format!("{i}.25")}), "").await;
            }
        });
    }
    futures_util::future::join_all(writers).await;
    agree(&t, "after concurrent writes").await;

    // A definition change rebuilds the cells: a new SELECT field groups at once.
    t.add_field("deal", field("priority", "SELECT", json!({"options": ["High", "Low"], "default": "Low"})))
        .await;
    t.update(&deal(), &ids[5], json!({"priority": "High"}), "").await;
    let (cells, scan) = both(&t, "(groupBy: [PRIORITY])").await;
    assert_eq!(cells, scan, "a field added later");

    // The cells are what answers: a count changed behind the server's back shows.
    let conn = connect().await;
    let bump =
        "UPDATE record_rollups SET n = n + 1000 WHERE tenant_id = $1 AND group_key = '' AND measure_key = ''";
    conn.execute_raw(stmt(&conn, bump, vec![t.tenant_id.clone().into()])).await.expect("bump");
    let (cells, scan) = both(&t, "").await;
    assert_eq!(
        cells[0]["count"].as_i64().expect("count"),
        scan[0]["count"].as_i64().expect("count") + 1000,
        "the whole-entity count is not read from the rollups"
    );
}

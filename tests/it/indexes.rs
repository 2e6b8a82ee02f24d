//! Fields marked `indexed` get a database index, created and dropped by the engine: on
//! `defineEntity`/`addField`/`updateField(indexed: true)`, and gone after `indexed: false`,
//! `removeField` and `deleteEntity`. The index is the one queries use: SQLite's query plan and
//! PostgreSQL's `EXPLAIN` for a filter on the field name it — on PostgreSQL with 5,000 rows (so a
//! sequential scan is not simply cheaper) and also as the application role under row-level
//! security, which is how the API's own queries run.

use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::harness::*;
use crate::rls::{connect, on_postgres, stmt};

fn item() -> Names {
    Names::new("item", "items")
}

/// The engine's index names on `records`.
async fn field_indexes(conn: &impl ConnectionTrait) -> Vec<String> {
    let sql = if on_postgres() {
        "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'records' AND indexname LIKE 'idx\\_fo\\_%'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' AND name LIKE 'idx\\_fo\\_%' ESCAPE '\\'"
    };
    let rows = conn.query_all_raw(stmt(conn, sql, vec![])).await.expect("list indexes");
    rows.iter().map(|r| r.try_get::<String>("", "name").expect("name")).collect()
}

fn index_of(field_id: &str) -> String {
    format!("idx_fo_{}", field_id.replace('-', ""))
}

/// (entity id, field key → field id) of the `item` entity.
async fn ids(t: &TestTenant) -> (String, std::collections::BTreeMap<String, String>) {
    let d = t.data("{ entity(name: \"item\") { id fields { id key } } }", json!({})).await;
    let fields = d["entity"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| (str_of(&f["key"]), str_of(&f["id"])))
        .collect();
    (str_of(&d["entity"]["id"]), fields)
}

/// The plan lines of `explain` (`$1` the tenant, `$2` `value`) as the application role under
/// row-level security (PostgreSQL), which is how the API's own queries run.
async fn explain_as_app(t: &TestTenant, explain: &str, value: &str) -> Vec<String> {
    let app = connect().await;
    app.execute_unprepared("BEGIN").await.expect("begin");
    app.execute_unprepared("SET LOCAL ROLE alphery_app").await.expect("set role");
    let tenant = vec![t.tenant_id.clone().into()];
    app.execute_raw(stmt(&app, "SELECT set_config('app.tenant_id', $1, true)", tenant))
        .await
        .expect("set tenant");
    let rows = app
        .query_all_raw(stmt(&app, explain, vec![t.tenant_id.clone().into(), value.into()]))
        .await
        .expect("explain as the app role");
    app.execute_unprepared("ROLLBACK").await.expect("rollback");
    rows.iter().map(|r| r.try_get::<String>("", "QUERY PLAN").expect("plan line")).collect()
}

#[tokio::test]
async fn indexes_follow_the_indexed_flag() {
    let t = tenant().await;
    t.define(entity(
        "item",
        "items",
        vec![
            field("code", "TEXT", json!({"indexed": true})),
            field("price", "CURRENCY", json!({"indexed": true})),
            field("note", "TEXT", json!({})),
        ],
        json!({}),
    ))
    .await;
    let conn = connect().await;
    let (_, f) = ids(&t).await;
    let present = |names: &Vec<String>, key: &str| names.contains(&index_of(&f[key]));
    let now = field_indexes(&conn).await;
    assert!(present(&now, "code") && present(&now, "price") && !present(&now, "note"), "{now:?}");

    t.data(
        "mutation { updateField(entity: \"item\", key: \"note\", input: {indexed: true}) { id } }",
        json!({}),
    )
    .await;
    t.data(
        "mutation { updateField(entity: \"item\", key: \"code\", input: {indexed: false}) { id } }",
        json!({}),
    )
    .await;
    let now = field_indexes(&conn).await;
    assert!(present(&now, "note") && !present(&now, "code"), "{now:?}");

    t.data("mutation { removeField(entity: \"item\", key: \"note\") { id } }", json!({})).await;
    assert!(!present(&field_indexes(&conn).await, "note"));
    t.add_field("item", field("sku", "TEXT", json!({"indexed": true}))).await;
    let (_, f2) = ids(&t).await;
    assert!(field_indexes(&conn).await.contains(&index_of(&f2["sku"])));
    t.data("mutation { deleteEntity(name: \"item\") }", json!({})).await;
    let left = field_indexes(&conn).await;
    for key in ["price", "sku"] {
        assert!(!left.contains(&index_of(&f2[key])), "{key} index survived deleteEntity");
    }
}

#[tokio::test]
async fn queries_on_an_indexed_field_use_its_index() {
    let t = tenant().await;
    t.define(entity("item", "items", vec![field("code", "TEXT", json!({"indexed": true}))], json!({}))).await;
    for i in 0..60 {
        t.create(&item(), json!({"code": format!("C{i:03}")}), "").await;
    }
    let (entity_id, f) = ids(&t).await;
    let index = index_of(&f["code"]);
    let conn = connect().await;
    // The statement shape the store issues for `filter: {code: {eq: …}}`.
    let (explain, expr) = if on_postgres() {
        ("EXPLAIN", "(data->>'code')")
    } else {
        ("EXPLAIN QUERY PLAN", "json_extract(data, '$.code')")
    };
    let sql = format!(
        "{explain} SELECT id FROM records WHERE tenant_id = $1 AND entity_id = '{entity_id}' \
         AND deleted_at IS NULL AND ({expr} IS NOT NULL AND {expr} = $2)"
    );
    // Realistic volume and fresh statistics: on a few pages without statistics any planner
    // may scan sequentially or pick another index.
    let bulk = if on_postgres() {
        "INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
         SELECT gen_random_uuid()::text, $1, $2, jsonb_build_object('code', 'B' || g), now(), now(), 1 \
         FROM generate_series(1, 5000) g"
    } else {
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 5000) \
         INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
         SELECT lower(hex(randomblob(16))), $1, $2, json_object('code', 'B' || n), '2026-01-01T00:00:00.000Z', \
         '2026-01-01T00:00:00.000Z', 1 FROM g"
    };
    conn.execute_raw(stmt(&conn, bulk, vec![t.tenant_id.clone().into(), entity_id.clone().into()]))
        .await
        .expect("bulk insert");
    conn.execute_unprepared("ANALYZE records").await.expect("analyze");
    let rows = conn
        .query_all_raw(stmt(&conn, &sql, vec![t.tenant_id.clone().into(), "C007".into()]))
        .await
        .expect("explain");
    let plan: Vec<String> = rows
        .iter()
        .map(|r| {
            r.try_get::<String>("", if on_postgres() { "QUERY PLAN" } else { "detail" }).expect("plan line")
        })
        .collect();
    assert!(plan.iter().any(|l| l.contains(&index)), "the plan does not use {index}:\n{}", plan.join("\n"));

    let found = t.list(&item(), "filter: $filter", json!({"filter": {"code": {"eq": "C007"}}}), "code").await;
    assert_eq!(found["totalCount"], json!(1));
    if on_postgres() {
        // The API's queries run as the application role under row-level security: the same
        // plan there must still use the index (this needs `->>` to be LEAKPROOF).
        let plan = explain_as_app(&t, &sql, "C007").await;
        assert!(
            plan.iter().any(|l| l.contains(&index) && l.contains("Index")),
            "under RLS the plan does not use {index}:\n{}",
            plan.join("\n")
        );
    }
}

#[tokio::test]
async fn an_indexed_multi_select_field_gets_a_containment_index() {
    let t = tenant().await;
    let options = json!({"indexed": true, "options": ["red", "green", "rare"]});
    t.define(entity("item", "items", vec![field("tags", "MULTI_SELECT", options)], json!({}))).await;
    t.create(&item(), json!({"tags": ["rare", "red"]}), "").await;
    t.create(&item(), json!({"tags": ["green"]}), "").await;
    for (filter, n) in [
        (json!({"tags": {"containsAny": ["rare"]}}), 1),
        (json!({"tags": {"containsAny": ["green", "red"]}}), 2),
        (json!({"tags": {"containsAll": ["red", "rare"]}}), 1),
        (json!({"tags": {"containsAll": ["red", "green"]}}), 0),
    ] {
        let found = t.list(&item(), "filter: $filter", json!({ "filter": filter }), "tags").await;
        assert_eq!(found["totalCount"], json!(n), "{filter}");
    }
    if !on_postgres() {
        return;
    }
    let (entity_id, f) = ids(&t).await;
    let index = format!("idx_fg_{}", f["tags"].replace('-', ""));
    let conn = connect().await;
    let bulk = "INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
                SELECT gen_random_uuid()::text, $1, $2, jsonb_build_object('tags', jsonb_build_array( \
                CASE WHEN g % 2 = 0 THEN 'red' ELSE 'green' END)), now(), now(), 1 \
                FROM generate_series(1, 5000) g";
    conn.execute_raw(stmt(&conn, bulk, vec![t.tenant_id.clone().into(), entity_id.clone().into()]))
        .await
        .expect("bulk insert");
    conn.execute_unprepared("ANALYZE records").await.expect("analyze");
    // The statement shape the store issues for `containsAny: ["rare"]`, as the application
    // role under row-level security (this needs `->` and `@>` to be LEAKPROOF).
    let sql = format!(
        "EXPLAIN SELECT id FROM records WHERE tenant_id = $1 AND entity_id = '{entity_id}' \
         AND deleted_at IS NULL AND (data->'tags') @> CAST($2 AS JSONB)"
    );
    let plan = explain_as_app(&t, &sql, "[\"rare\"]").await;
    assert!(plan.iter().any(|l| l.contains(&index)), "the plan does not use {index}:\n{}", plan.join("\n"));
    let found = t
        .list(&item(), "filter: $filter", json!({"filter": {"tags": {"containsAny": ["rare"]}}}), "tags")
        .await;
    assert_eq!(found["totalCount"], json!(1));

    t.data(
        "mutation { updateField(entity: \"item\", key: \"tags\", input: {indexed: false}) { id } }",
        json!({}),
    )
    .await;
    let sql = "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'records' AND indexname = $1";
    let left = conn.query_all_raw(stmt(&conn, sql, vec![index.clone().into()])).await.expect("list");
    assert!(left.is_empty(), "{index} survived indexed: false");
}

//! Fields marked `indexed` hold an index slot (`entity::runtime::indexes`): a fixed set of
//! typed columns and indexes on `records` shared by every tenant, so marking fields creates no
//! index at all. A field gets its slot on `defineEntity`/`addField`/`updateField(indexed:
//! true)` and loses it on `indexed: false` and `removeField`, and the entity's records carry the
//! field's key in the slot from then on; filters, sorts and group-bys answer the same before
//! and after indexing, also after the indexed values change; an entity has a bounded number
//! of slots and says so. The plans: PostgreSQL's EXPLAIN (5,000 rows, as the application role
//! under row-level security, which is how the API's own queries run) and SQLite's query plan
//! of exactly the statement the store builds use the slot's index.

use std::collections::BTreeMap;

use entity::Dialect;
use entity::runtime::filter::Filter;
use entity::runtime::meta::TenantMeta;
use entity::runtime::slot::{Slot, SlotKind};
use entity::runtime::sql::{self, Direction};
use entity::runtime::store::{Caller, Store, WriteRequest};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::harness::*;
use crate::plans::{page, pg_plans};
use crate::rls::{connect, count, on_postgres, record_id, stmt};

fn dialect() -> Dialect {
    if on_postgres() { Dialect::Postgres } else { Dialect::Sqlite }
}

/// How many indexes `records` has.
async fn records_indexes(conn: &impl ConnectionTrait) -> i64 {
    let sql = if on_postgres() {
        "SELECT COUNT(*) AS n FROM pg_indexes WHERE tablename = 'records'"
    } else {
        "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'"
    };
    count(conn, sql, vec![]).await
}

/// Field key → the slot it holds, for the tenant's entity `name`.
async fn held(conn: &impl ConnectionTrait, t: &TestTenant, name: &str) -> BTreeMap<String, Option<Slot>> {
    let sql = "SELECT f.key, f.index_slot FROM field_defs f JOIN entity_defs e ON e.id = f.entity_id \
               WHERE f.tenant_id = $1 AND e.name_singular = $2";
    let rows = conn
        .query_all_raw(stmt(conn, sql, vec![t.tenant_id.clone().into(), name.into()]))
        .await
        .expect("field slots");
    rows.iter()
        .map(|r| {
            let slot: Option<String> = r.try_get("", "index_slot").expect("index_slot");
            (r.try_get("", "key").expect("key"), slot.map(|s| Slot::parse(&s).expect("a slot name")))
        })
        .collect()
}

/// The slot key columns a record carries: column → field key.
async fn record_keys(conn: &impl ConnectionTrait, id: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for slot in Slot::all(dialect()) {
        let column = slot.key_column();
        let sql = format!("SELECT {column} AS k FROM records WHERE id = $1");
        let row = conn
            .query_one_raw(stmt(conn, &sql, vec![record_id(id)]))
            .await
            .expect("slot key")
            .expect("the record");
        if let Some(k) = row.try_get::<Option<String>>("", "k").expect("k") {
            out.insert(column, k);
        }
    }
    out
}

/// Gives bulk-inserted records of the tenant (SQL that knows nothing of slots) the keys of
/// their entities' slots, as the store does for each record it writes.
pub(crate) async fn fill_slots(conn: &impl ConnectionTrait, tenant_id: &str) {
    let sql =
        "SELECT entity_id, key, index_slot FROM field_defs WHERE tenant_id = $1 AND index_slot IS NOT NULL";
    let rows = conn.query_all_raw(stmt(conn, sql, vec![tenant_id.into()])).await.expect("slots");
    for r in rows {
        let slot: String = r.try_get("", "index_slot").expect("slot");
        let column = Slot::parse(&slot).expect("slot name").key_column();
        let key: String = r.try_get("", "key").expect("key");
        let entity: String = r.try_get("", "entity_id").expect("entity");
        let sql = format!("UPDATE records SET {column} = $1 WHERE tenant_id = $2 AND entity_id = $3");
        conn.execute_raw(stmt(conn, &sql, vec![key.into(), tenant_id.into(), entity.into()]))
            .await
            .expect("fill slot");
    }
}

fn item() -> Names {
    Names::new("item", "items")
}

/// Each slot's generated column computes what the engine says it does (`sql::slot_fill`): the
/// migration keeps its own copy of those texts. SQLite keeps a column's definition as written;
/// PostgreSQL normalises it, so the same definition on a scratch table is its expected text.
#[tokio::test]
async fn slot_columns_are_generated_as_the_engine_says() {
    let _migrated = tenant().await;
    let conn = connect().await;
    let d = dialect();
    for slot in Slot::all(d) {
        let fill = sql::slot_fill(d, slot.kind).expect("a slot of the database has a fill");
        let (key, column) = (slot.key_column(), slot.column());
        let generated = fill.replace("{k}", &key);
        if d == Dialect::Sqlite {
            let sql = "SELECT sql AS s FROM sqlite_master WHERE type = 'table' AND name = 'records'";
            let row = conn.query_one_raw(stmt(&conn, sql, vec![])).await.expect("records").expect("a row");
            let table: String = row.try_get("", "s").expect("sql");
            let want =
                format!("{column} {} GENERATED ALWAYS AS ({generated}) VIRTUAL", sqlite_type(slot.kind));
            assert!(table.contains(&want), "{want} not in {table}");
            continue;
        }
        let read = |table: &str| {
            format!(
                "SELECT pg_get_expr(d.adbin, d.adrelid) AS e, format_type(a.atttypid, a.atttypmod) AS t \
                 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
                 WHERE d.adrelid = '{table}'::regclass AND a.attname = '{column}'"
            )
        };
        let row = conn.query_one_raw(stmt(&conn, &read("records"), vec![])).await.expect("column");
        let row = row.expect("the slot's column");
        let (actual, ty): (String, String) =
            (row.try_get("", "e").expect("e"), row.try_get("", "t").expect("t"));
        let probe = format!("slot_probe_{}", slot.name());
        let create = format!(
            "CREATE TEMP TABLE {probe} (data JSONB, {key} TEXT, {column} {ty} GENERATED ALWAYS AS ({generated}) STORED)"
        );
        conn.execute_unprepared(&create).await.expect("probe table");
        let row = conn.query_one_raw(stmt(&conn, &read(&probe), vec![])).await.expect("probe column");
        let expected: String = row.expect("the probe's column").try_get("", "e").expect("e");
        conn.execute_unprepared(&format!("DROP TABLE {probe}")).await.expect("drop probe");
        assert_eq!(actual, expected, "{column}");
    }
}

/// The SQLite type migration 22 gave a slot kind's value column.
fn sqlite_type(kind: SlotKind) -> &'static str {
    match kind {
        SlotKind::Text => "TEXT",
        SlotKind::Number => "NUMERIC",
        SlotKind::Boolean => "BOOLEAN",
        SlotKind::Array => "JSONB",
    }
}

#[tokio::test]
async fn indexed_fields_hold_slots_and_their_records_carry_the_keys() {
    let t = tenant().await;
    let conn = connect().await;
    let indexes_before = records_indexes(&conn).await;
    t.define(entity(
        "item",
        "items",
        vec![
            field("code", "TEXT", json!({"indexed": true})),
            field("price", "CURRENCY", json!({"indexed": true})),
            field("note", "TEXT", json!({})),
            // Unique, not indexed: its "value taken" check reads a slot too.
            field("sku", "TEXT", json!({"unique": true})),
        ],
        json!({}),
    ))
    .await;
    let input = json!({"code": "A1", "price": "12.50", "note": "n", "sku": "S1"});
    let id = str_of(&t.create(&item(), input, "").await["id"]);
    let slots = held(&conn, &t, "item").await;
    let (code, price) = (slots["code"].expect("code's slot"), slots["price"].expect("price's slot"));
    let sku = slots["sku"].expect("sku's slot");
    let kinds = (code.kind, price.kind, sku.kind, slots["note"]);
    assert_eq!(kinds, (SlotKind::Text, SlotKind::Number, SlotKind::Text, None), "{slots:?}");
    t.create_raw(&item(), json!({"sku": "S1"}), "").await.expect_field_errors(&["sku"]);
    let want = BTreeMap::from([
        (code.key_column(), "code".to_owned()),
        (price.key_column(), "price".to_owned()),
        (sku.key_column(), "sku".to_owned()),
    ]);
    assert_eq!(record_keys(&conn, &id).await, want);
    // The database derives the values: the numeric slot compares as a number.
    let sql = format!("SELECT COUNT(*) AS n FROM records WHERE id = $1 AND {} = 12.5", price.column());
    assert_eq!(count(&conn, &sql, vec![record_id(&id)]).await, 1);

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
    let slots = held(&conn, &t, "item").await;
    let note = slots["note"].expect("note's slot");
    assert_eq!((slots["code"], slots["price"]), (None, Some(price)), "{slots:?}");
    let want = BTreeMap::from([
        (note.key_column(), "note".to_owned()),
        (price.key_column(), "price".to_owned()),
        (sku.key_column(), "sku".to_owned()),
    ]);
    assert_eq!(record_keys(&conn, &id).await, want, "the existing record follows the slots");

    t.data("mutation { removeField(entity: \"item\", key: \"note\") { id } }", json!({})).await;
    let want =
        BTreeMap::from([(price.key_column(), "price".to_owned()), (sku.key_column(), "sku".to_owned())]);
    assert_eq!(record_keys(&conn, &id).await, want, "a removed field's key leaves its slot");
    assert_eq!(records_indexes(&conn).await, indexes_before, "indexing made or dropped database indexes");

    // An entity has 8 text slots: a ninth indexed text field is refused, and nothing is made.
    let crowded: Vec<Value> =
        (1..=9).map(|i| field(&format!("f{i}"), "TEXT", json!({"indexed": true}))).collect();
    t.define_raw(entity("crowded", "crowdeds", crowded, json!({}))).await.expect_field_errors(&["indexed"]);
    assert!(!t.entity_names().await.contains(&"crowded".to_owned()));
}

fn gadget() -> Names {
    Names::new("gadget", "gadgets")
}

/// Names of the gadgets a list returns, in its order.
async fn names(t: &TestTenant, args: &str, vars: Value) -> Vec<String> {
    pluck_str(&t.list(&gadget(), &format!("{args}, first: 100"), vars, "name").await["nodes"], "name")
}

/// What the gadget queries answer: filtered name sets, orders, and a group-by.
async fn answers(t: &TestTenant) -> Vec<Value> {
    let filters = [
        json!({"stage": {"eq": "B"}}),
        json!({"stage": {"in": ["A", "C"]}}),
        json!({"stage": {"isNull": true}}),
        json!({"price": {"gt": "50.00"}}),
        json!({"price": {"lte": "20.00"}}),
        json!({"qty": {"gte": 3}}),
        json!({"active": {"eq": true}}),
        json!({"due": {"lt": "2026-06-01"}}),
        json!({"tags": {"containsAny": ["x"]}}),
        json!({"tags": {"containsAll": ["x", "y"]}}),
        json!({"name": {"startsWith": "g1"}}),
        json!({"stage": {"eq": "A"}, "price": {"gte": "10.00"}}),
    ];
    let mut out = Vec::new();
    for filter in filters {
        out.push(json!(sorted(names(t, "filter: $filter", json!({ "filter": filter })).await)));
    }
    for field in ["PRICE", "DUE", "STAGE", "QTY"] {
        for direction in ["ASC", "DESC"] {
            let order = json!([{"field": field, "direction": direction}]);
            out.push(json!(names(t, "orderBy: $orderBy", json!({ "orderBy": order })).await));
        }
    }
    out.push(t.data("{ gadgetsAggregate(groupBy: [STAGE]) { group count sum { price } } }", json!({})).await);
    out
}

#[tokio::test]
async fn filters_sorts_and_groups_answer_alike_before_and_after_indexing() {
    let t = tenant().await;
    let fields = vec![
        field("name", "TEXT", json!({})),
        field("stage", "SELECT", json!({"options": ["A", "B", "C"]})),
        field("price", "CURRENCY", json!({})),
        field("qty", "NUMBER", json!({})),
        field("active", "BOOLEAN", json!({})),
        field("due", "DATE", json!({})),
        field("tags", "MULTI_SELECT", json!({"options": ["x", "y", "z"]})),
    ];
    t.define(entity("gadget", "gadgets", fields, json!({}))).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let mut input = json!({"name": format!("g{i:02}"), "qty": i % 5, "active": i % 3 == 0});
        if i % 4 != 3 {
            input["stage"] = json!(["A", "B", "C"][i % 3]);
        }
        if i % 5 != 4 {
            input["price"] = json!(format!("{}.{:02}", (i * 37) % 100, i));
        }
        input["due"] = json!(format!("2026-{:02}-15", 1 + (i * 5) % 12));
        input["tags"] = [json!(["x"]), json!(["x", "y"]), json!(["z"]), json!([])][i % 4].clone();
        ids.push(str_of(&t.create(&gadget(), input, "").await["id"]));
    }
    let before = answers(&t).await;
    for key in ["name", "stage", "price", "qty", "active", "due", "tags"] {
        t.data(
            &format!("mutation {{ updateField(entity: \"gadget\", key: \"{key}\", input: {{indexed: true}}) {{ id }} }}"),
            json!({}),
        )
        .await;
    }
    let conn = connect().await;
    let slots = held(&conn, &t, "gadget").await;
    assert_eq!(
        slots["tags"].is_some(),
        on_postgres(),
        "MULTI_SELECT has a slot on PostgreSQL only: {slots:?}"
    );
    assert!(slots.iter().filter(|(k, _)| *k != "tags").all(|(_, s)| s.is_some()), "{slots:?}");
    let after = answers(&t).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a, "a query answered differently once its fields were indexed");
    }
    // The slots follow the values: an update, a delete and a restore.
    let price = json!({"price": {"gt": "500.00"}});
    t.update(&gadget(), &ids[1], json!({"price": "999.00", "stage": "C"}), "").await;
    assert_eq!(names(&t, "filter: $filter", json!({ "filter": price })).await, strings(&["g01"]));
    let c = json!({"stage": {"eq": "C"}, "price": {"gt": "500.00"}});
    assert_eq!(names(&t, "filter: $filter", json!({ "filter": c })).await, strings(&["g01"]));
    t.delete(&gadget(), &ids[1]).await;
    assert!(names(&t, "filter: $filter", json!({ "filter": price })).await.is_empty());
    t.restore(&gadget(), &ids[1]).await;
    assert_eq!(names(&t, "filter: $filter", json!({ "filter": price })).await, strings(&["g01"]));
}

/// SQLite's plan of `s`.
async fn sqlite_plan(conn: &impl ConnectionTrait, s: &Statement) -> String {
    let explain = Statement::from_sql_and_values(
        conn.get_database_backend(),
        format!("EXPLAIN QUERY PLAN {}", s.sql),
        s.values.clone().map(|v| v.0).unwrap_or_default(),
    );
    let rows = conn.query_all_raw(explain).await.expect("explain");
    rows.iter().map(|r| r.try_get::<String>("", "detail").expect("detail")).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn queries_on_an_indexed_field_use_its_slot_index() {
    let t = tenant().await;
    let options = json!({"indexed": true, "options": ["red", "green", "rare"]});
    let fields =
        vec![field("code", "TEXT", json!({"indexed": true})), field("tags", "MULTI_SELECT", options)];
    t.define(entity("item", "items", fields, json!({}))).await;
    t.create(&item(), json!({"code": "C007", "tags": ["rare", "red"]}), "").await;
    let conn = connect().await;
    let db = entity::Db::connect(&database().url).await.expect("connect");
    let meta = TenantMeta::load_for(&db, &t.tenant_id).await.expect("metadata");
    let e = meta.entity_by_name("item").expect("item").clone();
    // Realistic volume and fresh statistics: on a few pages without statistics any planner
    // may scan sequentially or pick another index.
    let bulk = if on_postgres() {
        "INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
         SELECT gen_random_uuid(), $1, $2, jsonb_build_object('code', 'B' || g, 'tags', \
         jsonb_build_array(CASE WHEN g % 2 = 0 THEN 'red' ELSE 'green' END)), now(), now(), 1 \
         FROM generate_series(1, 5000) g"
    } else {
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 5000) \
         INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
         SELECT lower(hex(randomblob(16))), $1, $2, json_object('code', 'B' || n), '2026-01-01T00:00:00.000Z', \
         '2026-01-01T00:00:00.000Z', 1 FROM g"
    };
    conn.execute_raw(stmt(&conn, bulk, vec![t.tenant_id.clone().into(), e.id.clone().into()]))
        .await
        .expect("bulk insert");
    fill_slots(&conn, &t.tenant_id).await;
    conn.execute_unprepared("ANALYZE records").await.expect("analyze");
    let store = Store::new(&db, &t.tenant_id);
    let slots = held(&conn, &t, "item").await;
    let code_index = format!("records_{}", slots["code"].expect("code's slot").column());
    let filter = Filter::parse(&e, &json!({"code": {"eq": "C007"}})).expect("filter");
    let s = store.list_statement(&e, &page(Direction::Desc, Some(filter)), 50).expect("statement");
    if on_postgres() {
        for plan in pg_plans(&t.tenant_id, &s).await {
            assert!(plan.contains(&code_index), "the plan does not use {code_index}:\n{plan}");
        }
        let tags_index = format!("records_{}", slots["tags"].expect("tags' slot").column());
        let filter = Filter::parse(&e, &json!({"tags": {"containsAny": ["rare"]}})).expect("filter");
        let s = store.list_statement(&e, &page(Direction::Desc, Some(filter)), 50).expect("statement");
        for plan in pg_plans(&t.tenant_id, &s).await {
            assert!(plan.contains(&tags_index), "the plan does not use {tags_index}:\n{plan}");
        }
        let found = t
            .list(&item(), "filter: $filter", json!({"filter": {"tags": {"containsAny": ["rare"]}}}), "tags")
            .await;
        assert_eq!(found["totalCount"], json!(1));
    } else {
        let plan = sqlite_plan(&conn, &s).await;
        assert!(plan.contains(&code_index), "the plan does not use {code_index}:\n{plan}");
    }
    let found = t.list(&item(), "filter: $filter", json!({"filter": {"code": {"eq": "C007"}}}), "code").await;
    assert_eq!(found["totalCount"], json!(1));
    let found = t.list(&item(), "filter: $filter", json!({"filter": {"code": {"eq": "B42"}}}), "code").await;
    assert_eq!(found["totalCount"], json!(1), "bulk rows are found through the slot");
}

#[tokio::test]
async fn a_create_checked_against_replaced_definitions_is_retried_with_the_current_ones() {
    let t = tenant().await;
    t.define(entity("item", "items", vec![field("code", "TEXT", json!({}))], json!({}))).await;
    let db = entity::Db::connect(&database().url).await.expect("connect");
    // Definitions as a request loaded them, then a change marks the field indexed before
    // the request's create is written: written as they were, the record would lack the slot.
    let stale = TenantMeta::load_for(&db, &t.tenant_id).await.expect("metadata");
    t.data(
        "mutation { updateField(entity: \"item\", key: \"code\", input: {indexed: true}) { id } }",
        json!({}),
    )
    .await;
    let actor = entity::runtime::audit::Actor::default();
    let e = stale.entity_by_name("item").expect("item");
    let input = json!({"code": "late"}).as_object().cloned().expect("object");
    let w = WriteRequest {
        meta: &stale,
        entity: e,
        input: &input,
        owner: None,
        caller: Caller::unrestricted(&actor),
    };
    let record = Store::new(&db, &t.tenant_id)
        .create(w)
        .await
        .expect("the create is retried with the current definitions");
    let conn = connect().await;
    let code = held(&conn, &t, "item").await["code"].expect("code's slot");
    assert_eq!(
        record_keys(&conn, &record.id).await,
        BTreeMap::from([(code.key_column(), "code".to_owned())])
    );
    let found = t.list(&item(), "filter: $filter", json!({"filter": {"code": {"eq": "late"}}}), "code").await;
    assert_eq!(found["totalCount"], json!(1));
}

/// Records of the tenant's `item` entity whose `column` is not `key` (NULL counts).
async fn without_key(conn: &impl ConnectionTrait, t: &TestTenant, column: &str, key: Option<&str>) -> i64 {
    let test = match key {
        Some(k) => format!("({column} IS NULL OR {column} <> '{k}')"),
        None => format!("{column} IS NOT NULL"),
    };
    let sql = format!(
        "SELECT COUNT(*) AS n FROM records r JOIN entity_defs e ON e.id = r.entity_id \
         WHERE r.tenant_id = $1 AND e.name_singular = 'item' AND {test}"
    );
    count(conn, &sql, vec![t.tenant_id.clone().into()]).await
}

/// How long a test waits for the index job: two minutes (a loaded machine).
const INDEX_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

#[tokio::test]
async fn a_large_entity_is_indexed_by_a_job_and_answers_alike_meanwhile() {
    let t = tenant().await;
    t.define(entity("item", "items", vec![field("code", "TEXT", json!({}))], json!({}))).await;
    let conn = connect().await;
    let db = entity::Db::connect(&database().url).await.expect("connect");
    let e = TenantMeta::load_for(&db, &t.tenant_id)
        .await
        .expect("metadata")
        .entity_by_name("item")
        .expect("item")
        .id
        .clone();
    // More records than one batch of the definition change's own transaction.
    let n = entity::runtime::indexes::BATCH + 700;
    let bulk = if on_postgres() {
        format!(
            "INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
             SELECT gen_random_uuid(), $1, $2, jsonb_build_object('code', 'B' || g), now(), now(), 1 \
             FROM generate_series(1, {n}) g"
        )
    } else {
        format!(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {n}) \
             INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
             SELECT lower(hex(randomblob(16))), $1, $2, json_object('code', 'B' || n), \
             '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1 FROM g"
        )
    };
    let values = vec![t.tenant_id.clone().into(), e.into()];
    conn.execute_raw(stmt(&conn, &bulk, values)).await.expect("bulk insert");
    let find = |code: &'static str| {
        let t = &t;
        async move {
            t.list(&item(), "filter: $filter", json!({"filter": {"code": {"eq": code}}}), "code").await["totalCount"]
                .clone()
        }
    };
    t.data(
        "mutation { updateField(entity: \"item\", key: \"code\", input: {indexed: true}) { id } }",
        json!({}),
    )
    .await;
    // Assigned at once; while the job fills it, queries compare the JSON value: same answers.
    let code = held(&conn, &t, "item").await["code"].expect("code's slot");
    assert_eq!(find("B42").await, json!(1));
    t.create(&item(), json!({"code": "C007"}), "").await;
    assert_eq!(find("C007").await, json!(1));
    let ready =
        "SELECT COUNT(*) AS n FROM field_defs WHERE tenant_id = $1 AND key = 'code' AND index_ready = TRUE";
    eventually("the job to mark the slot ready", INDEX_WAIT, async || {
        count(&conn, ready, vec![t.tenant_id.clone().into()]).await == 1
    })
    .await;
    assert_eq!(
        without_key(&conn, &t, &code.key_column(), Some("code")).await,
        0,
        "every record carries the key"
    );
    assert_eq!((find("B42").await, find("C007").await), (json!(1), json!(1)));

    // Unmarked: the slot is free at once and a job takes its key out of every record.
    t.data(
        "mutation { updateField(entity: \"item\", key: \"code\", input: {indexed: false}) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(held(&conn, &t, "item").await["code"], None);
    eventually("the job to clear the freed slot", INDEX_WAIT, async || {
        without_key(&conn, &t, &code.key_column(), None).await == 0
    })
    .await;
    assert_eq!(find("B42").await, json!(1));
}

//! The plans of the data path, pinned on PostgreSQL: EXPLAIN of exactly the statements the
//! record store builds (`Store::list_statement`, `store::get_statement`,
//! `aggregate::statement`) for a tenant with 20,000 deals among 100,000 records (the rest
//! leads with the same fields), run as the application role under row-level security, at the
//! first and the sixth execution of the prepared statement (custom, then possibly the generic
//! plan PostgreSQL caches after five executions: statements name the entity by parameter, or
//! by literal when they test an indexed field, see `sql::EntityRef`), and the generic plan
//! itself, which must be as good: else PostgreSQL plans every execution anew.
//! - a page, oldest or newest first, walks `records_live_order_idx` with no sort step;
//! - a filter that is not selective (stage = Proposal AND amount > 50,000: one deal in ten)
//!   walks a page order (the list order, or the stage's slot index, whose matches come in
//!   that order)
//!   and stops after the page, instead of fetching every match and sorting;
//! - a get by id is one primary-key probe, and so is each id of its to-one relations or of an
//!   `id` filter's list;
//! - a group-by reads the entity's records through an index, never the whole table.
//!
//! On SQLite the page's plan is checked too: the same index, no temporary B-tree for ORDER BY.

use entity::runtime::aggregate;
use entity::runtime::field_key::FieldKey;
use entity::runtime::figures::{Figure, Figures};
use entity::runtime::filter::{Filter, Target};
use entity::runtime::meta::TenantMeta;
use entity::runtime::sql::{Direction, SortKey};
use entity::runtime::store::{self, ListArgs, Store};
use entity::{Db, Dialect};
use sea_orm::{ConnectionTrait, Statement, Value as SqlValue};
use serde_json::json;

use crate::harness::*;
use crate::rls::{connect, on_postgres, stmt};

const ORDER_INDEX: &str = "records_live_order_idx";

/// A tenant with `deal` and `lead` (name, stage indexed, amount indexed) and bulk rows: 20,000
/// deals and 80,000 leads (SQLite: 2,000 records), statistics fresh. Returns (tenant, its metadata, a connection).
async fn bulk_tenant() -> (TestTenant, TenantMeta, Db) {
    let t = tenant().await;
    // The same fields on both entities, as many tenants of one template have them: the
    // planner's statistics of a field expression are shared by every entity with that field.
    for (singular, plural) in [("lead", "leads"), ("deal", "deals")] {
        t.define(entity(
            singular,
            plural,
            vec![
                field("name", "TEXT", json!({})),
                field(
                    "stage",
                    "SELECT",
                    json!({"indexed": true, "options": ["New", "Qualified", "Proposal", "Won", "Lost"]}),
                ),
                field("amount", "CURRENCY", json!({"indexed": true})),
            ],
            json!({}),
        ))
        .await;
    }
    // Another entity's near-unique field in the same text slot as `stage`: the slot column's
    // statistics mix them, as they do across tenants (migration 24's fixed distinct count).
    t.define(entity("person", "people", vec![field("email", "EMAIL", json!({"indexed": true}))], json!({})))
        .await;
    let db = Db::connect(&database().url).await.expect("connect");
    let meta = TenantMeta::load_for(&db, &t.tenant_id).await.expect("metadata");
    let deal = meta.entity_by_name("deal").expect("deal").id.clone();
    let lead = meta.entity_by_name("lead").expect("lead").id.clone();
    let conn = connect().await;
    let bulk = if on_postgres() {
        "INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
         SELECT gen_random_uuid(), $1, CASE WHEN g % 5 = 0 THEN $2 ELSE $3 END, \
         jsonb_build_object('name', 'Record ' || g, \
           'stage', (ARRAY['New','Qualified','Proposal','Won','Lost'])[1 + (g / 5) % 5], \
           'amount', to_char((g * 7919) % 100000, 'FM999999') || '.00'), \
         timestamptz '2025-01-01' + g * interval '1 minute', timestamptz '2025-01-01' + g * interval '1 minute', 1 \
         FROM generate_series(1, 100000) g"
    } else {
        // SQLite's plan choice does not hinge on volume; a long bulk write would only hold
        // the database's single write lock against every other test.
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 2000) \
         INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
         SELECT lower(hex(randomblob(16))), $1, CASE WHEN n % 5 = 0 THEN $2 ELSE $3 END, \
         json_object('name', 'Record ' || n, \
           'stage', CASE (n / 5) % 5 WHEN 0 THEN 'New' WHEN 1 THEN 'Qualified' WHEN 2 THEN 'Proposal' \
             WHEN 3 THEN 'Won' ELSE 'Lost' END, \
           'amount', printf('%d.00', (n * 7919) % 100000)), \
         strftime('%Y-%m-%dT%H:%M:%S.000Z', '2025-01-01', '+' || n || ' minutes'), \
         strftime('%Y-%m-%dT%H:%M:%S.000Z', '2025-01-01', '+' || n || ' minutes'), 1 FROM g"
    };
    conn.execute_raw(stmt(&conn, bulk, vec![t.tenant_id.clone().into(), deal.into(), lead.into()]))
        .await
        .expect("bulk insert");
    let person = meta.entity_by_name("person").expect("person").id.clone();
    let people = if on_postgres() {
        "INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
         SELECT gen_random_uuid(), $1, $2, jsonb_build_object('email', 'p' || g || '@example.com'), \
         now(), now(), 1 FROM generate_series(1, 2000) g"
    } else {
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1000) \
         INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
         SELECT lower(hex(randomblob(16))), $1, $2, json_object('email', 'p' || n || '@example.com'), \
         '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1 FROM g"
    };
    conn.execute_raw(stmt(&conn, people, vec![t.tenant_id.clone().into(), person.into()]))
        .await
        .expect("bulk insert");
    crate::indexes::fill_slots(&conn, &t.tenant_id).await;
    conn.execute_unprepared("ANALYZE records").await.expect("analyze");
    (t, meta, db)
}

/// A bound value as an SQL literal (for `EXECUTE p(…)`).
fn literal(v: &SqlValue) -> String {
    match v {
        SqlValue::String(Some(s)) => format!("'{}'", s.replace('\'', "''")),
        SqlValue::BigInt(Some(n)) => n.to_string(),
        SqlValue::Int(Some(n)) => n.to_string(),
        SqlValue::Bool(Some(b)) => b.to_string(),
        SqlValue::Uuid(Some(u)) => format!("'{u}'::uuid"),
        SqlValue::Json(Some(j)) => format!("'{}'::jsonb", j.to_string().replace('\'', "''")),
        other => panic!("no literal for {other:?}"),
    }
}

/// The plans of `s` on PostgreSQL, as the application role of `tenant`, at its first and its
/// sixth execution, and its generic plan.
pub(crate) async fn pg_plans(tenant_id: &str, s: &Statement) -> [String; 3] {
    let app = connect().await;
    let run = |sql: String| {
        let app = &app;
        async move {
            let rows =
                app.query_all_raw(stmt(app, &sql, vec![])).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter().map(|r| r.try_get::<String>("", "QUERY PLAN").expect("plan line")).collect::<Vec<_>>()
        }
    };
    app.execute_unprepared("BEGIN").await.expect("begin");
    app.execute_unprepared("SET LOCAL ROLE alphery_app").await.expect("set role");
    app.execute_unprepared(&format!("SELECT set_config('app.tenant_id', '{tenant_id}', true)"))
        .await
        .expect("set tenant");
    app.execute_unprepared(&format!("PREPARE p AS {}", s.sql)).await.expect("prepare");
    let args: Vec<String> = s.values.iter().flat_map(|v| v.0.iter()).map(literal).collect();
    let execute =
        if args.is_empty() { "EXECUTE p".to_owned() } else { format!("EXECUTE p({})", args.join(", ")) };
    // The first execution (a custom plan), and the sixth: past the five executions after
    // which PostgreSQL may settle on a generic plan for the prepared statement.
    let first = run(format!("EXPLAIN {execute}")).await.join("\n");
    for _ in 0..5 {
        app.query_all_raw(stmt(&app, &execute, vec![])).await.expect("execute");
    }
    let sixth = run(format!("EXPLAIN {execute}")).await.join("\n");
    // The generic plan itself: when it is far worse than the custom ones PostgreSQL never
    // settles on it and plans every execution afresh, which costs more than most executions.
    app.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan").await.expect("generic");
    let generic = run(format!("EXPLAIN {execute}")).await.join("\n");
    app.execute_unprepared("ROLLBACK").await.expect("rollback");
    app.execute_unprepared("DEALLOCATE ALL").await.expect("deallocate");
    [first, sixth, generic]
}

pub(crate) fn page(order: Direction, filter: Option<Filter>) -> ListArgs {
    ListArgs {
        filter,
        order: vec![SortKey { target: Target::CreatedAt, direction: order }],
        first: Some(50),
        ..ListArgs::default()
    }
}

#[tokio::test]
async fn the_data_path_walks_the_indexes_it_should() {
    let (t, meta, db) = bulk_tenant().await;
    let deal = meta.entity_by_name("deal").expect("deal").clone();
    let store = Store::new(&db, &t.tenant_id);

    if !on_postgres() {
        let s = store.list_statement(&deal, &page(Direction::Desc, None), 50).expect("statement");
        let conn = connect().await;
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                conn.get_database_backend(),
                format!("EXPLAIN QUERY PLAN {}", s.sql),
                s.values.map(|v| v.0).unwrap_or_default(),
            ))
            .await
            .expect("explain");
        let plan: Vec<String> =
            rows.iter().map(|r| r.try_get::<String>("", "detail").expect("detail")).collect();
        let plan = plan.join("\n");
        assert!(plan.contains(ORDER_INDEX) && !plan.contains("TEMP B-TREE"), "page plan:\n{plan}");
        return;
    }
    assert_eq!(db.dialect, Dialect::Postgres);

    // Pages in both directions: an index walk, no sort.
    for direction in [Direction::Asc, Direction::Desc] {
        let s = store.list_statement(&deal, &page(direction, None), 50).expect("statement");
        for plan in pg_plans(&t.tenant_id, &s).await {
            assert!(plan.contains(ORDER_INDEX) && !plan.contains("Sort"), "{direction:?} page plan:\n{plan}");
        }
    }

    // A filter matching one deal in ten: walk the order, test each row, stop after the page.
    let filter = Filter::parse(&deal, &json!({"stage": {"eq": "Proposal"}, "amount": {"gt": "50000"}}))
        .expect("filter");
    let s = store.list_statement(&deal, &page(Direction::Desc, Some(filter)), 50).expect("statement");
    // Per entity, so the tenant is a literal as well: a generic plan with `tenant_id = $1`
    // estimates the tenant's share from the number of tenants, and on the yardstick (one
    // tenant with 200,000 of 1.4 M records) walked the wrong index and sorted, so every
    // execution was planned afresh.
    assert!(s.sql.contains(&format!("tenant_id = '{}'", t.tenant_id)), "tenant literal: {}", s.sql);
    for plan in pg_plans(&t.tenant_id, &s).await {
        let walks = plan.contains(ORDER_INDEX) || plan.contains("records_ix_");
        assert!(walks && !plan.contains("Sort"), "filtered page plan:\n{plan}");
    }

    // A get by id: the primary key.
    let s = store::get_statement(Dialect::Postgres, &t.tenant_id, &deal, &uuid::Uuid::new_v4().to_string());
    for plan in pg_plans(&t.tenant_id, &s).await {
        assert!(plan.contains("records_pkey"), "get plan:\n{plan}");
    }

    // A get with its to-one relations, and a filter on `id`: each id a primary-key probe. The
    // ids computed from a relation value or a list are cast to `uuid`, a cast row-level
    // security keeps out of the scan of `records` (it is not leakproof): unless the statement
    // computes them apart (the relation's ids as one array ahead of the scan, a list in a
    // fenced subquery), the probe becomes a read of the tenant's every record.
    let id = uuid::Uuid::new_v4().to_string();
    let name = FieldKey::new("name").expect("a key");
    let s = store::get_with_targets_statement(Dialect::Postgres, &t.tenant_id, &deal, &id, &[&name])
        .expect("statement");
    for plan in pg_plans(&t.tenant_id, &s).await {
        assert_eq!(plan.matches("records_pkey").count(), 2, "get with relations plan:\n{plan}");
        assert!(plan.contains("= ANY ($"), "the relation's ids as one array parameter:\n{plan}");
        assert!(!plan.contains("Hash"), "no hash step for one record's relations:\n{plan}");
    }
    let ids: Vec<String> = (0..3).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let filter = Filter::parse(&deal, &json!({"id": {"in": ids}})).expect("filter");
    let s = store.list_statement(&deal, &page(Direction::Desc, Some(filter)), 50).expect("statement");
    for plan in pg_plans(&t.tenant_id, &s).await {
        assert!(plan.contains("records_pkey"), "id in-list plan:\n{plan}");
    }

    // count + sum(amount) by stage: the entity's rows through an index, not the whole table.
    let stage = deal.field_by_key("stage").expect("stage").clone();
    let mut figures = Figures::default();
    figures.ask(Figure::Sum, "amount");
    let s = aggregate::statement(
        Dialect::Postgres,
        &t.tenant_id,
        &deal,
        None,
        &[Target::Field(Box::new(stage))],
        &figures,
    )
    .expect("statement");
    assert!(!s.sql.contains("MIN(") && !s.sql.contains("MAX("), "only the asked figures: {}", s.sql);
    for plan in pg_plans(&t.tenant_id, &s).await {
        assert!(!plan.contains("Seq Scan"), "group-by plan:\n{plan}");
    }
}

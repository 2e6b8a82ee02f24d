//! Every SeaORM model matches the database: on a freshly migrated database of the test's own,
//! each model of `entity::models` selects one row (`find().limit(1)` names every column of the
//! model, so a missing or misnamed column fails), and every table the migrations create has a
//! model. On the suite's shared database, after the server has written a tenant's records,
//! dashboards, audit entries and the like, the same reads also decode real rows (the columns'
//! types fit the model's).

use std::collections::BTreeSet;

use entity::models::*;
use migration::MigratorTrait;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityName, EntityTrait, QuerySelect, Statement,
};
use serde_json::json;

use crate::harness::*;
use crate::processes::Scratch;

/// Reads one row of `E` (if it has any); the failure names the table.
async fn one_row<E: EntityTrait>(conn: &DatabaseConnection) -> Result<(), String> {
    let table = E::default().table_name().to_owned();
    E::find().limit(1).all(conn).await.map(drop).map_err(|e| format!("{table}: {e}"))
}

/// Runs `one_row` for every model; returns the models' tables and what failed.
macro_rules! every_model {
    ($conn:expr, $($model:ident),+ $(,)?) => {{
        let (mut tables, mut failed) = (BTreeSet::new(), Vec::new());
        $(
            tables.insert($model::Entity.table_name().to_owned());
            if let Err(e) = one_row::<$model::Entity>($conn).await {
                failed.push(e);
            }
        )+
        (tables, failed)
    }};
}

/// `every_model` over the whole of `entity::models`.
async fn read_every_model(conn: &DatabaseConnection) -> (BTreeSet<String>, Vec<String>) {
    every_model!(
        conn,
        ai_budget,
        ai_provider,
        ai_usage,
        api_key,
        approval_decision,
        approval_policy,
        approval_request,
        audit_head,
        audit_log,
        confidence_score,
        confidence_signal,
        confidence_weight,
        customer_memory,
        crm_role,
        dashboard,
        email,
        entity_def,
        export_job,
        field_def,
        file,
        focus_rule,
        import,
        import_error,
        module,
        notification,
        oidc_identity,
        oidc_login,
        oidc_provider,
        outbox,
        password_reset,
        record,
        record_closure,
        record_counter,
        record_rollup,
        record_search,
        record_uid,
        retired_refresh_token,
        role,
        session,
        stock_balance,
        subject_key,
        tenant,
        tenant_template,
        totp_recovery_code,
        uid_counter,
        user,
        user_attribute,
        user_totp,
        webhook,
        webhook_delivery,
        workflow,
        workflow_run,
        workflow_step,
    )
}

/// Tables not of the platform: the migrations' bookkeeping and apalis' job queue (SQLite keeps
/// it in the same schema; on PostgreSQL it has a schema of its own).
const NOT_PLATFORM: &[&str] = &["seaql_migrations", "_sqlx_migrations", "Jobs", "Workers"];

/// The tables of the database's application schema.
async fn tables(conn: &DatabaseConnection) -> BTreeSet<String> {
    let backend = conn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        }
        // Plain tables only: an FTS5 table and its shadow tables are the search index's own.
        _ => {
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
    };
    let rows = conn.query_all_raw(Statement::from_string(backend, sql)).await.expect("list the tables");
    rows.iter()
        .map(|r| r.try_get::<String>("", "name").expect("a table name"))
        .filter(|name| !NOT_PLATFORM.contains(&name.as_str()))
        .collect()
}

#[tokio::test]
async fn every_model_matches_a_migrated_database_and_every_table_has_a_model() {
    let scratch = Scratch::new("models").await;
    let system = entity::Db::connect(&scratch.url).await.expect("connect");
    migration::Migrator::up(&system.conn, None).await.expect("migrate");

    let (modelled, failed) = read_every_model(&system.conn).await;
    let created = tables(&system.conn).await;
    drop(system);
    scratch.remove().await;
    assert!(failed.is_empty(), "models that do not match their table: {failed:#?}");
    let unmodelled: Vec<&String> = created.difference(&modelled).collect();
    assert!(unmodelled.is_empty(), "tables without a model in entity::models: {unmodelled:?}");
    let tableless: Vec<&String> = modelled.difference(&created).collect();
    assert!(tableless.is_empty(), "models without a table: {tableless:?}");
}

#[tokio::test]
async fn every_model_reads_the_rows_the_server_writes() {
    let t = tenant().await;
    let item = Names::new("item", "items");
    t.define(entity(
        "item",
        "items",
        vec![
            field("code", "TEXT", json!({"indexed": true})),
            field("weight", "NUMBER", json!({"indexed": true})),
            field("fragile", "BOOLEAN", json!({"indexed": true})),
            field("stage", "SELECT", json!({"options": ["New", "Done"]})),
            field("price", "CURRENCY", json!({})),
        ],
        json!({"recordNumberPrefix": "ITM"}),
    ))
    .await;
    let input = json!({"code": "A1", "weight": 2.5, "fragile": true, "stage": "New", "price": "12.50"});
    t.create(&item, input, "").await;
    let board = json!({"key": "items", "name": {"en": "Items"}, "widgets": []});
    t.data("mutation($i: DashboardInput!) { createDashboard(input: $i) { id } }", json!({"i": board})).await;

    let conn = crate::rls::connect().await;
    let (_, failed) = read_every_model(&conn).await;
    assert!(failed.is_empty(), "rows that do not decode into their model: {failed:#?}");
}

//! PostgreSQL row-level security, checked from the database side: connected as the application
//! role `alphery_app` (what the server does), a raw query with no tenant filter sees exactly the
//! tenant named by `app.tenant_id` (nothing when it is unset or empty, and then nothing can be
//! written either), an INSERT for another tenant is refused by `WITH CHECK`, the role is
//! neither superuser nor `BYPASSRLS` and owns no table, and every tenant table has `ENABLE` +
//! `FORCE ROW LEVEL SECURITY`. On SQLite (no RLS) each test checks the same isolation through
//! the API instead and says that RLS is PostgreSQL-only.
//!
//! Also home of the raw database helpers the audit tests use (`connect`, `stmt`, `count`).

use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    Statement, TransactionTrait,
};
use serde_json::{Value, json};

use crate::harness::{Names, TestTenant, database, entity, field, str_of, tenant};

use migration::APP_ROLE;

// ---------------------------------------------------------------------------------------------
// Raw database access (shared with `audit`)
// ---------------------------------------------------------------------------------------------

/// Whether the suite runs on PostgreSQL.
pub fn on_postgres() -> bool {
    database().url.starts_with("postgres")
}

/// A direct connection to the suite's database as the URL's user (a superuser on PostgreSQL).
/// One physical connection, so session settings such as `SET ROLE` hold for every statement.
pub async fn connect() -> DatabaseConnection {
    let mut options = ConnectOptions::new(database().url.clone());
    options.max_connections(1).min_connections(1).sqlx_logging(false);
    sea_orm::Database::connect(options).await.expect("connect to the test database")
}

/// A connection that acts as the application's connection (`SET ROLE alphery_app`).
pub async fn connect_as_app() -> DatabaseConnection {
    let conn = connect().await;
    conn.execute_unprepared(&format!("SET ROLE {APP_ROLE}")).await.expect("SET ROLE alphery_app");
    conn
}

/// A statement for the connection's backend, written with `$1`, `$2`, … placeholders used in
/// order (rewritten to `?` on SQLite).
pub fn stmt(conn: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let backend = conn.get_database_backend();
    let mut sql = sql.to_owned();
    if backend == DbBackend::Sqlite {
        for i in (1..=values.len()).rev() {
            sql = sql.replace(&format!("${i}"), "?");
        }
    }
    Statement::from_sql_and_values(backend, sql, values)
}

/// A record id as a statement value for `records.id`: a `uuid` on PostgreSQL, text on SQLite.
pub fn record_id(id: &str) -> sea_orm::Value {
    if on_postgres() {
        uuid::Uuid::try_parse(id).unwrap_or_else(|e| panic!("record id {id:?}: {e}")).into()
    } else {
        id.into()
    }
}

/// The single `BIGINT`/`INTEGER` column `n` of a one-row query.
pub async fn count(conn: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) -> i64 {
    let row = conn
        .query_one_raw(stmt(conn, sql, values))
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    row.try_get("", "n").unwrap_or_else(|err| panic!("{sql}: column n: {err}"))
}

/// Runs a statement that must fail; returns the lowercased error text.
pub async fn expect_refused(conn: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) -> String {
    match conn.execute_raw(stmt(conn, sql, values)).await {
        Ok(result) => panic!("expected {sql} to fail, it affected {} rows", result.rows_affected()),
        Err(err) => err.to_string().to_lowercase(),
    }
}

// ---------------------------------------------------------------------------------------------
// Fixture: two tenants with records
// ---------------------------------------------------------------------------------------------

fn note() -> Names {
    Names::new("note", "notes")
}

/// A tenant with a `note` entity and `n` notes; returns it with the note ids and the entity id.
async fn tenant_with_notes(n: usize) -> (TestTenant, Vec<String>, String) {
    let t = tenant().await;
    let definition =
        t.define(entity("note", "notes", vec![field("body", "TEXT", json!({}))], json!({}))).await;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(str_of(&t.create(&note(), json!({ "body": format!("{} #{i}", t.slug) }), "").await["id"]));
    }
    (t, ids, str_of(&definition["id"]))
}

struct Fixture {
    a: TestTenant,
    a_notes: Vec<String>,
    a_entity: String,
    b: TestTenant,
    b_notes: Vec<String>,
    b_entity: String,
}

/// Tenant A with 3 notes and tenant B with 2, asserting through the API that each sees only
/// its own (on both backends).
async fn fixture() -> Fixture {
    let (a, a_notes, a_entity) = tenant_with_notes(3).await;
    let (b, b_notes, b_entity) = tenant_with_notes(2).await;
    for (t, own, other) in [(&a, &a_notes, &b_notes), (&b, &b_notes, &a_notes)] {
        let list = t.list(&note(), "", json!({}), "").await;
        assert_eq!(list["totalCount"], json!(own.len()), "{}'s notes: {list}", t.slug);
        assert_eq!(t.get(&note(), &other[0], "body").await, Value::Null, "another tenant's note");
    }
    if !on_postgres() {
        eprintln!("rls: row-level security is PostgreSQL-only; on SQLite checked isolation through the API");
    }
    Fixture { a, a_notes, a_entity, b, b_notes, b_entity }
}

/// The fixture and, on PostgreSQL, a connection acting as the application's (`None` on
/// SQLite, where the fixture has checked isolation through the API).
async fn fixture_as_app() -> Option<(Fixture, DatabaseConnection)> {
    let f = fixture().await;
    if !on_postgres() {
        return None;
    }
    Some((f, connect_as_app().await))
}

/// A transaction on the app connection with `app.tenant_id` set to `tenant_id` (or unset),
/// as the server's `begin_tenant_read` and `begin_tenant_write` do.
async fn app_txn(app: &DatabaseConnection, tenant_id: Option<&str>) -> DatabaseTransaction {
    let txn = app.begin().await.expect("begin");
    if let Some(id) = tenant_id {
        txn.execute_raw(stmt(&txn, "SELECT set_config('app.tenant_id', $1, true)", vec![id.into()]))
            .await
            .expect("set app.tenant_id");
    }
    txn
}

/// `SELECT count(*) FROM <table>` (no filter at all) as the app role for `tenant_id`.
async fn app_count(app: &DatabaseConnection, table: &str, tenant_id: Option<&str>) -> i64 {
    let txn = app_txn(app, tenant_id).await;
    let n = count(&txn, &format!("SELECT count(*) AS n FROM {table}"), vec![]).await;
    txn.rollback().await.expect("rollback");
    n
}

/// A raw INSERT of a record for `tenant_id` as the app role while `app.tenant_id` is
/// `current` (rolled back either way).
async fn app_insert_record(
    app: &DatabaseConnection,
    current: &str,
    tenant_id: &str,
    entity_id: &str,
) -> Result<ExecResult, DbErr> {
    let txn = app_txn(app, Some(current)).await;
    let sql = "INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at) \
               VALUES ($1, $2, $3, '{}'::jsonb, now(), now())";
    let values = vec![record_id(&uuid::Uuid::new_v4().to_string()), tenant_id.into(), entity_id.into()];
    let result = txn.execute_raw(stmt(&txn, sql, values)).await;
    txn.rollback().await.expect("rollback");
    result
}

/// What the API says a tenant has: users, entity definitions and audit entries.
async fn api_counts(t: &TestTenant) -> (i64, i64, i64) {
    let data = t.data("{ users { id } entities { id } auditLog { totalCount } }", json!({})).await;
    let len = |v: &Value| v.as_array().expect("a list").len() as i64;
    (
        len(&data["users"]),
        len(&data["entities"]),
        data["auditLog"]["totalCount"].as_i64().expect("totalCount"),
    )
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn app_role_sees_only_the_tenant_in_app_tenant_id() {
    let Some((f, app)) = fixture_as_app().await else { return };
    for (t, notes) in [(&f.a, &f.a_notes), (&f.b, &f.b_notes)] {
        let (users, entities, audit) = api_counts(t).await;
        let id = Some(t.tenant_id.as_str());
        let seen = [
            app_count(&app, "records", id).await,
            app_count(&app, "users", id).await,
            app_count(&app, "entity_defs", id).await,
            app_count(&app, "audit_log", id).await,
        ];
        assert_eq!(
            seen,
            [notes.len() as i64, users, entities, audit],
            "records, users, entity_defs, audit_log of {}",
            t.slug
        );
    }
    for table in ["records", "users", "entity_defs", "audit_log"] {
        assert_eq!(app_count(&app, table, None).await, 0, "{table} without app.tenant_id");
    }
}

/// The server's reads send the tenant with the statement in one simple-protocol message
/// (`entity::db::ReadScope`), trusting PostgreSQL to run the message as one implicit
/// transaction: the tenant holds for every statement of the message and ends with it, so the
/// next user of the pooled connection starts with none.
#[tokio::test]
async fn a_tenant_sent_with_a_read_holds_for_that_message_only() {
    let Some((f, app)) = fixture_as_app().await else { return };
    let message = format!(
        "SELECT set_config('app.tenant_id', '{}', true); \
         CREATE TEMP TABLE seen_in_message AS SELECT count(*) AS n FROM records",
        f.a.tenant_id
    );
    app.execute_unprepared(&message).await.expect("the read's message");
    let seen = count(&app, "SELECT n FROM seen_in_message", vec![]).await;
    assert_eq!(seen, f.a_notes.len() as i64, "records seen inside the message");
    assert_eq!(app_count(&app, "records", None).await, 0, "records seen by the connection's next statement");
}

#[tokio::test]
async fn app_role_cannot_write_into_another_tenant() {
    let Some((f, app)) = fixture_as_app().await else { return };
    // The statement itself is valid: for the tenant in app.tenant_id it works (rolled back).
    app_insert_record(&app, &f.a.tenant_id, &f.a.tenant_id, &f.a_entity)
        .await
        .expect("an INSERT for the current tenant");
    let err = app_insert_record(&app, &f.a.tenant_id, &f.b.tenant_id, &f.b_entity)
        .await
        .expect_err("an INSERT for another tenant must be refused");
    assert!(err.to_string().contains("row-level security"), "refused by WITH CHECK: {err}");
    // Nothing was written.
    assert_eq!(f.b.list(&note(), "", json!({}), "").await["totalCount"], json!(f.b_notes.len()));
}

#[tokio::test]
async fn app_role_is_unprivileged_and_every_tenant_table_forces_rls() {
    fixture().await;
    if !on_postgres() {
        return;
    }
    let conn = connect().await;
    let row = conn
        .query_one_raw(stmt(
            &conn,
            "SELECT rolbypassrls, rolsuper FROM pg_roles WHERE rolname = $1",
            vec![APP_ROLE.into()],
        ))
        .await
        .expect("query pg_roles")
        .expect("the role alphery_app exists");
    let flags: (bool, bool) = (
        row.try_get("", "rolbypassrls").expect("rolbypassrls"),
        row.try_get("", "rolsuper").expect("rolsuper"),
    );
    assert_eq!(flags, (false, false), "alphery_app (rolbypassrls, rolsuper)");
    let owned =
        count(&conn, "SELECT count(*) AS n FROM pg_tables WHERE tableowner = $1", vec![APP_ROLE.into()])
            .await;
    assert_eq!(owned, 0, "tables owned by alphery_app");

    let mut unprotected = Vec::new();
    for table in migration::rls_tables() {
        let row = conn
            .query_one_raw(stmt(
                &conn,
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class \
                 WHERE relname = $1 AND relnamespace = 'public'::regnamespace",
                vec![table.into()],
            ))
            .await
            .expect("query pg_class")
            .unwrap_or_else(|| panic!("table {table} does not exist"));
        let enabled: bool = row.try_get("", "relrowsecurity").expect("relrowsecurity");
        let forced: bool = row.try_get("", "relforcerowsecurity").expect("relforcerowsecurity");
        if !(enabled && forced) {
            unprotected.push(format!("{table} (enable={enabled}, force={forced})"));
        }
    }
    assert!(
        unprotected.is_empty(),
        "tenant tables without ENABLE + FORCE ROW LEVEL SECURITY: {unprotected:?}"
    );
}

/// A transaction on `conn` (a fresh superuser connection) that has planted an `audit_heads`
/// row of the empty tenant (no foreign key refuses one), then acts as the application role
/// with `app.tenant_id` as `setting` says.
async fn planted_app_txn(conn: &DatabaseConnection, setting: Setting) -> DatabaseTransaction {
    if setting == Setting::LeftOver {
        // What a pooled connection carries after an earlier transaction set a tenant: the
        // setting reads back as '' once that transaction ended.
        app_txn(conn, Some(&uuid::Uuid::new_v4().to_string())).await.rollback().await.expect("rollback");
    }
    let txn = conn.begin().await.expect("begin");
    txn.execute_unprepared("INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ('', 0, 'planted')")
        .await
        .expect("plant a row of the empty tenant");
    txn.execute_unprepared(&format!("SET LOCAL ROLE {APP_ROLE}")).await.expect("SET LOCAL ROLE");
    if setting == Setting::Empty {
        txn.execute_unprepared("SELECT set_config('app.tenant_id', '', true)").await.expect("set ''");
    }
    txn
}

/// How `app.tenant_id` stands in `planted_app_txn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setting {
    /// Never set on the connection: `current_setting` is NULL.
    Unset,
    /// Set to `''`.
    Empty,
    /// Set by an earlier transaction of the connection, which ended: reads as `''`.
    LeftOver,
}

/// An empty `app.tenant_id` is exactly an unset one (migration 25): as the application role,
/// no row of any tenant table is visible — not even one whose `tenant_id` is empty — and no
/// row is accepted, whether the setting was never set, set to `''`, or left over by an earlier
/// transaction of the connection; and every policy of the role reads the setting through NULLIF.
#[tokio::test]
async fn an_empty_tenant_setting_sees_and_writes_nothing() {
    let Some((f, _)) = fixture_as_app().await else { return };
    for setting in [Setting::Unset, Setting::Empty, Setting::LeftOver] {
        let conn = connect().await;
        let txn = planted_app_txn(&conn, setting).await;
        for table in migration::rls_tables() {
            let n = count(&txn, &format!("SELECT count(*) AS n FROM {table}"), vec![]).await;
            assert_eq!(n, 0, "rows of {table} visible with app.tenant_id {setting:?}");
        }
        txn.rollback().await.expect("rollback");
        for (sql, values) in [
            ("INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ('', 1, 'x')", vec![]),
            (
                "INSERT INTO tenants (id, name, slug, created_at, updated_at) \
                 VALUES ('', 'Nobody', $1, now(), now())",
                vec![sea_orm::Value::from(uuid::Uuid::new_v4().simple().to_string())],
            ),
        ] {
            let conn = connect().await;
            let txn = planted_app_txn(&conn, setting).await;
            let err = expect_refused(&txn, sql, values).await;
            assert!(err.contains("row-level security"), "{sql} with app.tenant_id {setting:?}: {err}");
            txn.rollback().await.expect("rollback");
        }
    }
    // The fixture's tenants still see their own rows through the API.
    assert_eq!(f.a.list(&note(), "", json!({}), "").await["totalCount"], json!(f.a_notes.len()));
    let conn = connect().await;
    let unguarded = count(
        &conn,
        "SELECT count(*) AS n FROM pg_policies, unnest(ARRAY[qual, with_check]) AS e(expr) \
         WHERE $1 = ANY(roles) AND expr ILIKE '%current_setting%' \
         AND expr NOT ILIKE '%nullif(current_setting%'",
        vec![APP_ROLE.into()],
    )
    .await;
    assert_eq!(unguarded, 0, "policies of {APP_ROLE} reading app.tenant_id without NULLIF");
}

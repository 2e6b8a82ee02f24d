//! The audit trail: record create/update/delete/restore entries (actor, `{field: {old, new}}` of
//! exactly the changed keys, the request id the client sent), authentication, administration
//! and definition events, `verifyAuditChain` (ok on an intact chain; names the tampered entry
//! after a row is changed behind the server's back; other tenants unaffected), the table being
//! append-only at the database level (SQLite triggers; PostgreSQL trigger and grants), and
//! `auditLog` pagination and its restriction to administrators.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, TransactionTrait};
use serde_json::{Value, json};

use crate::fixtures::{define_hospital, hospital_tenant, patient};
use crate::harness::{
    Api, Auth, PASSWORD, Response, TestTenant, assert_utc_millis, entity, field, login, str_of, tenant,
};
use crate::rls::{connect, connect_as_app, count, expect_refused, on_postgres, stmt};

const AUDIT_LOG: &str = "query($f: AuditFilter, $n: Int, $a: String) {
    auditLog(filter: $f, first: $n, after: $a) {
        totalCount pageInfo { hasNextPage endCursor }
        nodes { id seq action objectType objectId actorUserId requestId changes at } } }";

const VERIFY: &str = "{ verifyAuditChain { ok checked firstBrokenSeq firstBrokenId reason } }";

/// `auditLog(filter, first, after)` as the tenant's owner: the connection.
async fn audit_log(t: &TestTenant, filter: Value, first: i64, after: Option<&str>) -> Value {
    t.data(AUDIT_LOG, json!({ "f": filter, "n": first, "a": after })).await["auditLog"].clone()
}

/// The one entry with `action`, asserting there is exactly one.
pub(crate) async fn only_entry(t: &TestTenant, action: &str) -> Value {
    let log = audit_log(t, json!({ "action": action }), 10, None).await;
    assert_eq!(log["totalCount"], json!(1), "entries with action {action}: {log}");
    let entry = log["nodes"][0].clone();
    assert_eq!(entry["action"], json!(action));
    assert_utc_millis(&entry["at"]);
    entry
}

/// `verifyAuditChain` as the tenant's owner.
pub(crate) async fn verify(t: &TestTenant) -> Value {
    t.data(VERIFY, json!({})).await["verifyAuditChain"].clone()
}

/// A GraphQL request as the owner that carries the client's own `x-request-id`.
async fn request_with_id(t: &TestTenant, query: &str, variables: Value, request_id: &str) -> Response {
    let request = t
        .api
        .http
        .post(t.api.url("/graphql"))
        .header("x-request-id", request_id)
        .json(&json!({ "query": query, "variables": variables }));
    let response = t.api.send(Api::with_auth(request, &t.auth())).await;
    assert_eq!(response.header("x-request-id").as_deref(), Some(request_id), "echoed request id");
    response
}

// ---------------------------------------------------------------------------------------------
// Raw rows
// ---------------------------------------------------------------------------------------------

/// `(id, changes as text, hash)` of a tenant's entry `seq`, read directly from the database.
async fn raw_entry(conn: &impl ConnectionTrait, tenant_id: &str, seq: i64) -> (i64, String, String) {
    let row = conn
        .query_one_raw(stmt(
            conn,
            "SELECT id, CAST(changes AS TEXT) AS changes, hash FROM audit_log WHERE tenant_id = $1 AND seq = $2",
            vec![tenant_id.into(), seq.into()],
        ))
        .await
        .expect("read audit_log")
        .unwrap_or_else(|| panic!("no audit entry {seq} for tenant {tenant_id}"));
    (
        row.try_get("", "id").expect("id"),
        row.try_get("", "changes").expect("changes"),
        row.try_get("", "hash").expect("hash"),
    )
}

const TAMPER: &str = "UPDATE audit_log SET changes = $1 WHERE tenant_id = $2 AND seq = $3";
const TAMPER_PG: &str = "UPDATE audit_log SET changes = CAST($1 AS JSONB) WHERE tenant_id = $2 AND seq = $3";
const DELETE: &str = "DELETE FROM audit_log WHERE tenant_id = $1 AND seq = $2";
const SQLITE_NO_UPDATE: &str = "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log \
                                BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END";

fn tamper_sql(conn: &impl ConnectionTrait) -> &'static str {
    if conn.get_database_backend() == DbBackend::Postgres { TAMPER_PG } else { TAMPER }
}

fn tamper_values(tenant_id: &str, seq: i64) -> Vec<sea_orm::Value> {
    vec![r#"{"tampered":true}"#.into(), tenant_id.into(), seq.into()]
}

/// Changes entry `seq`'s `changes` behind the guards: PostgreSQL with triggers disabled for
/// the transaction (replica mode), SQLite by dropping and recreating the update trigger in one
/// transaction (so no other connection ever sees the table unguarded).
async fn tamper(conn: &DatabaseConnection, tenant_id: &str, seq: i64) {
    let txn = conn.begin().await.expect("begin");
    let (before, after) = if on_postgres() {
        ("SET LOCAL session_replication_role = replica", None)
    } else {
        ("DROP TRIGGER audit_log_no_update", Some(SQLITE_NO_UPDATE))
    };
    txn.execute_unprepared(before).await.expect(before);
    let result = txn.execute_raw(stmt(&txn, tamper_sql(&txn), tamper_values(tenant_id, seq))).await;
    assert_eq!(result.expect("tamper with the row").rows_affected(), 1);
    if let Some(after) = after {
        txn.execute_unprepared(after).await.expect("recreate the trigger");
    }
    txn.commit().await.expect("commit");
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn record_changes_are_audited_with_diff_actor_and_request_id() {
    let t = hospital_tenant().await;
    let p = patient();
    let rids: Vec<String> = (0..4).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let created = request_with_id(
        &t,
        "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
        json!({ "i": { "fullName": "Asha Rao", "gender": "female" } }),
        &rids[0],
    )
    .await
    .data();
    let id = str_of(&created["createPatient"]["id"]);
    let by_id = json!({ "id": id });
    request_with_id(
        &t,
        "mutation($id: ID!) { updatePatient(id: $id, input: {fullName: \"Asha R. Rao\", gender: null}) { id } }",
        by_id.clone(),
        &rids[1],
    )
    .await
    .data();
    request_with_id(&t, "mutation($id: ID!) { deletePatient(id: $id) { id } }", by_id.clone(), &rids[2])
        .await
        .data();
    request_with_id(&t, "mutation($id: ID!) { restorePatient(id: $id) { id } }", by_id, &rids[3])
        .await
        .data();

    let log = audit_log(&t, json!({ "objectType": p.singular, "objectId": id }), 10, None).await;
    assert_eq!(log["totalCount"], json!(4), "{log}");
    let nodes = log["nodes"].as_array().expect("nodes");
    let actions: Vec<&str> = nodes.iter().map(|n| n["action"].as_str().expect("action")).collect();
    assert_eq!(
        actions,
        ["record.restore", "record.delete", "record.update", "record.create"],
        "newest first"
    );
    for (node, rid) in nodes.iter().zip(rids.iter().rev()) {
        assert_eq!(node["objectType"], json!("patient"));
        assert_eq!(node["objectId"], json!(id));
        assert_eq!(node["actorUserId"], json!(t.user_id), "{node}");
        assert_eq!(node["requestId"], json!(rid), "the request id of the mutation: {node}");
        assert_utc_millis(&node["at"]);
    }
    let seqs: Vec<i64> = nodes.iter().map(|n| n["seq"].as_i64().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "seq descends: {seqs:?}");
    assert_eq!(
        nodes[2]["changes"],
        json!({ "full_name": { "old": "Asha Rao", "new": "Asha R. Rao" },
                "gender": { "old": "female", "new": null } }),
        "the update's changes hold exactly the changed keys"
    );
    let create = &nodes[3]["changes"];
    assert_eq!(create["full_name"]["new"], json!("Asha Rao"), "{create}");
    assert_eq!(create["gender"]["new"], json!("female"), "{create}");
    assert_eq!(create["full_name"]["old"], Value::Null);
}

#[tokio::test]
async fn authentication_and_administration_events_are_audited() {
    let t = tenant().await;
    let signup = only_entry(&t, "tenant.signup").await;
    assert_eq!(signup["actorUserId"], json!(t.user_id));

    let (session_token, _) = t.new_session().await;
    assert_eq!(only_entry(&t, "auth.login").await["actorUserId"], json!(t.user_id));
    login(&t.api, &t.slug, &t.email, "wrong password!").await.expect_code("UNAUTHENTICATED");
    let failed = only_entry(&t, "auth.login_failed").await;
    assert_eq!(failed["changes"]["email"], json!(t.email));
    assert_eq!(failed["actorUserId"], Value::Null);
    let logout = t.api.graphql(&Auth::Bearer(session_token), "mutation { logout }", json!({})).await;
    assert_eq!(logout.data()["logout"], json!(true));
    assert_eq!(only_entry(&t, "auth.logout").await["actorUserId"], json!(t.user_id));

    let role = t
        .data("mutation { createRole(input: {name: \"auditor\", permissions: {}}) { id } }", json!({}))
        .await["createRole"]["id"]
        .clone();
    t.data(
        "mutation($id: ID!) { updateRole(id: $id, input: {name: \"auditors\"}) { id } }",
        json!({ "id": role }),
    )
    .await;
    assert_eq!(only_entry(&t, "role.create").await["objectId"], role);
    let updated = only_entry(&t, "role.update").await;
    assert_eq!(updated["objectId"], role);
    assert_eq!(updated["changes"]["name"], json!({ "old": "auditor", "new": "auditors" }));

    let member = t.invite("member").await;
    let member_id = member["user"]["id"].clone();
    assert_eq!(only_entry(&t, "user.invite").await["objectId"], member_id);
    assert_eq!(only_entry(&t, "user.accept_invite").await["actorUserId"], member_id);
    t.data(
        "mutation($u: ID!, $r: ID!) { assignRole(userId: $u, roleId: $r) { id } }",
        json!({ "u": member_id, "r": t.role_id("admin").await }),
    )
    .await;
    let assigned = only_entry(&t, "user.role_assign").await;
    assert_eq!(assigned["objectId"], member_id);
    assert_eq!(assigned["changes"]["role"], json!({ "old": "member", "new": "admin" }));
    let revoked = t.data("mutation($u: ID!) { revokeSessions(userId: $u) }", json!({ "u": member_id })).await;
    assert_eq!(revoked["revokeSessions"], json!(1));
    assert_eq!(only_entry(&t, "session.revoke_all").await["objectId"], member_id);

    let key = t
        .data(
            "mutation($r: ID!) { createApiKey(name: \"audited\", roleId: $r) { key apiKey { id } } }",
            json!({ "r": t.role_id("member").await }),
        )
        .await["createApiKey"]["apiKey"]["id"]
        .clone();
    t.data("mutation($id: ID!) { revokeApiKey(id: $id) { id } }", json!({ "id": key })).await;
    assert_eq!(only_entry(&t, "api_key.create").await["objectId"], key);
    assert_eq!(only_entry(&t, "api_key.revoke").await["objectId"], key);

    let definition =
        t.define(entity("memo", "memos", vec![field("body", "TEXT", json!({}))], json!({}))).await;
    t.add_field("memo", field("due_on", "DATE", json!({}))).await;
    let defined = only_entry(&t, "entity.define").await;
    assert_eq!(defined["objectId"], definition["id"]);
    assert_eq!(defined["actorUserId"], json!(t.user_id));
    let added = only_entry(&t, "field.add").await;
    assert_eq!(added["changes"]["key"], json!("due_on"), "{added}");
}

#[tokio::test]
async fn verify_audit_chain_names_the_tampered_entry() {
    let t = tenant().await;
    let other = tenant().await;
    define_hospital(&t).await; // entries 2–4
    let id = str_of(&t.create(&patient(), json!({ "fullName": "Chain" }), "").await["id"]);
    t.update(&patient(), &id, json!({ "fullName": "Chain 2" }), "").await;
    let total = audit_log(&t, json!({}), 1, None).await["totalCount"].clone();
    assert!(total.as_i64().expect("totalCount") >= 5, "{total}");
    assert_eq!(
        verify(&t).await,
        json!({ "ok": true, "checked": total, "firstBrokenSeq": null, "firstBrokenId": null, "reason": null })
    );

    let conn = connect().await;
    let (row_id, changes, _) = raw_entry(&conn, &t.tenant_id, 3).await;
    tamper(&conn, &t.tenant_id, 3).await;
    assert_ne!(raw_entry(&conn, &t.tenant_id, 3).await.1, changes, "the row was changed");
    let broken = verify(&t).await;
    assert_eq!(broken["ok"], json!(false), "{broken}");
    assert_eq!(broken["firstBrokenSeq"], json!(3), "{broken}");
    assert_eq!(broken["firstBrokenId"], json!(row_id.to_string()), "{broken}");
    assert!(broken["reason"].as_str().is_some_and(|r| !r.is_empty()), "{broken}");

    let other_total = audit_log(&other, json!({}), 1, None).await["totalCount"].clone();
    let intact = verify(&other).await;
    assert_eq!((&intact["ok"], &intact["checked"]), (&json!(true), &other_total), "another tenant: {intact}");
}

#[tokio::test]
async fn audit_log_is_append_only_in_the_database() {
    let t = tenant().await;
    let conn = connect().await;
    let before = raw_entry(&conn, &t.tenant_id, 1).await;
    for (sql, values) in [
        (tamper_sql(&conn), tamper_values(&t.tenant_id, 1)),
        (DELETE, vec![t.tenant_id.as_str().into(), 1i64.into()]),
    ] {
        let err = expect_refused(&conn, sql, values).await;
        assert!(err.contains("append-only"), "refused by the trigger: {err}");
    }
    if on_postgres() {
        // The trigger also guards TRUNCATE (tried in a transaction that is rolled back anyway).
        let txn = conn.begin().await.expect("begin");
        let err = txn.execute_unprepared("TRUNCATE audit_log").await.expect_err("TRUNCATE must be refused");
        assert!(err.to_string().contains("append-only"), "{err}");
        txn.rollback().await.expect("rollback");
        // The application role lacks the privilege altogether.
        let app = connect_as_app().await;
        for (sql, values) in [
            (TAMPER_PG, tamper_values(&t.tenant_id, 1)),
            (DELETE, vec![t.tenant_id.as_str().into(), 1i64.into()]),
        ] {
            let err = expect_refused(&app, sql, values).await;
            assert!(err.contains("permission denied"), "alphery_app: {err}");
        }
    }
    assert_eq!(raw_entry(&conn, &t.tenant_id, 1).await, before, "the row is unchanged");
    let n = count(
        &conn,
        "SELECT count(*) AS n FROM audit_log WHERE tenant_id = $1",
        vec![t.tenant_id.as_str().into()],
    )
    .await;
    assert_eq!(json!(n), audit_log(&t, json!({}), 1, None).await["totalCount"]);
    assert_eq!(verify(&t).await["ok"], json!(true));
}

#[tokio::test]
async fn failing_audit_operations_for_a_member() {
    let t = tenant().await;
    let auth = t.invite_auth("member").await;
    for query in ["{ auditLog { totalCount } }", VERIFY] {
        let response = t.api.graphql(&auth, query, json!({})).await;
        response.expect_code("FORBIDDEN");
        response.assert_every_error_has_code();
    }
    // The owner still can: the member's attempts did not break anything.
    assert_eq!(verify(&t).await["ok"], json!(true));
}

#[tokio::test]
async fn audit_log_pages_newest_first_without_overlap() {
    let t = tenant().await;
    for i in 0..4 {
        t.data(
            "mutation($n: String!) { createRole(input: {name: $n, permissions: {}}) { id } }",
            json!({ "n": format!("role {i}") }),
        )
        .await;
    }
    login(&t.api, &t.slug, &t.email, PASSWORD).await.data();
    let all = audit_log(&t, json!({}), 100, None).await;
    let seq = |page: &Value| -> Vec<i64> {
        page["nodes"].as_array().expect("nodes").iter().map(|n| n["seq"].as_i64().expect("seq")).collect()
    };
    let expected = seq(&all);
    let total = all["totalCount"].as_i64().expect("totalCount");
    assert_eq!(expected, (1..=total).rev().collect::<Vec<_>>(), "every entry, newest first");
    assert!(total >= 6, "signup, 4 roles, login: {total}");

    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = audit_log(&t, json!({}), 2, after.as_deref()).await;
        let seqs = seq(&page);
        let has_next = page["pageInfo"]["hasNextPage"].as_bool().expect("hasNextPage");
        assert_eq!(page["totalCount"], json!(total));
        assert_eq!(seqs.len(), if has_next { 2 } else { (total as usize - walked.len()).min(2) }, "{page}");
        walked.extend(seqs);
        if !has_next {
            break;
        }
        after = Some(str_of(&page["pageInfo"]["endCursor"]));
    }
    assert_eq!(walked, expected, "pages follow each other without overlap or gap");
    t.data(AUDIT_LOG, json!({ "n": 500 })).await;
    t.request(AUDIT_LOG, json!({ "n": 501 })).await.expect_code("BAD_REQUEST");
}

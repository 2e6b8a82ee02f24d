//! Record ids as `records.id` stores them: a native `uuid` on PostgreSQL (migration 28), text on
//! SQLite. Through the API, on both backends, every path that finds records by id: a get (also
//! with its to-one relations), `id` filters (`eq`, a large `in`, negated), cursor pages both ways
//! with the id tie-breaker, to-one and reverse relations, a group by id, update, delete and
//! restore, and the audit chain; a relation value stored in another form (written before ids
//! were checked) resolves to nothing instead of failing the read, and a cursor carrying such a
//! value is the client's error. On PostgreSQL also the column's type, and the migration on a
//! database written with text ids: its records read back as they were written, its audit chain
//! verifies, and a database holding an id in another form fails the migration unchanged.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::audit::verify;
use crate::fixtures::{company, contact, define_crm};
use crate::harness::*;
use crate::rls::{connect, on_postgres, record_id};
use migration::MigratorTrait;

/// `information_schema`'s data type of the column `column` of `records`.
async fn records_column_type(conn: &impl ConnectionTrait, column: &str) -> String {
    let sql = format!(
        "SELECT data_type AS t FROM information_schema.columns WHERE table_name = 'records' AND column_name = '{column}'"
    );
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .expect("column type")
        .expect("the column");
    row.try_get("", "t").expect("data_type")
}

/// Two companies and six contacts, alternately at each; their ids.
async fn crm_records(t: &TestTenant) -> (Vec<String>, Vec<String>) {
    define_crm(t).await;
    let mut companies = Vec::new();
    for name in ["Acme", "Globex"] {
        companies.push(str_of(&t.create(&company(), json!({ "name": name }), "").await["id"]));
    }
    let mut contacts = Vec::new();
    for i in 0..6 {
        let input = json!({ "fullName": format!("C{i}"), "company": companies[i % 2] });
        contacts.push(str_of(&t.create(&contact(), input, "").await["id"]));
    }
    (companies, contacts)
}

/// Every contact's id, walking pages of `size` forwards (`last`/`before` when `backward`) in
/// `order`.
async fn walk(t: &TestTenant, order: Value, size: u32, backward: bool) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut cursor = Value::Null;
    for _ in 0..20 {
        let vars = if backward {
            json!({ "last": size, "before": cursor, "orderBy": order })
        } else {
            json!({ "first": size, "after": cursor, "orderBy": order })
        };
        let page = t
            .connection(
                &contact(),
                vars,
                "nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }",
            )
            .await;
        let ids = pluck_str(&page["nodes"], "id");
        let info = &page["pageInfo"];
        if backward {
            seen.splice(0..0, ids);
            if info["hasPreviousPage"] != json!(true) {
                return seen;
            }
            cursor = info["startCursor"].clone();
        } else {
            seen.extend(ids);
            if info["hasNextPage"] != json!(true) {
                return seen;
            }
            cursor = info["endCursor"].clone();
        }
    }
    panic!("paging does not end: {seen:?}");
}

/// What a client reads of the tenant's contacts: each with its company, and each company with
/// its contacts; and the audit chain's verdict.
async fn snapshot(t: &TestTenant) -> (Value, Value) {
    let q = "{ contacts(first: 100) { nodes { id fullName company { id name } } } \
               companies { nodes { id contacts(first: 100) { totalCount nodes { id } } } } }";
    let read = t.data(q, json!({})).await;
    let chain = verify(t).await;
    assert_eq!(chain["ok"], json!(true), "{chain}");
    (read, chain)
}

#[tokio::test]
async fn every_path_by_record_id_works_on_the_id_column() {
    let t = tenant().await;
    if on_postgres() {
        let conn = connect().await;
        assert_eq!(records_column_type(&conn, "id").await, "uuid");
        // Only the records' own id: the columns that hold other tables' ids stay as they were.
        assert_eq!(records_column_type(&conn, "tenant_id").await, "character varying");
        assert_eq!(records_column_type(&conn, "entity_id").await, "character varying");
    }
    let (companies, contacts) = crm_records(&t).await;
    let (acme, globex) = (&companies[0], &companies[1]);

    // By id, with its company, in any spelling of the UUID; the id comes back in its one form.
    let get = "query($id: ID!) { contact(id: $id) { id fullName company { id name } } }";
    for id in [contacts[0].clone(), contacts[0].to_uppercase()] {
        let found = compiled(&t, get, json!({ "id": id })).await["contact"].clone();
        assert_eq!(
            found,
            json!({ "id": contacts[0], "fullName": "C0", "company": { "id": acme, "name": "Acme" } })
        );
    }

    // Filters on id: eq, a large `in` (one JSON parameter), and their negations.
    let count = |filter: Value| {
        let t = &t;
        async move {
            let q = "query($f: ContactFilter) { contacts(filter: $f) { totalCount } }";
            t.data(q, json!({ "f": filter })).await["contacts"]["totalCount"].as_i64().expect("totalCount")
        }
    };
    assert_eq!(count(json!({ "id": { "eq": contacts[3] } })).await, 1);
    assert_eq!(count(json!({ "not": { "id": { "eq": contacts[3] } } })).await, 5);
    let mut many: Vec<String> = (0..3000).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    many.extend(contacts[..4].iter().cloned());
    assert_eq!(count(json!({ "id": { "in": many } })).await, 4);
    assert_eq!(count(json!({ "not": { "id": { "in": many } } })).await, 2);
    assert_eq!(count(json!({ "id": { "isNull": false }, "company": { "eq": globex } })).await, 3);

    // Cursor pages, forwards and backwards, in the default order (creation, then id: the id is
    // in every cursor) as one page lists it, and by id itself, whose order is the ids' text
    // order on both backends.
    let listed = walk(&t, Value::Null, 100, false).await;
    assert_eq!(sorted(listed.clone()), sorted(contacts.clone()));
    let mut by_id = contacts.clone();
    by_id.sort();
    for backward in [false, true] {
        assert_eq!(walk(&t, Value::Null, 4, backward).await, listed, "default order, backward: {backward}");
        let asc = json!([{ "field": "ID", "direction": "ASC" }]);
        assert_eq!(walk(&t, asc, 4, backward).await, by_id, "by id, backward: {backward}");
        let desc = json!([{ "field": "ID", "direction": "DESC" }]);
        let mut down = by_id.clone();
        down.reverse();
        assert_eq!(walk(&t, desc, 4, backward).await, down, "by id descending, backward: {backward}");
    }

    // To-one on a page, and the reverse side (a page of it, then the next one).
    let company_of = |read: &Value, id: &str| -> Value {
        let nodes = read["contacts"]["nodes"].as_array().expect("contacts");
        nodes.iter().find(|n| n["id"] == json!(id)).map(|n| n["company"].clone()).expect("listed")
    };
    let (read, _) = snapshot(&t).await;
    for (i, id) in contacts.iter().enumerate() {
        assert_eq!(company_of(&read, id)["id"], json!(companies[i % 2]), "{read}");
    }
    let reverse = "query($id: ID!, $after: String) { company(id: $id) { contacts(first: 2, after: $after) { \
                   totalCount nodes { id } pageInfo { hasNextPage endCursor } } } }";
    let first = t.data(reverse, json!({ "id": acme })).await["company"]["contacts"].clone();
    let at_acme: Vec<String> =
        listed.iter().filter(|id| [&contacts[0], &contacts[2], &contacts[4]].contains(id)).cloned().collect();
    assert_eq!(first["totalCount"], json!(3));
    assert_eq!(pluck_str(&first["nodes"], "id"), at_acme[..2]);
    let after = first["pageInfo"]["endCursor"].clone();
    let next = t.data(reverse, json!({ "id": acme, "after": after })).await["company"]["contacts"].clone();
    assert_eq!(pluck_str(&next["nodes"], "id"), at_acme[2..]);

    // Grouped by id: one group per record, its id as the API answers it.
    let groups = t.data("{ contactsAggregate(groupBy: [ID]) { group count } }", json!({})).await;
    let mut grouped: Vec<String> = groups["contactsAggregate"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| str_of(&g["group"]["id"]))
        .collect();
    grouped.sort();
    assert_eq!(grouped, by_id);

    // Update (moving a relation), delete, restore; the chain holds.
    let moved = t.update(&contact(), &contacts[0], json!({ "company": globex }), "company { id }").await;
    assert_eq!(moved["company"]["id"], json!(globex));
    t.delete(&contact(), &contacts[0]).await;
    assert_eq!(t.get(&contact(), &contacts[0], "").await, Value::Null);
    t.restore(&contact(), &contacts[0]).await;
    assert_eq!(t.get(&contact(), &contacts[0], "company { id }").await["company"]["id"], json!(globex));
    assert_eq!(verify(&t).await["ok"], json!(true));

    // A relation value stored before values were checked, in no id's form: it finds no record,
    // at every place that follows it.
    let conn = connect().await;
    let legacy = if on_postgres() {
        "UPDATE records SET data = jsonb_set(data, '{company}', '\"legacy-7\"') WHERE id = $1"
    } else {
        "UPDATE records SET data = json_set(data, '$.company', 'legacy-7') WHERE id = ?"
    };
    let backend = conn.get_database_backend();
    conn.execute_raw(Statement::from_sql_and_values(backend, legacy, [record_id(&contacts[1])]))
        .await
        .expect("legacy value");
    let found = compiled(&t, get, json!({ "id": contacts[1] })).await["contact"].clone();
    assert_eq!(found["company"], Value::Null, "{found}");
    for _ in 0..2 {
        let (read, _) = snapshot(&t).await;
        assert_eq!(company_of(&read, &contacts[1]), Value::Null, "{read}");
    }
    assert_eq!(count(json!({ "company": { "eq": globex } })).await, 3, "contacts 0, 3 and 5");

    // A cursor whose id is not one (no cursor the server made): never an internal error; where
    // the column is a uuid the client's bad request.
    let cursor = walk_cursor(&t).await;
    let forged = forge_last(&cursor, json!("not-an-id"));
    let r =
        t.request("query($a: String) { contacts(after: $a) { totalCount } }", json!({ "a": forged })).await;
    if on_postgres() {
        r.expect_code("BAD_REQUEST");
    } else {
        assert!(r.errors().is_empty(), "{}", r.text);
    }
}

/// The data of `query`, sent twice: the second answer is a compiled plan's (`x-alphery-plan`;
/// the first may be the executor's), which reads a record and its to-one targets in one
/// statement — a plan that fails falls back to the executor without a trace but this header.
async fn compiled(t: &TestTenant, query: &str, variables: Value) -> Value {
    let first = t.request(query, variables.clone()).await;
    let second = t.request(query, variables).await;
    assert_eq!(second.header("x-alphery-plan").as_deref(), Some("compiled"), "not compiled: {}", second.text);
    assert_eq!(second.text, first.text);
    second.data()
}

/// A cursor of the contacts' default order.
async fn walk_cursor(t: &TestTenant) -> String {
    let page = t.connection(&contact(), json!({ "first": 1 }), "pageInfo { endCursor }").await;
    str_of(&page["pageInfo"]["endCursor"])
}

/// `cursor` with its last value (the id) replaced by `value`.
fn forge_last(cursor: &str, value: Value) -> String {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).expect("a base64url cursor");
    let mut all: Vec<Value> = serde_json::from_slice(&bytes).expect("a JSON array");
    *all.last_mut().expect("values") = value;
    URL_SAFE_NO_PAD.encode(Value::Array(all).to_string())
}

/// Migrations on `url`'s database: down to just before migration 28 (the later ones first), or
/// all the way up.
async fn migrate(conn: &DatabaseConnection, down: bool) -> Result<(), sea_orm::DbErr> {
    if down {
        migration::Migrator::down(conn, Some(steps_down_to_28())).await
    } else {
        migration::Migrator::up(conn, None).await
    }
}

/// How many migrations stand from migration 28 (record uuids) to the last one, 28 included.
fn steps_down_to_28() -> u32 {
    let names: Vec<String> = migration::Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
    let at = names.iter().position(|n| n.contains("_000028_")).expect("migration 28 is registered");
    u32::try_from(names.len() - at).expect("a few migrations")
}

#[tokio::test]
async fn a_database_with_text_ids_is_converted_and_reads_as_before() {
    if !on_postgres() {
        // SQLite keeps its text ids: there is nothing to convert.
        return;
    }
    // A database of its own, written through the API by a server of its own.
    let url = scratch_postgres_database().await;
    let before = own_server(&url);
    let t = tenant_on(before.server).await;
    let (companies, contacts) = crm_records(&t).await;
    t.update(&contact(), &contacts[2], json!({ "company": companies[0] }), "").await;
    t.delete(&contact(), &contacts[5]).await;
    t.delete(&contact(), &contacts[4]).await;
    t.restore(&contact(), &contacts[4]).await;
    let (read, chain) = snapshot(&t).await;
    drop(before);
    // Back to the text ids of migration 2, as a database of before holds them (the engine
    // wrote every id in the form PostgreSQL prints a uuid in).
    let conn = sea_orm::Database::connect(url.as_str()).await.expect("connect to the scratch database");
    migrate(&conn, true).await.expect("migration 28 down");
    assert_eq!(records_column_type(&conn, "id").await, "character varying");

    // An id in another form (here capitals): the migration fails, says why, and changes nothing.
    let odd = contacts[1].to_uppercase();
    let copy = "INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
                SELECT $1, tenant_id, entity_id, data, created_at, updated_at, version FROM records WHERE id = $2";
    let values = [odd.clone().into(), contacts[1].clone().into()];
    conn.execute_raw(Statement::from_sql_and_values(conn.get_database_backend(), copy, values))
        .await
        .expect("a record with an id in capitals");
    let err = migrate(&conn, false).await.expect_err("the migration must refuse the id").to_string();
    assert!(err.contains("records.id cannot become uuid") && err.contains(&odd), "{err}");
    assert_eq!(records_column_type(&conn, "id").await, "character varying");
    let remove = Statement::from_sql_and_values(
        conn.get_database_backend(),
        "DELETE FROM records WHERE id = $1",
        [odd.into()],
    );
    conn.execute_raw(remove).await.expect("remove the odd record");

    // Converted: a server started afterwards answers exactly as before, the chain verifies, and
    // the records take new writes.
    migrate(&conn, false).await.expect("migration 28 up");
    assert_eq!(records_column_type(&conn, "id").await, "uuid");
    let converted = own_server(&url);
    let after = t.on(converted.server);
    assert_eq!(snapshot(&after).await, (read, chain));
    let get = "query($id: ID!) { contact(id: $id) { id company { id } } }";
    let found = after.data(get, json!({ "id": contacts[2] })).await["contact"].clone();
    assert_eq!(found, json!({ "id": contacts[2], "company": { "id": companies[0] } }));
    assert_eq!(after.get(&contact(), &contacts[5], "").await, Value::Null, "still deleted");
    after.restore(&contact(), &contacts[5]).await;
    after.update(&contact(), &contacts[2], json!({ "company": companies[1] }), "").await;
    let made = str_of(
        &after.create(&contact(), json!({ "fullName": "New", "company": companies[1] }), "").await["id"],
    );
    let q = "query($f: ContactFilter) { contacts(filter: $f) { totalCount } }";
    let n = after.data(q, json!({ "f": { "company": { "eq": companies[1] } } })).await;
    assert_eq!(n["contacts"]["totalCount"], json!(5), "contacts 1, 2, 3, 5 and {made}");
    let chain = verify(&after).await;
    assert_eq!(chain["ok"], json!(true), "{chain}");
    let _ = conn.close().await;
    drop(converted);
    drop_scratch_database(&url).await;
}

//! Database round trips per request, pinned: the server reports them in `x-sql-statements`
//! (every statement, and each transaction's BEGIN and COMMIT), and these tests fail when a
//! request of the data path costs more than it does today.
//!
//! On PostgreSQL a read request reads through one connection, each read one message (the
//! tenant for row-level security and the statement, with its values as literals) and so one
//! round trip, and authenticates from the credential cache;
//! on SQLite every read is its own local transaction (no round trip, no tenant setting). A
//! read the schema has answered before runs compiled (`api/src/schema/compiled`), which
//! fetches a record and its to-one relations in one statement.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;
use crate::rls::on_postgres;

/// The steady-state round trips of `query` (after warm-up: the schema built and the
/// credential cached, which waits until the tenant's last definition change has settled).
pub(crate) async fn round_trips(t: &TestTenant, auth: &Auth, query: &str, variables: Value) -> u32 {
    // A credential read while its tenant's definitions were changing is not cached (see
    // `signals::SETTLE`, 2 s): let the last change settle first.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut last = None;
    // Steady once two readings 1.2 s apart agree: time for what a request caches to be in place.
    eventually(
        format!("two equal readings of the round trips of {query}"),
        Duration::from_secs(30),
        async || {
            let r = t.api.graphql(auth, query, variables.clone()).await;
            r.data();
            let n: u32 = r
                .header("x-sql-statements")
                .unwrap_or_else(|| panic!("no x-sql-statements header: {:?}", r.headers))
                .parse()
                .expect("a count");
            if last == Some(n) {
                return Ok(n);
            }
            last = Some(n);
            Err(n)
        },
    )
    .every(Duration::from_millis(1200))
    .await
}

#[tokio::test]
async fn the_data_path_costs_few_round_trips() {
    let t = tenant().await;
    t.define(entity("contact", "contacts", vec![field("name", "TEXT", json!({}))], json!({}))).await;
    t.define(entity(
        "deal",
        "deals",
        vec![
            field("name", "TEXT", json!({})),
            field("amount", "CURRENCY", json!({})),
            field("contact", "RELATION", json!({"relatedEntity": "contact"})),
        ],
        json!({}),
    ))
    .await;
    let key = t.api_key("owner").await;
    let mut contacts = Vec::new();
    for i in 0..3 {
        let c = t
            .data(&format!("mutation {{ createContact(input: {{name: \"C{i}\"}}) {{ id }} }}"), json!({}))
            .await;
        contacts.push(str_of(&c["createContact"]["id"]));
    }
    for i in 0..6 {
        t.data(
            "mutation($c: ID!, $n: String!) { createDeal(input: {name: $n, amount: \"10.00\", contact: $c}) { id } }",
            json!({"c": contacts[i % 3], "n": format!("D{i}")}),
        )
        .await;
    }
    let pg = on_postgres();

    // A list with a to-one relation, and a list with a reverse page.
    let list = "{ deals(first: 10) { nodes { id name amount contact { name } } } \
                contacts(first: 5) { nodes { name deals(first: 2) { nodes { name } } } } }";
    for (who, auth) in [("API key", key.clone()), ("session", t.auth())] {
        let n = round_trips(&t, &auth, list, json!({})).await;
        // PG: 2 pages + 1 to-one batch + 1 reverse batch, each one message with its
        // set_config; the credential from the cache. SQLite: 4 reads, each BEGIN + statement
        // + COMMIT.
        let most = if pg { 4 } else { 12 };
        assert!(n <= most, "{who}: a list with relations took {n} round trips (at most {most})");
    }

    // A get by id with its to-one relation.
    let deals = t.data("{ deals(first: 1) { nodes { id } } }", json!({})).await;
    let id = str_of(&deals["deals"]["nodes"][0]["id"]);
    let get = "query($id: ID!) { deal(id: $id) { name contact { name } } }";
    let n = round_trips(&t, &key, get, json!({"id": id})).await;
    // Compiled (the steady state): the record and its relation in one statement. PG: that
    // statement in one message with its set_config; SQLite: one local transaction (BEGIN,
    // statement, COMMIT).
    let most = if pg { 1 } else { 3 };
    assert!(n <= most, "a get with a relation took {n} round trips (at most {most})");

    // A create: one transaction. PG: one message, BEGIN and set_config, then one statement
    // writing record (its INSERT checks the relation) + outbox + rollup cells + audit entry
    // + head, and COMMIT.
    // SQLite: BEGIN, the relation check, the tenant's definitions version (unchanged since
    // the request checked against them), the audit head, the writes (record, outbox, rollup
    // cells, entry, head, the entry's `auditAppended` news) as separate in-process
    // statements, COMMIT.
    let create =
        "mutation($c: ID!) { createDeal(input: {name: \"New\", amount: \"1.00\", contact: $c}) { id } }";
    let n = round_trips(&t, &key, create, json!({"c": contacts[0]})).await;
    let most = if pg { 1 } else { 11 };
    assert!(n <= most, "a create took {n} round trips (at most {most})");
}

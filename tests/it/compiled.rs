//! Compiled reads (`api/src/schema/compiled`): a plain read a schema has answered once runs
//! from its plan afterwards, without the GraphQL executor. The server marks such answers
//! `x-alphery-plan: compiled`. The first answer of a text comes from the executor, so sending
//! each query twice compares the two paths byte for byte (both write in selection order, as
//! the spec asks): every field type, aliases, `__typename`, edges, page info, counts,
//! relations, variables, row rules. The cases a plan leaves to the executor (errors,
//! variable types it does not bind, FILE objects, users, reverse relations, mutations) still
//! get the executor's answer.

use serde_json::{Value, json};

use crate::harness::*;

const PLAN: &str = "x-alphery-plan";

/// A page with edges and cursors beside a filtered list: one text, paged with `$after`.
const PAGES: &str = "query Page($n: Int, $after: String) { page: items(first: $n, after: $after) { \
    edges { cursor node { id label: name } __typename } pageInfo { hasNextPage endCursor } } \
    gold: items(filter: {tier: {eq: \"gold\"}}) { nodes { name } } }";

/// Sends `query` twice: the executor answers first, the plan second; both bodies must be the
/// same text, exactly (members in the same order, numbers of the same representation, every
/// string the same). Returns the data.
async fn same_twice(t: &TestTenant, auth: &Auth, query: &str, variables: Value) -> Value {
    let first = t.api.graphql(auth, query, variables.clone()).await;
    let data = first.data();
    assert_eq!(first.header(PLAN), None, "the first answer of a text is the executor's: {query}");
    let second = t.api.graphql(auth, query, variables).await;
    assert_eq!(second.header(PLAN).as_deref(), Some("compiled"), "not compiled: {query}");
    assert_eq!(second.status, first.status);
    assert_eq!(
        second.text, first.text,
        "the plan answered otherwise than the executor: {query}\nplan: {}\nexecutor: {}",
        second.text, first.text
    );
    data
}

/// A tenant with `contact` and `item` (every value type, a relation to contact). Its contact
/// label is its own, so no other test's tenant shares its schema and plans (tenants of one
/// shape do, `schema_cache`): the first answer of each text here is the executor's.
async fn catalogue() -> (TestTenant, Vec<String>) {
    let t = tenant().await;
    t.define(entity(
        "contact",
        "contacts",
        vec![field("name", "TEXT", json!({"required": true}))],
        json!({ "labelPlural": format!("Contacts of {}", t.slug) }),
    ))
    .await;
    t.define(entity(
        "item",
        "items",
        vec![
            field("name", "TEXT", json!({"required": true})),
            field("note", "TEXTAREA", json!({})),
            field("score", "NUMBER", json!({})),
            field("price", "CURRENCY", json!({})),
            field("active", "BOOLEAN", json!({})),
            field("day", "DATE", json!({})),
            field("at", "DATETIME", json!({})),
            field("mail", "EMAIL", json!({})),
            field("tier", "SELECT", json!({"options": ["gold", "silver"]})),
            field("tags", "MULTI_SELECT", json!({"options": ["a", "b", "c"]})),
            field("meta", "JSON", json!({})),
            field("doc", "FILE", json!({})),
            field("contact", "RELATION", json!({"relatedEntity": "contact"})),
        ],
        json!({"recordNumberPrefix": "IT"}),
    ))
    .await;
    let contact = Names::new("contact", "contacts");
    let ann = str_of(&t.create(&contact, json!({"name": "Ann \"the\" Ünïcødé\n"}), "").await["id"]);
    let item = Names::new("item", "items");
    let mut ids = Vec::new();
    for (i, input) in [
        json!({"name": "first", "note": "tab\there \\ and \u{1F600}", "score": 3, "price": "10.50",
               "active": true, "day": "2026-03-01", "at": "2026-03-01T10:00:00.250Z", "mail": "a@b.io",
               "tier": "gold", "tags": ["a", "c"], "meta": {"z": 1, "a": [true, null, 2.5]}, "contact": ann,
               "doc": {"url": "https://cdn.example.com/a.pdf"}}),
        json!({"name": "second", "score": -0.5, "price": "0.00", "active": false, "tags": []}),
        json!({"name": "third"}),
    ]
    .into_iter()
    .enumerate()
    {
        let made = t.create(&item, input, "").await;
        ids.push(str_of(&made["id"]));
        assert!(!ids[i].is_empty());
    }
    (t, ids)
}

#[tokio::test]
async fn a_read_answers_the_same_from_its_plan() {
    let (t, ids) = catalogue().await;
    let auth = t.auth();
    let every = "id recordNumber createdAt updatedAt __typename name note score price active day at mail \
                 tier tags meta contact { id name __typename }";
    // Lists: nodes, edges with cursors, page info, count, order, filter, aliases.
    let data = same_twice(
        &t,
        &auth,
        &format!(
            "{{ __typename items(orderBy: [{{field: CREATED_AT, direction: DESC}}]) {{ __typename totalCount \
             nodes {{ {every} }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor __typename }} }} }}"
        ),
        json!({}),
    )
    .await;
    assert_eq!(data["items"]["totalCount"], json!(3));
    assert_eq!(data["items"]["nodes"][2]["contact"]["name"], json!("Ann \"the\" Ünïcødé\n"));
    assert_eq!(data["items"]["nodes"][2]["meta"], json!({"z": 1, "a": [true, null, 2.5]}));
    let data = same_twice(&t, &auth, PAGES, json!({"n": 2})).await;
    assert_eq!(data["page"]["edges"].as_array().map(Vec::len), Some(2));
    assert_eq!(data["page"]["pageInfo"]["hasNextPage"], json!(true));
    assert_eq!(data["gold"]["nodes"], json!([{"name": "first"}]));
    // The next page through the plan, with a cursor from the first.
    let after = str_of(&data["page"]["pageInfo"]["endCursor"]);
    let next = t.api.graphql(&auth, PAGES, json!({"n": 2, "after": after})).await;
    assert_eq!(next.header(PLAN).as_deref(), Some("compiled"));
    assert_eq!(next.data()["page"]["edges"][0]["node"]["label"], json!("third"));
    // A get with its relation; one that does not exist; a default variable.
    let get = format!("query($id: ID!) {{ item(id: $id) {{ {every} }} }}");
    let data = same_twice(&t, &auth, &get, json!({"id": ids[0]})).await;
    assert_eq!(data["item"]["price"], json!("10.50"));
    assert_eq!(data["item"]["tags"], json!(["a", "c"]));
    let missing = t.api.graphql(&auth, &get, json!({"id": "00000000-0000-0000-0000-000000000000"})).await;
    assert_eq!(missing.header(PLAN).as_deref(), Some("compiled"));
    assert_eq!(missing.data()["item"], Value::Null);
    let with_default = "query($id: ID! = \"none\") { item(id: $id) { name } }";
    same_twice(&t, &auth, with_default, json!({"id": ids[1]})).await;
    // An API key's schema is another role's: it learns its plans itself.
    let key = t.api_key("owner").await;
    same_twice(&t, &key, "{ items(first: 1) { nodes { name contact { name } } } }", json!({})).await;
}

/// A page that shows neither `recordNumber` nor `updatedAt` and orders by neither reads only
/// the lean columns on PostgreSQL (`store::Columns::Lean`); its relations' targets are read
/// whole. Both kinds of page, and their cursors, answer exactly as the executor does,
/// including after an update has moved `updatedAt` away from `createdAt`.
#[tokio::test]
async fn a_lean_page_answers_as_the_executor_does() {
    let (t, ids) = catalogue().await;
    let auth = t.auth();
    let item = Names::new("item", "items");
    t.update(&item, &ids[1], json!({"score": 7}), "").await;
    let lean = "query($after: String) { items(first: 2, after: $after, orderBy: [{field: CREATED_AT, direction: DESC}]) { \
                edges { cursor node { id createdAt name score contact { id name recordNumber updatedAt } } } \
                pageInfo { endCursor hasNextPage } } }";
    let data = same_twice(&t, &auth, lean, json!({})).await;
    let after = str_of(&data["items"]["pageInfo"]["endCursor"]);
    // The next page, by another text (so the executor answers it first too).
    let next = same_twice(&t, &auth, &format!("{lean} "), json!({"after": after})).await;
    assert_eq!(next["items"]["edges"][0]["node"]["name"], json!("first"));
    assert!(next["items"]["edges"][0]["node"]["contact"]["updatedAt"].is_string());
    // Ordered by updatedAt, or showing it or the record number: every column is read.
    let by_update = "{ items(orderBy: [{field: UPDATED_AT, direction: DESC}]) { \
                     edges { cursor node { name } } } }";
    let data = same_twice(&t, &auth, by_update, json!({})).await;
    assert_eq!(data["items"]["edges"][0]["node"]["name"], json!("second"));
    let whole = "{ items(orderBy: [{field: CREATED_AT, direction: ASC}]) { nodes { recordNumber updatedAt createdAt } } }";
    let data = same_twice(&t, &auth, whole, json!({})).await;
    let nodes = &data["items"]["nodes"];
    assert!(str_of(&nodes[0]["recordNumber"]).starts_with("IT"));
    assert_ne!(nodes[1]["updatedAt"], nodes[1]["createdAt"]);
}

/// Repeated until the plan answers, a text with roots and aliases in an order neither
/// alphabetical nor the schema's, and records whose relation comes before their plain
/// fields, gets every answer in selection order, the executor's and the plan's.
#[tokio::test]
async fn a_plan_answers_in_selection_order() {
    let (t, ids) = catalogue().await;
    let query = "query($id: ID!) { zz: items(first: 2) { nodes { contact { name } name __typename } totalCount } \
                 __typename one: item(id: $id) { tier name } aa: contacts { totalCount } }";
    let mut paths = Vec::new();
    for _ in 0..6 {
        let r = t.api.graphql(&t.auth(), query, json!({"id": ids[0]})).await;
        r.data();
        paths.push(r.header(PLAN));
        assert_eq!(member_order(&r.text, &["data"]), ["zz", "__typename", "one", "aa"], "{}", r.text);
        assert_eq!(member_order(&r.text, &["data", "zz"]), ["nodes", "totalCount"], "{}", r.text);
        let node = member_order(&r.text, &["data", "zz", "nodes", "0"]);
        assert_eq!(node, ["contact", "name", "__typename"], "{}", r.text);
        assert_eq!(member_order(&r.text, &["data", "one"]), ["tier", "name"], "{}", r.text);
    }
    assert_eq!(paths[0], None);
    assert!(paths[1..].iter().all(|p| p.as_deref() == Some("compiled")), "{paths:?}");
}

#[tokio::test]
async fn what_a_plan_cannot_answer_goes_to_the_executor() {
    let (t, ids) = catalogue().await;
    let auth = t.auth();
    let get = "query($id: ID!) { item(id: $id) { name } }";
    same_twice(&t, &auth, get, json!({"id": ids[0]})).await;
    // A variable of another JSON type than declared: the executor's coded error, not a plan.
    for bad in [json!({}), json!({"id": null})] {
        let r = t.api.graphql(&auth, get, bad.clone()).await;
        assert_eq!(r.header(PLAN), None, "{bad}");
        r.expect_code("BAD_REQUEST");
    }
    // An Int for an ID: the executor coerces it to its string, which is no record id: refused
    // on `id`, by the executor, every time (a plan must not answer it with `null`).
    for id in [json!(5), json!("5"), json!("not-an-id")] {
        for _ in 0..2 {
            let r = t.api.graphql(&auth, get, json!({"id": id})).await;
            assert_eq!(r.header(PLAN), None, "{id}");
            assert_eq!(r.field_errors(), vec!["id".to_owned()], "{id}: {}", r.text);
        }
    }

    // A store error (a cursor that is not one) is the executor's too, every time.
    let paged = "query($c: String) { items(first: 1, after: $c) { nodes { name } } }";
    same_twice(&t, &auth, paged, json!({"c": null})).await;
    for _ in 0..2 {
        let r = t.api.graphql(&auth, paged, json!({"c": "not a cursor"})).await;
        assert_eq!(r.header(PLAN), None);
        r.expect_code("BAD_REQUEST");
    }
    // Out of range `first`: the same error from the executor.
    let sized = "query($n: Int) { items(first: $n) { nodes { name } } }";
    same_twice(&t, &auth, sized, json!({"n": 1})).await;
    t.api.graphql(&auth, sized, json!({"n": 100000})).await.expect_code("BAD_REQUEST");
    // Not plain reads: fragments, directives, users on records, mutations. Each keeps
    // running through the executor (and answers correctly).
    for (query, variables) in [
        ("query { items(first: 1) { nodes { ...N } } } fragment N on Item { name }", json!({})),
        ("query($x: Boolean!) { items(first: 1) { nodes { name @include(if: $x) } } }", json!({"x": true})),
        ("{ items(first: 1) { nodes { name createdBy { id } } } }", json!({})),
        ("{ items(first: 1) { nodes { doc { url name } } } }", json!({})),
        ("{ contacts { nodes { name items { totalCount } } } }", json!({})),
    ] {
        for _ in 0..2 {
            let r = t.api.graphql(&auth, query, variables.clone()).await;
            r.data();
            assert_eq!(r.header(PLAN), None, "{query}");
        }
    }
    let create = "mutation { createContact(input: {name: \"Bo\"}) { name } }";
    for _ in 0..2 {
        let r = t.api.graphql(&auth, create, json!({})).await;
        assert_eq!(r.data()["createContact"]["name"], json!("Bo"));
        assert_eq!(r.header(PLAN), None);
    }
    let contacts = t.data("{ contacts { totalCount } }", json!({})).await;
    assert_eq!(contacts["contacts"]["totalCount"], json!(3), "each mutation ran once per request");
}

#[tokio::test]
async fn a_plan_applies_each_callers_row_rules_and_the_schema_it_belongs_to() {
    let (t, ids) = catalogue().await;
    // Members whose rule shows gold items only, and contacts named "Z…" (so Ann is hidden).
    t.data(
        "mutation($p: JSON!) { createRole(input: {name: \"gold\", permissions: $p}) { id } }",
        json!({"p": {"item": {"actions": ["read"], "where": {"tier": {"eq": "gold"}}},
                     "contact": {"actions": ["read"], "where": {"name": {"startsWith": "Z"}}}}}),
    )
    .await;
    let member = Auth::Bearer(str_of(&t.invite("gold").await["accessToken"]));
    let list = "{ items { totalCount nodes { name contact { name } } } }";
    let data = same_twice(&t, &member, list, json!({})).await;
    assert_eq!(data["items"], json!({"totalCount": 1, "nodes": [{"name": "first", "contact": null}]}));
    let get = "query($id: ID!) { item(id: $id) { name } }";
    same_twice(&t, &member, get, json!({"id": ids[0]})).await;
    let hidden = t.api.graphql(&member, get, json!({"id": ids[1]})).await;
    assert_eq!(hidden.header(PLAN).as_deref(), Some("compiled"));
    assert_eq!(hidden.data()["item"], Value::Null);
    // The owner asking the same text sees everything (another schema, its own plan).
    let all = same_twice(&t, &t.auth(), list, json!({})).await;
    assert_eq!(all["items"]["totalCount"], json!(3));
    // A definition change makes a new schema: its first answer is the executor's again, and
    // a new field is readable at once.
    t.add_field("item", field("color", "TEXT", json!({}))).await;
    let colored = "{ items(first: 1) { nodes { name color } } }";
    same_twice(&t, &t.auth(), colored, json!({})).await;
    let first = t.api.graphql(&t.auth(), list, json!({})).await;
    assert_eq!(first.header(PLAN), None, "plans do not outlive their schema");
}

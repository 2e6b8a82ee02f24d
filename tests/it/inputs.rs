//! What every argument passes before an operation runs (`schema::inputs`), on both backends
//! alike: a string holding the NUL character — anywhere: a login, a signup, a record value, a
//! JSON key or value, a filter operand, `search`, the audit log's filter, an id; sent as a
//! variable or written in the document; over HTTP or a socket — is refused with
//! `VALIDATION_FAILED` naming the argument path, and nothing is written; an `ID` input given an
//! Int answers exactly as its decimal string does (the GraphQL spec's input coercion); a record
//! id that is not a UUID is refused where it is given.

use serde_json::{Value, json};

use crate::fixtures::{deal, define_people_and_deals};
use crate::harness::{
    Api, Auth, Names, PASSWORD, Response, TIMEOUT, TestTenant, Ws, WsEvent, field, login, signup, str_of,
    tenant, unique_slug,
};

/// A tenant with a `deal` (TEXT, JSON, MULTI_SELECT, RELATION to `person`) and one deal.
async fn setup() -> (TestTenant, String) {
    let t = tenant().await;
    let fields = vec![
        field("meta", "JSON", json!({})),
        field("tags", "MULTI_SELECT", json!({ "options": ["hot", "new"] })),
        field("person", "RELATION", json!({ "relatedEntity": "person" })),
    ];
    define_people_and_deals(&t, fields, json!({})).await;
    let id = str_of(&t.create(&deal(), json!({ "title": "Alpha" }), "").await["id"]);
    (t, id)
}

/// Asserts a refusal naming exactly `field`, before anything ran (`data` is null).
fn assert_refused(r: &Response, field: &str, case: &str) {
    assert_eq!(r.field_errors(), vec![field.to_owned()], "{case}: {}", r.text);
    assert_eq!(r.body["data"], Value::Null, "{case}: {}", r.text);
}

#[tokio::test]
async fn failing_nul_characters_anywhere_in_the_arguments() {
    let (t, id) = setup().await;
    let nul = "nul\u{0}here";
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "a record value",
            "mutation($v: String!) { createDeal(input: {title: $v}) { id } }",
            json!({ "v": nul }),
            "title",
        ),
        (
            "an update",
            "mutation($id: ID!, $v: String!) { updateDeal(id: $id, input: {title: $v}) { id } }",
            json!({ "id": id, "v": nul }),
            "title",
        ),
        (
            "a JSON key",
            "mutation($m: JSON) { createDeal(input: {title: \"x\", meta: $m}) { id } }",
            json!({ "m": { "ok": 1, "bad\u{0}key": 2 } }),
            "meta",
        ),
        (
            "a JSON value",
            "mutation($m: JSON) { createDeal(input: {title: \"x\", meta: $m}) { id } }",
            json!({ "m": { "list": [1, nul] } }),
            "meta.list",
        ),
        (
            "a whole input object",
            "mutation($i: CreateDealInput!) { createDeal(input: $i) { id } }",
            json!({ "i": { "title": "ok", "tags": ["hot", nul] } }),
            "tags",
        ),
        (
            "a key of the input object",
            "mutation($i: CreateDealInput!) { createDeal(input: $i) { id } }",
            json!({ "i": { "title": "ok", "ti\u{0}tle": "x" } }),
            "input",
        ),
        (
            "a filter's eq",
            "query($v: String) { deals(filter: {title: {eq: $v}}) { totalCount } }",
            json!({ "v": nul }),
            "filter.title.eq",
        ),
        (
            "a filter's contains",
            "query($f: DealFilter) { deals(filter: $f) { totalCount } }",
            json!({ "f": { "or": [{ "title": { "contains": nul } }] } }),
            "filter.or[0].title.contains",
        ),
        (
            "a filter's list",
            "query($f: DealFilter) { deals(filter: $f) { totalCount } }",
            json!({ "f": { "tags": { "containsAny": ["hot", nul] } } }),
            "filter.tags.containsAny",
        ),
        ("search", "query($s: String) { deals(search: $s) { totalCount } }", json!({ "s": nul }), "search"),
        ("a literal in the document", "{ deals(search: \"a\\u0000b\") { totalCount } }", json!({}), "search"),
        (
            "a variable's default",
            "query($s: String = \"a\\u0000b\") { deals(search: $s) { totalCount } }",
            json!({}),
            "search",
        ),
        (
            "the audit log's filter",
            "query($a: String) { auditLog(filter: {action: $a}) { totalCount } }",
            json!({ "a": nul }),
            "filter.action",
        ),
        ("an id", "query($id: ID!) { deal(id: $id) { id } }", json!({ "id": nul }), "id"),
        (
            "a definition",
            "mutation($l: String!) { addField(entity: \"deal\", field: {key: \"x\", label: $l, type: TEXT}) { id } }",
            json!({ "l": nul }),
            "field.label",
        ),
    ];
    for (case, query, variables, path) in &cases {
        // Twice: a read the executor answered once may run as its compiled plan the next time.
        for _ in 0..2 {
            assert_refused(&t.request(query, variables.clone()).await, path, case);
        }
    }
    let titles = t.list(&deal(), "", json!({}), "title").await;
    assert_eq!(titles["totalCount"], json!(1), "nothing was written: {titles}");
    let fields = t.type_fields("Deal").await.expect("Deal");
    assert!(!fields.contains(&"x".to_owned()), "no field was added: {fields:?}");

    // The public operations: a login and a signup (whose tenant then does not exist).
    let api = Api::shared();
    for (tenant_slug, email, path) in [(nul, t.email.as_str(), "tenant"), (t.slug.as_str(), nul, "email")] {
        assert_refused(&login(&api, tenant_slug, email, PASSWORD).await, path, "login");
    }
    let slug = unique_slug();
    let email = format!("owner@{slug}.example.com");
    for (name, email, password, path) in [
        (nul, email.as_str(), PASSWORD, "tenantName"),
        ("Shop", "a\u{0}@example.com", PASSWORD, "email"),
        ("Shop", email.as_str(), "correct\u{0}horse battery", "password"),
    ] {
        assert_refused(&signup(&api, name, &slug, email, password).await, path, "signup");
    }
    signup(&api, "Shop", &slug, &email, PASSWORD).await.data();

    // Over a socket, the same refusal.
    let mut ws = t.ws().await;
    ws.subscribe(
        "1",
        "subscription($v: String) { dealChanged(filter: {title: {eq: $v}}) { kind } }",
        json!({ "v": nul }),
    )
    .await;
    let refused = socket_refusal(&mut ws).await;
    assert_eq!(refused["extensions"]["code"], json!("VALIDATION_FAILED"), "{refused}");
    assert_eq!(refused["extensions"]["fields"][0]["field"], json!("filter.title.eq"), "{refused}");
}

/// The first error the socket answered a subscription with.
async fn socket_refusal(ws: &mut Ws) -> Value {
    match ws.recv(TIMEOUT).await {
        WsEvent::Message(m) if m["type"] == "next" => m["payload"]["errors"][0].clone(),
        WsEvent::Message(m) if m["type"] == "error" => m["payload"][0].clone(),
        other => panic!("expected the refusal, got {other:?}"),
    }
}

/// The answer to `query` with `variables`, without what differs between two requests: the
/// errors' `locations` (`"123"` is two columns wider than `123`).
async fn answer(t: &TestTenant, auth: &Auth, query: &str, variables: Value) -> Value {
    let r = t.api.graphql(auth, query, variables).await;
    assert!(r.errors().iter().all(|e| e["extensions"]["code"] != "INTERNAL"), "{query}: {}", r.text);
    let mut body = r.body;
    if let Some(errors) = body["errors"].as_array_mut() {
        for e in errors.iter_mut().filter_map(Value::as_object_mut) {
            e.remove("locations");
        }
    }
    body
}

#[tokio::test]
async fn successful_int_for_an_id_is_its_decimal_string() {
    let (t, id) = setup().await;
    let auth = t.auth();
    // Each query with the id 123 as an Int (`{n}` → `123`) and as a string (`"123"`).
    let written = [
        "{ deal(id: {n}) { id } }",
        "query($id: ID! = {n}) { deal(id: $id) { id } }",
        "{ deals(filter: {id: {in: [{n}, {n}]}}) { totalCount } }",
        "{ deals(filter: {or: [{id: {eq: {n}}}, {person: {in: [{n}]}}]}) { totalCount } }",
        "{ auditLog(filter: {actorUserId: {n}}) { totalCount } }",
        "mutation { updateDeal(id: {n}, input: {title: \"x\"}) { id } }",
        "mutation { createDeal(input: {title: \"x\", person: {n}}) { id } }",
        "mutation { revokeSessions(userId: {n}) }",
    ];
    for query in written {
        let as_int = answer(&t, &auth, &query.replace("{n}", "123"), json!({})).await;
        let as_string = answer(&t, &auth, &query.replace("{n}", "\"123\""), json!({})).await;
        assert_eq!(as_int, as_string, "{query}");
    }
    let sent = [
        ("query($id: ID!) { deal(id: $id) { id } }", json!({ "id": 123 }), json!({ "id": "123" })),
        (
            "query($ids: [ID!]) { deals(filter: {id: {in: $ids}}) { totalCount } }",
            json!({ "ids": [123, 7] }),
            json!({ "ids": ["123", "7"] }),
        ),
        (
            "query($f: DealFilter) { deals(filter: $f) { totalCount } }",
            json!({ "f": { "id": { "in": [123] }, "person": { "eq": 123 } } }),
            json!({ "f": { "id": { "in": ["123"] }, "person": { "eq": "123" } } }),
        ),
        (
            "mutation($i: CreateDealInput!) { createDeal(input: $i) { id } }",
            json!({ "i": { "title": "x", "person": 123 } }),
            json!({ "i": { "title": "x", "person": "123" } }),
        ),
    ];
    for (query, as_int, as_string) in sent {
        // Twice each: the second may be a compiled plan's answer.
        for _ in 0..2 {
            let int_answer = answer(&t, &auth, query, as_int.clone()).await;
            assert_eq!(int_answer, answer(&t, &auth, query, as_string.clone()).await, "{query} {as_int}");
        }
    }
    // And the Int, once a string, is no record id (those are UUIDs): refused where it stands,
    // while the record's own id still finds it.
    let refused = t.request("{ deals(filter: {id: {in: [123]}}) { totalCount } }", json!({})).await;
    assert_eq!(refused.field_errors(), vec!["filter.id.in".to_owned()], "{}", refused.text);
    let data = t
        .data("query($ids: [ID!]) { deals(filter: {id: {in: $ids}}) { totalCount } }", json!({ "ids": [id] }))
        .await;
    assert_eq!(data["deals"]["totalCount"], json!(1));
}

/// A record id that cannot be one (record ids are UUIDs) is refused where it is given —
/// `deal(id:)`, `updateDeal`, `deleteDeal`, `restoreDeal`, a RELATION value in a create or an
/// update, a filter's `id`, `owner` or RELATION operand, also nested and over a socket, the
/// `recordId` of `runWorkflow`, `submitForApproval` and `approvalRequests` — with
/// `VALIDATION_FAILED` naming the place, by a compiled plan as by the executor, and nothing is
/// written; before, such a filter silently matched nothing. A well-formed id of no record is
/// still `null` / `NOT_FOUND`, and a UUID spelt in capitals finds its record.
#[tokio::test]
async fn a_malformed_record_id_is_refused_where_it_is_given() {
    let (t, id) = setup().await;
    let people = Names::new("person", "people");
    let person = str_of(&t.create(&people, json!({ "name": "Ann" }), "").await["id"]);
    let list = "query($f: DealFilter) { deals(filter: $f) { totalCount } }";
    let mut cases: Vec<(&str, Value, &str)> = Vec::new();
    for bad in ["<doctor id>", "123", "", "0b9c6a5e-2f1d-4c8e-9a43-7d2e1f0c5b6"] {
        cases.extend([
            ("query($id: ID!) { deal(id: $id) { id } }", json!({ "id": bad }), "id"),
            ("mutation($id: ID!) { updateDeal(id: $id, input: {title: \"y\"}) { id } }", json!({ "id": bad }), "id"),
            ("mutation($id: ID!) { deleteDeal(id: $id) { id } }", json!({ "id": bad }), "id"),
            ("mutation($id: ID!) { restoreDeal(id: $id) { id } }", json!({ "id": bad }), "id"),
            (
                "mutation($i: CreateDealInput!) { createDeal(input: $i) { id } }",
                json!({ "i": { "title": "new", "person": bad } }),
                "person",
            ),
            (
                "mutation($id: ID!, $i: UpdateDealInput!) { updateDeal(id: $id, input: $i) { id } }",
                json!({ "id": id, "i": { "title": "y", "person": bad } }),
                "person",
            ),
            (list, json!({ "f": { "id": { "eq": bad } } }), "filter.id.eq"),
            (list, json!({ "f": { "id": { "in": [id, bad] } } }), "filter.id.in"),
            (list, json!({ "f": { "owner": { "eq": bad } } }), "filter.owner.eq"),
            (list, json!({ "f": { "person": { "eq": bad } } }), "filter.person.eq"),
            (list, json!({ "f": { "person": { "in": [person, bad] } } }), "filter.person.in"),
            (
                list,
                json!({ "f": { "or": [{ "title": { "eq": "x" } }, { "not": { "person": { "eq": bad } } }] } }),
                "filter.or[1].not.person.eq",
            ),
            // The record a workflow run or an approval is about.
            ("mutation($r: ID!) { runWorkflow(id: \"w\", recordId: $r) { id } }", json!({ "r": bad }), "recordId"),
            (
                "mutation($r: ID!) { submitForApproval(policyId: \"p\", recordId: $r) { id } }",
                json!({ "r": bad }),
                "recordId",
            ),
            ("query($r: ID) { approvalRequests(recordId: $r) { id } }", json!({ "r": bad }), "recordId"),
        ]);
    }
    for (query, variables, field) in &cases {
        // Twice: the second may be a compiled plan's answer.
        for _ in 0..2 {
            let r = t.api.graphql(&t.auth(), query, variables.clone()).await;
            assert_eq!(r.field_errors(), vec![(*field).to_owned()], "{query} {variables}: {}", r.text);
        }
    }
    // Nothing was written: one deal, its title and no person; no second deal.
    let deals = t.data("{ deals { totalCount nodes { id title person { id } } } }", json!({})).await;
    assert_eq!(deals["deals"]["totalCount"], json!(1), "{deals}");
    assert_eq!(deals["deals"]["nodes"][0]["title"], json!("Alpha"));
    assert_eq!(deals["deals"]["nodes"][0]["person"], Value::Null);
    // Over a socket, a subscription's filter alike.
    let mut ws = t.ws().await;
    ws.subscribe(
        "s",
        "subscription($f: DealFilter) { dealChanged(filter: $f) { kind } }",
        json!({ "f": { "person": { "eq": "<doctor id>" } } }),
    )
    .await;
    let refused = socket_refusal(&mut ws).await;
    assert_eq!(refused["extensions"]["fields"][0]["field"], json!("filter.person.eq"), "{refused}");
    // Well-formed ids: of no record, null / NOT_FOUND; in capitals, the record itself.
    let nobody = uuid::Uuid::new_v4().to_string();
    let get = "query($id: ID!) { deal(id: $id) { id } }";
    for _ in 0..2 {
        assert_eq!(t.data(get, json!({ "id": nobody })).await["deal"], Value::Null);
        assert_eq!(t.data(get, json!({ "id": id.to_uppercase() })).await["deal"]["id"], json!(id));
    }
    t.lifecycle_raw("delete", &deal(), &nobody).await.expect_code("NOT_FOUND");
    let found = t.data(list, json!({ "f": { "person": { "eq": person.to_uppercase() } } })).await;
    assert_eq!(found["deals"]["totalCount"], json!(0));
    let linked = t
        .data(
            "mutation($id: ID!, $p: ID) { updateDeal(id: $id, input: {person: $p}) { person { id } } }",
            json!({ "id": id.to_uppercase(), "p": person.to_uppercase() }),
        )
        .await;
    assert_eq!(linked["updateDeal"]["person"]["id"], json!(person), "stored in its one form");
    let found = t.data(list, json!({ "f": { "person": { "eq": person.to_uppercase() } } })).await;
    assert_eq!(found["deals"]["totalCount"], json!(1));
}

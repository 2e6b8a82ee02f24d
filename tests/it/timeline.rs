//! A record's timeline and 360° view through the public API: the timeline merges six kinds
//! of items (changes, related records, notes, a workflow's run and its email, an approval)
//! newest first; a member sees changes only of fields it may read, related records only
//! within its row rules, and no workflow runs or emails; pages cut at cursors join up to the whole feed; `record360` counts and
//! shows related records as the caller may read them, in a number of statements that does not
//! grow with the records.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::harness::*;
use crate::round_trips::round_trips;

const TIMELINE: &str = "query($id: ID!, $first: Int, $after: String, $kinds: [TimelineKind!]) { timeline(entity: \"customer\", id: $id, first: $first, after: $after, kinds: $kinds) { edges { cursor node { kind at id title actor changes { field old new } entity recordId record status } } pageInfo { hasNextPage endCursor } } }";

const VIEW: &str = "query($id: ID!, $n: Int) { record360(entity: \"customer\", id: $id, latest: $n) { entity record related { entity field count latest } } }";

/// A tenant with customers, their orders (the pipeline) and calls (the activity, so notes),
/// a workflow mailing each new customer and an approval policy on customers; a viewer role
/// reading customers without their credit limit and only the orders titled `Visible…`.
async fn crm() -> (TestTenant, Auth) {
    let t = tenant().await;
    t.define_entity(
        "customer",
        "customers",
        plain_fields(&[("name", "TEXT"), ("email", "EMAIL"), ("credit_limit", "NUMBER")]),
    )
    .await;
    let to_customer = || field("customer", "RELATION", json!({"relatedEntity": "customer"}));
    t.define_entity("call", "calls", vec![field("subject", "TEXT", json!({})), to_customer()]).await;
    t.define_entity(
        "order",
        "orders",
        vec![
            field("title", "TEXT", json!({})),
            field("stage", "SELECT", json!({"options": ["Open", "Won", "Lost"]})),
            field("position", "NUMBER", json!({})),
            to_customer(),
        ],
    )
    .await;
    let set = "mutation($i: CrmRolesInput!) { setCrmRoles(input: $i) { activity } }";
    let roles = json!({"pipeline": "order", "wonValue": "Won", "lostValue": "Lost", "activity": "call"});
    assert_eq!(t.data(set, json!({"i": roles})).await["setCrmRoles"]["activity"], json!("call"));
    let mail = json!({
        "trigger": {"type": "record_created", "entity": "customer"},
        "actions": [{"type": "send_email", "to": "{{record.email}}", "subject": "Welcome", "body": "Hello {{record.name}}"}]
    });
    t.create_workflow("welcome", mail).await;
    t.create_role(
        "viewer",
        json!({"customer": {"actions": ["read"], "fields": {"credit_limit": "none"}},
               "order": {"actions": ["read"], "where": {"title": {"startsWith": "Visible"}}}}),
    )
    .await;
    let viewer = t.invite_auth("viewer").await;
    (t, viewer)
}

/// The whole timeline of customer `id` as `auth` sees it, in one page.
async fn feed(t: &TestTenant, auth: &Auth, id: &str) -> Vec<Value> {
    let r = t.api.graphql(auth, TIMELINE, json!({"id": id, "first": 100})).await.data();
    assert_eq!(r["timeline"]["pageInfo"]["hasNextPage"], json!(false));
    r["timeline"]["edges"].as_array().expect("edges").iter().map(|e| e["node"].clone()).collect()
}

fn kinds(items: &[Value]) -> Vec<String> {
    pluck_str(&Value::Array(items.to_vec()), "kind")
}

/// A customer with a full history: created (its workflow ran and mailed it), renamed with a
/// credit limit, two orders, a call, submitted for approval, and its credit limit raised.
async fn history(t: &TestTenant) -> String {
    let customers = Names::new("customer", "customers");
    let id =
        str_of(&t.create(&customers, json!({"name": "Acme", "email": "buyer@acme.example"}), "").await["id"]);
    let owner = t.auth();
    eventually("the welcome email in the timeline", EFFECT_WAIT, async || {
        let items = feed(t, &owner, &id).await;
        let k = kinds(&items);
        let done = k.contains(&"EMAIL".to_owned())
            && items.iter().any(|i| i["kind"] == "WORKFLOW_RUN" && i["status"] == "succeeded");
        if done { Ok(()) } else { Err(items) }
    })
    .await;
    t.update(&customers, &id, json!({"name": "Acme Ltd", "creditLimit": 5000}), "").await;
    let orders = Names::new("order", "orders");
    for title in ["Visible order", "Hidden order"] {
        t.create(&orders, json!({"title": title, "stage": "Open", "customer": id}), "").await;
    }
    t.create(&Names::new("call", "calls"), json!({"subject": "Kick-off", "customer": id}), "").await;
    let policy = t
        .data(
            "mutation($i: ApprovalPolicyInput!) { createApprovalPolicy(input: $i) { id } }",
            json!({"i": {"entity": "customer", "name": "Credit check", "stages": [{"name": "Check", "approverRole": "admin"}]}}),
        )
        .await;
    t.submit_for_approval(&str_of(&policy["createApprovalPolicy"]["id"]), &id, "id").await;
    t.update(&customers, &id, json!({"creditLimit": 9000}), "").await;
    id
}

#[tokio::test]
async fn a_timeline_merges_six_kinds_newest_first_and_hides_what_a_member_may_not_read() {
    let (t, viewer) = crm().await;
    let id = history(&t).await;
    let items = feed(&t, &t.auth(), &id).await;
    let k = kinds(&items);
    assert_eq!(k[..6], ["CHANGE", "APPROVAL", "NOTE", "RELATED", "RELATED", "CHANGE"], "{items:#?}");
    let first_steps: BTreeSet<&str> = k[6..].iter().map(String::as_str).collect();
    assert_eq!(first_steps, BTreeSet::from(["CHANGE", "EMAIL", "WORKFLOW_RUN"]), "{items:#?}");
    let times: Vec<String> = pluck_str(&Value::Array(items.clone()), "at");
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    // The latest change: the credit limit, by the owner.
    assert_eq!(items[0]["changes"], json!([{"field": "creditLimit", "old": 5000, "new": 9000}]));
    assert_eq!(items[0]["actor"], json!(t.user_id));
    assert_eq!(items[2]["entity"], json!("call"));
    assert_eq!(items[2]["record"]["subject"], json!("Kick-off"));
    assert_eq!(
        (items[3]["title"].clone(), items[4]["title"].clone()),
        (json!("Hidden order"), json!("Visible order"))
    );
    let renamed: Vec<String> = pluck_str(&items[5]["changes"], "field");
    assert_eq!(sorted(renamed), ["creditLimit", "name"]);
    let email = items.iter().find(|i| i["kind"] == "EMAIL").expect("email");
    assert_eq!(email["title"], json!("Email: Welcome"));
    let approval = items.iter().find(|i| i["kind"] == "APPROVAL").expect("approval");
    assert_eq!(approval["title"], json!("Approval: Credit check"));

    // The viewer: no credit limit anywhere, no call, only the visible order.
    let seen = feed(&t, &viewer, &id).await;
    let k = kinds(&seen);
    // Workflow runs and emails are the administrators' to see.
    assert_eq!(k, ["APPROVAL", "RELATED", "CHANGE", "CHANGE"], "{seen:#?}");
    assert_eq!(seen[1]["title"], json!("Visible order"));
    assert_eq!(seen[2]["changes"], json!([{"field": "name", "old": "Acme", "new": "Acme Ltd"}]));
    let text = serde_json::to_string(&seen).expect("json");
    assert!(
        !text.contains("creditLimit") && !text.contains("Hidden order") && !text.contains("Kick-off"),
        "{text}"
    );
    // Only some kinds.
    let r = t.data(TIMELINE, json!({"id": id, "kinds": ["NOTE", "RELATED"]})).await;
    let only = r["timeline"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect::<Vec<_>>();
    assert_eq!(kinds(&only), ["NOTE", "RELATED", "RELATED"]);
    // Another tenant cannot see the record at all.
    let other = tenant().await;
    other.define_entity("customer", "customers", plain_fields(&[("name", "TEXT")])).await;
    other.request(TIMELINE, json!({"id": id})).await.expect_code("NOT_FOUND");
}

#[tokio::test]
async fn timeline_pages_join_up_to_the_whole_feed() {
    let (t, _) = crm().await;
    let id = history(&t).await;
    let whole: Vec<String> =
        feed(&t, &t.auth(), &id).await.iter().map(|i| format!("{}:{}", i["kind"], i["id"])).collect();
    let (mut paged, mut after, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let r = t.data(TIMELINE, json!({"id": id, "first": 2, "after": after})).await["timeline"].clone();
        let edges = r["edges"].as_array().expect("edges").clone();
        assert!(edges.len() <= 2);
        paged.extend(edges.iter().map(|e| format!("{}:{}", e["node"]["kind"], e["node"]["id"])));
        pages += 1;
        if r["pageInfo"]["hasNextPage"] == json!(false) {
            break;
        }
        after = r["pageInfo"]["endCursor"].clone();
        assert!(pages < 20, "too many pages");
    }
    assert_eq!(paged, whole);
    assert!(pages >= 5, "{pages} pages");
    t.request(TIMELINE, json!({"id": id, "after": "not a cursor"})).await.expect_code("BAD_REQUEST");
}

#[tokio::test]
async fn record360_counts_and_shows_related_records_as_the_caller_reads_them() {
    let (t, viewer) = crm().await;
    let id = history(&t).await;
    let owner = t.data(VIEW, json!({"id": id, "n": 1})).await["record360"].clone();
    assert_eq!(owner["record"]["creditLimit"], json!(9000));
    let group = |v: &Value, entity: &str| -> Value {
        v["related"]
            .as_array()
            .expect("related")
            .iter()
            .find(|g| g["entity"] == entity)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let orders = group(&owner, "order");
    assert_eq!((orders["field"].clone(), orders["count"].clone()), (json!("customer"), json!(2)));
    assert_eq!(pluck_str(&orders["latest"], "title"), ["Hidden order"]);
    assert_eq!(group(&owner, "call")["count"], json!(1));
    let seen = t.api.graphql(&viewer, VIEW, json!({"id": id, "n": 5})).await.data()["record360"].clone();
    assert!(seen["record"].get("creditLimit").is_none(), "{seen}");
    assert_eq!(group(&seen, "order")["count"], json!(1));
    assert_eq!(pluck_str(&group(&seen, "order")["latest"], "title"), ["Visible order"]);
    assert_eq!(group(&seen, "call"), Value::Null);
    t.request(VIEW, json!({"id": id, "n": 51})).await.expect_code("BAD_REQUEST");
}

#[tokio::test]
async fn record360_costs_the_same_statements_however_many_records_are_related() {
    let (t, _) = crm().await;
    let customers = Names::new("customer", "customers");
    let id = str_of(&t.create(&customers, json!({"name": "Initech"}), "").await["id"]);
    let orders = Names::new("order", "orders");
    t.create(&orders, json!({"title": "First", "customer": id}), "").await;
    let auth = t.auth();
    let one = round_trips(&t, &auth, VIEW, json!({"id": id, "n": 10})).await;
    for i in 0..6 {
        t.create(&orders, json!({"title": format!("More {i}"), "customer": id}), "").await;
        t.create(&Names::new("call", "calls"), json!({"subject": format!("Call {i}"), "customer": id}), "")
            .await;
    }
    let many = round_trips(&t, &auth, VIEW, json!({"id": id, "n": 10})).await;
    assert_eq!(one, many, "record360 took {one} statements with one related record and {many} with thirteen");
    // The record, and a page and a count per relation (two here), each read with its
    // transaction's BEGIN and COMMIT (on SQLite; PostgreSQL reads through one).
    assert!(many <= 12, "record360 took {many} statements");
}

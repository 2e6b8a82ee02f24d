//! Modules per tenant through the public API: a module (defined by an administrator, or brought
//! by a template) switched off takes its entities out of the tenant's schema — types, queries,
//! mutations, aggregates, subscriptions, and the relation fields of other entities pointing at
//! them — on every instance, hides its dashboards and stops the workflows that reach into it;
//! switched on again, every record is back with its id. Members cannot switch; another tenant
//! with the same definitions keeps its own. An entity held by two modules stays while either
//! is on; an entity in no module is always on.

use serde_json::{Value, json};

use crate::audit::only_entry;
use crate::harness::*;

pub(crate) const MODULE: &str = "id key label enabled entities workflows dashboards template";
const RUNS: &str = "query($w: ID) { workflowRuns(workflowId: $w) { id status recordId } }";

pub(crate) async fn switch_raw(t: &TestTenant, auth: &Auth, op: &str, key: &str) -> Response {
    let query = format!("mutation($k: String!) {{ {op}(key: $k) {{ {MODULE} }} }}");
    t.api.graphql(auth, &query, json!({"k": key})).await
}

/// `enableModule` / `disableModule` as the owner, asserting success: the module.
pub(crate) async fn switch(t: &TestTenant, op: &str, key: &str) -> Value {
    switch_raw(t, &t.auth(), op, key).await.data()[op].clone()
}

/// `modules` as the owner, by key.
pub(crate) async fn modules(t: &TestTenant) -> Vec<Value> {
    t.data(&format!("{{ modules {{ {MODULE} }} }}"), json!({})).await["modules"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The root fields of `Query`, `Mutation` and `Subscription`, by introspection.
async fn root_fields(t: &TestTenant) -> Vec<String> {
    let mut all = Vec::new();
    for root in ["Query", "Mutation", "Subscription"] {
        all.extend(t.type_fields(root).await.unwrap_or_default());
    }
    all
}

async fn sdl(t: &TestTenant) -> String {
    str_of(&t.data("{ tenantSchemaSdl }", json!({})).await["tenantSchemaSdl"])
}

/// The runs of workflow `id`.
async fn runs(t: &TestTenant, id: &str) -> Vec<Value> {
    t.data(RUNS, json!({"w": id})).await["workflowRuns"].as_array().cloned().unwrap_or_default()
}

/// Waits until workflow `id` has a finished run on `record`; its status.
pub(crate) async fn finished_run(t: &TestTenant, id: &str, record: &str) -> String {
    eventually(format!("a finished run of {id} on {record}"), EFFECT_WAIT, async || {
        let all = runs(t, id).await;
        let run = all.iter().find(|r| r["recordId"] == json!(record) && r["status"] != "running");
        run.map(|r| str_of(&r["status"])).ok_or(all)
    })
    .await
}

/// `memo` (in module `notes`) and `ticket` (in no module, pointing at a memo), a workflow on
/// tickets that creates a memo and one that only marks the ticket, and a dashboard of memos.
pub(crate) async fn helpdesk(t: &TestTenant) -> (String, String) {
    t.define_entity("memo", "memos", vec![field("text", "TEXT", json!({"required": true}))]).await;
    let memo = field("memo", "RELATION", json!({"relatedEntity": "memo"}));
    let seen = field("seen", "BOOLEAN", json!({}));
    t.define_entity(
        "ticket",
        "tickets",
        vec![field("subject", "TEXT", json!({"required": true})), memo, seen],
    )
    .await;
    let created = json!({"type": "record_created", "entity": "ticket"});
    let to_memo = t
        .create_workflow(
            "memo per ticket",
            json!({"trigger": created, "actions": [
                {"type": "create_record", "entity": "memo", "values": {"text": "about {{record.subject}}"}}]}),
        )
        .await;
    let mark = t
        .create_workflow(
            "mark ticket",
            json!({"trigger": created, "actions": [{"type": "update_fields", "values": {"seen": true}}]}),
        )
        .await;
    let board = json!({"key": "memos", "name": {"en": "Memos"}, "widgets": [
        {"type": "metric", "title": {"en": "Memos"}, "entity": "memo", "function": "count"}]});
    t.data("mutation($i: DashboardInput!) { createDashboard(input: $i) { id } }", json!({"i": board})).await;
    (to_memo, mark)
}

fn memo_api_present(fields: &[String]) -> Vec<&'static str> {
    [
        "memo",
        "memos",
        "memosAggregate",
        "createMemo",
        "updateMemo",
        "deleteMemo",
        "restoreMemo",
        "memoChanged",
    ]
    .into_iter()
    .filter(|f| fields.iter().any(|x| x == f))
    .collect()
}

#[tokio::test]
async fn a_module_switched_off_vanishes_from_the_schema_and_comes_back_with_its_records() {
    let t = tenant().await;
    let (to_memo, mark) = helpdesk(&t).await;
    let define = format!("mutation($i: ModuleInput!) {{ defineModule(input: $i) {{ {MODULE} }} }}");
    let notes = t
        .data(
            &define,
            json!({"i": {"key": "notes", "label": "Notes", "entities": ["memo"],
            "workflows": [to_memo], "dashboards": ["memos"]}}),
        )
        .await["defineModule"]
        .clone();
    assert_eq!(notes["enabled"], json!(true));
    assert_eq!(notes["entities"], json!(["memo"]));
    assert_eq!(notes["dashboards"], json!(["memos"]));
    // Names that name nothing, field by field; a key taken.
    t.request(
        &define,
        json!({"i": {"key": "bad", "label": "Bad", "entities": ["nope"], "dashboards": ["nope"]}}),
    )
    .await
    .expect_field_errors(&["entities[0]", "dashboards[0]"]);
    t.request(&define, json!({"i": {"key": "notes", "label": "Again"}})).await.expect_code("CONFLICT");

    let (memos, tickets) = (Names::new("memo", "memos"), Names::new("ticket", "tickets"));
    let kept = t.create(&memos, json!({"text": "keep me"}), "text").await;
    let kept_id = str_of(&kept["id"]);
    let linked = t.create(&tickets, json!({"subject": "linked", "memo": kept_id}), "").await;
    let before = t.create(&tickets, json!({"subject": "before"}), "").await;
    for ticket in [&linked, &before] {
        assert_eq!(finished_run(&t, &to_memo, &str_of(&ticket["id"])).await, "succeeded");
    }
    let memo_count = t.list(&memos, "", json!({}), "id").await["totalCount"].clone();
    assert_eq!(memo_count, json!(3), "the kept memo and one per ticket");

    // Another tenant with the same definitions, its module on throughout: one shape before.
    let other = tenant().await;
    helpdesk(&other).await;
    other.data(&define, json!({"i": {"key": "notes", "label": "Notes", "entities": ["memo"]}})).await;
    // A second instance has the tenant's schema cached before the switch.
    let elsewhere = t.on(short_ttl_server());
    assert!(elsewhere.type_fields("Memo").await.is_some());

    // A member may not switch.
    let member = t.invite_auth("member").await;
    switch_raw(&t, &member, "disableModule", "notes").await.expect_code("FORBIDDEN");
    t.api
        .graphql(&member, &format!("{{ modules {{ {MODULE} }} }}"), json!({}))
        .await
        .expect_code("FORBIDDEN");
    switch_raw(&t, &t.auth(), "disableModule", "nope").await.expect_code("NOT_FOUND");

    let off = switch(&t, "disableModule", "notes").await;
    assert_eq!(off["enabled"], json!(false));
    assert_eq!(
        modules(&t).await.iter().map(|m| m["enabled"].clone()).collect::<Vec<_>>(),
        vec![json!(false)]
    );
    only_entry(&t, "module.disable").await;

    // Gone from the schema: the type, its inputs, every root field, the relation pointing at it.
    assert_eq!(t.type_fields("Memo").await, None);
    assert_eq!(t.type_fields("CreateMemoInput").await, None);
    assert_eq!(memo_api_present(&root_fields(&t).await), Vec::<&str>::new());
    let ticket_fields = t.type_fields("Ticket").await.expect("Ticket stays");
    assert!(!ticket_fields.contains(&"memo".to_owned()), "{ticket_fields:?}");
    assert!(!t.type_fields("CreateTicketInput").await.expect("input").contains(&"memo".to_owned()));
    let text = sdl(&t).await;
    assert!(!text.contains("type Memo ") && !text.contains("memos"), "the SDL still names memos");
    assert!(text.contains("type Ticket "));
    assert!(!t.entity_names().await.contains(&"memo".to_owned()));
    t.request("{ memos { totalCount } }", json!({})).await.assert_every_error_has_code();
    assert!(!t.request("{ memos { totalCount } }", json!({})).await.errors().is_empty());
    // Its dashboard is hidden.
    let boards = t.data("{ dashboards { key } }", json!({})).await["dashboards"].clone();
    assert_eq!(boards, json!([]));
    // The other instance hears of it at once (as of a definition change).
    eventually("the other instance to drop Memo", EFFECT_WAIT, async || {
        elsewhere.type_fields("Memo").await.is_none()
    })
    .await;
    // The other tenant keeps its module and its types.
    assert!(other.type_fields("Memo").await.is_some());
    assert_eq!(modules(&other).await[0]["enabled"], json!(true));

    // A ticket's workflow that creates a memo does not fire; the other one does.
    let during = t.create(&tickets, json!({"subject": "during"}), "").await;
    let during_id = str_of(&during["id"]);
    assert_eq!(finished_run(&t, &mark, &during_id).await, "succeeded");
    assert!(
        runs(&t, &to_memo).await.iter().all(|r| r["recordId"] != json!(during_id)),
        "the workflow reaching into a module that is off ran"
    );
    // Nor can a workflow name the entity now.
    let bad = json!({"name": "x", "definition": {"trigger": {"type": "record_created", "entity": "ticket"},
        "actions": [{"type": "create_record", "entity": "memo", "values": {"text": "x"}}]}});
    t.request("mutation($i: WorkflowInput!) { createWorkflow(input: $i) { id } }", json!({"i": bad}))
        .await
        .expect_code("VALIDATION_FAILED");
    // An update of the ticket keeps its hidden relation value.
    t.update(&tickets, &str_of(&linked["id"]), json!({"subject": "linked, edited"}), "").await;

    // Back on: the type, the same records with their ids, the relation, the dashboard.
    let on = switch(&t, "enableModule", "notes").await;
    assert_eq!(on["enabled"], json!(true));
    assert_eq!(memo_api_present(&root_fields(&t).await).len(), 8);
    let listed = t.list(&memos, "", json!({}), "text").await;
    assert_eq!(listed["totalCount"], memo_count, "no memo lost, none added while off");
    assert!(pluck_str(&listed["nodes"], "id").contains(&kept_id));
    let back = t.get(&tickets, &str_of(&linked["id"]), "subject memo { id text }").await;
    assert_eq!(back["memo"], json!({"id": kept_id, "text": "keep me"}));
    assert_eq!(back["subject"], json!("linked, edited"));
    let boards = t.data("{ dashboards { key widgets { data } } }", json!({})).await["dashboards"].clone();
    assert_eq!(boards, json!([{"key": "memos", "widgets": [{"data": {"value": 3}}]}]));
    eventually("the other instance to show Memo", EFFECT_WAIT, async || {
        elsewhere.type_fields("Memo").await.is_some()
    })
    .await;
    // And the workflow fires again.
    let after = t.create(&tickets, json!({"subject": "after"}), "").await;
    assert_eq!(finished_run(&t, &to_memo, &str_of(&after["id"])).await, "succeeded");
    only_entry(&t, "module.enable").await;
}

#[tokio::test]
async fn a_template_brings_its_modules_and_a_shared_entity_stays_while_either_module_is_on() {
    let t = tenant().await;
    t.data("mutation { applyTemplate(slug: \"corporate-crm\") { slug } }", json!({})).await;
    let listed = modules(&t).await;
    let keys: Vec<String> = listed.iter().map(|m| str_of(&m["key"])).collect();
    assert_eq!(keys, strings(&["sales", "finance"]));
    assert!(listed.iter().all(|m| m["enabled"] == json!(true) && m["template"] == json!("corporate-crm")));
    assert_eq!(listed[1]["workflows"].as_array().map(Vec::len), Some(1));
    let account = t.create(&Names::new("account", "accounts"), json!({"name": "Acme"}), "").await;

    switch(&t, "disableModule", "finance").await;
    for gone in ["Invoice", "InvoiceLine", "Quote", "Product"] {
        assert_eq!(t.type_fields(gone).await, None, "{gone}");
    }
    // Account and contact are in sales too, which is on.
    for kept in ["Account", "Contact", "Deal", "Lead"] {
        assert!(t.type_fields(kept).await.is_some(), "{kept}");
    }
    let boards = t.data("{ dashboards { key } }", json!({})).await["dashboards"].clone();
    assert_eq!(pluck_str(&boards, "key"), strings(&["sales"]));

    switch(&t, "disableModule", "sales").await;
    for gone in ["Account", "Contact", "Deal", "Lead", "Activity"] {
        assert_eq!(t.type_fields(gone).await, None, "{gone}");
    }
    switch(&t, "enableModule", "finance").await;
    assert!(t.type_fields("Invoice").await.is_some());
    assert_eq!(t.type_fields("Deal").await, None);
    // Finance holds account again: the same record.
    let again = t.get(&Names::new("account", "accounts"), &str_of(&account["id"]), "name").await;
    assert_eq!(again["name"], json!("Acme"));
}

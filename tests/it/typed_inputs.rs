//! Typed inputs beside the JSON ones, through the public API: a role's `rules`, a workflow's
//! `trigger`/`actions` and a dashboard's `widgetList` store exactly what their JSON twins
//! (`permissions`, `definition`, `widgets`) store, and work as those do (a typed workflow runs);
//! an input giving both forms or neither is refused with `VALIDATION_FAILED` naming the
//! member, and what the shared validator refuses in a typed form is named by its typed path.
//! The schema says what a `JSON` value is (`@specifiedBy` RFC 8259) and every JSON argument
//! and input field describes its shape.

use serde_json::{Value, json};

use crate::fixtures::{define_crm, define_pipeline};
use crate::harness::*;

async fn deals(t: &TestTenant) -> Names {
    let extra = [("margin", "NUMBER"), ("region", "TEXT"), ("closes_at", "DATETIME"), ("note", "TEXT")];
    define_pipeline(t, plain_fields(&extra)).await
}

const CREATE_ROLE: &str = "mutation($i: RoleInput!) { createRole(input: $i) { id permissions } }";
const UPDATE_ROLE: &str =
    "mutation($id: ID!, $i: UpdateRoleInput!) { updateRole(id: $id, input: $i) { id permissions } }";

#[tokio::test]
async fn typed_role_rules_store_what_the_permissions_json_stores() {
    let t = tenant().await;
    deals(&t).await;
    let permissions = json!({
        "deal": {"actions": ["read", "update"], "scope": "own",
                 "where": {"region": {"eq": "North"}, "owner": {"eq": "$currentUser"}},
                 "fields": {"margin": "none", "amount": "read"}},
        "*": {"actions": ["read"]},
        "$admin": true
    });
    let rules = json!([
        {"entity": "deal", "actions": ["READ", "UPDATE"], "scope": "OWN",
         "where": {"region": {"eq": "North"}, "owner": {"eq": "$currentUser"}},
         "fields": [{"field": "margin", "access": "NONE"}, {"field": "amount", "access": "READ"}]},
        {"entity": "*", "actions": ["READ"]}
    ]);
    let by_json = t.data(CREATE_ROLE, json!({"i": {"name": "json", "permissions": permissions}})).await;
    let typed =
        t.data(CREATE_ROLE, json!({"i": {"name": "typed", "rules": rules, "admin": true}})).await["createRole"].clone();
    assert_json_eq(
        &typed["permissions"],
        &by_json["createRole"]["permissions"],
        "typed rules vs permissions JSON",
    );

    // An update with rules replaces the permissions as a permissions JSON update does.
    let id = str_of(&typed["id"]);
    let narrowed = t
        .data(UPDATE_ROLE, json!({"id": id, "i": {"rules": [{"entity": "deal", "actions": ["READ"]}]}}))
        .await["updateRole"]["permissions"]
        .clone();
    let expected = t
        .data(UPDATE_ROLE, json!({"id": str_of(&by_json["createRole"]["id"]), "i": {"permissions": {"deal": {"actions": ["read"]}}}}))
        .await["updateRole"]["permissions"]
        .clone();
    assert_json_eq(&narrowed, &expected, "updated by rules vs by JSON");
    assert_eq!(narrowed, json!({"deal": {"actions": ["read"], "scope": "all"}}));
    // Neither form in an update keeps the permissions.
    let renamed = t.data(UPDATE_ROLE, json!({"id": id, "i": {"name": "renamed"}})).await;
    assert_eq!(renamed["updateRole"]["permissions"], narrowed);

    // Both forms, or neither on creation: refused, naming the JSON member.
    let both = json!({"i": {"name": "both", "permissions": {"*": {"actions": ["read"]}}, "rules": [{"entity": "*", "actions": ["READ"]}]}});
    t.request(CREATE_ROLE, both).await.expect_field_errors(&["permissions"]);
    t.request(CREATE_ROLE, json!({"i": {"name": "neither"}})).await.expect_field_errors(&["permissions"]);
    t.request(UPDATE_ROLE, json!({"id": id, "i": {"permissions": {}, "admin": false}}))
        .await
        .expect_field_errors(&["permissions"]);
    t.request(UPDATE_ROLE, json!({"id": id, "i": {"admin": true}})).await.expect_field_errors(&["rules"]);
    // What the permissions parser refuses is named by the rule that holds it.
    let bad = json!([
        {"entity": "deal", "actions": ["UPDATE"], "where": {"nope": {"eq": 1}},
         "fields": [{"field": "title", "access": "READ"}, {"field": "ghost", "access": "NONE"}]},
        {"entity": "unicorn", "actions": ["READ"]},
        {"entity": "deal", "actions": ["READ"]},
        {"entity": "*", "actions": ["READ"], "fields": [{"field": "title", "access": "READ"}]}
    ]);
    t.request(CREATE_ROLE, json!({"i": {"name": "bad", "rules": bad}}))
        .await
        .expect_field_errors(&["rules[2].entity"]);
    let bad = json!([bad[0], bad[1], bad[3]]);
    t.request(CREATE_ROLE, json!({"i": {"name": "bad", "rules": bad}})).await.expect_field_errors(&[
        "rules[0].actions",
        "rules[0].where.nope",
        "rules[0].fields[1].field",
        "rules[1].entity",
        "rules[2].fields",
    ]);
}

const WORKFLOW: &str = "id definition";
const CREATE_WORKFLOW: &str = "mutation($i: WorkflowInput!) { createWorkflow(input: $i) { id definition } }";

#[tokio::test]
async fn a_typed_workflow_stores_the_json_definition_and_runs() {
    let t = tenant().await;
    let deal = deals(&t).await;
    let definition = json!({
        "trigger": {"type": "field_changed", "entity": "deal", "field": "stage", "to": "Won"},
        "condition": {"amount": {"gte": "1000"}},
        "previousCondition": {"stage": {"neq": "Won"}},
        "actions": [
            {"type": "update_fields", "values": {"note": "won {{record.title}}"}},
            {"type": "create_record", "entity": "task", "values": {"title": "Invoice {{record.title}}"}},
            {"type": "notify", "role": "admin", "title": "Won: {{record.title}}"},
            {"type": "wait", "seconds": 60},
            {"type": "send_email", "to": "sales@example.com", "subject": "Won", "body": "{{record.title}}"},
            {"type": "assign_owner", "user": "{{record.createdBy}}"},
            {"type": "call_webhook", "url": "https://example.com/won", "body": {"deal": "{{record.id}}"}}
        ]
    });
    let trigger = json!({"fieldChanged": {"entity": "deal", "field": "stage", "to": "Won"}});
    let actions = json!([
        {"updateFields": {"values": {"note": "won {{record.title}}"}}},
        {"createRecord": {"entity": "task", "values": {"title": "Invoice {{record.title}}"}}},
        {"notify": {"role": "admin", "title": "Won: {{record.title}}"}},
        {"wait": {"seconds": 60}},
        {"sendEmail": {"to": "sales@example.com", "subject": "Won", "body": "{{record.title}}"}},
        {"assignOwner": {"user": "{{record.createdBy}}"}},
        {"callWebhook": {"url": "https://example.com/won", "body": {"deal": "{{record.id}}"}}}
    ]);
    let by_json = t
        .data(CREATE_WORKFLOW, json!({"i": {"name": "json", "active": false, "definition": definition}}))
        .await["createWorkflow"]
        .clone();
    let typed_input = json!({"name": "typed", "active": false, "trigger": trigger, "actions": actions,
        "condition": {"amount": {"gte": "1000"}}, "previousCondition": {"stage": {"neq": "Won"}}});
    let typed = t.data(CREATE_WORKFLOW, json!({"i": typed_input})).await["createWorkflow"].clone();
    assert_json_eq(&typed["definition"], &by_json["definition"], "typed workflow vs definition JSON");

    // Updated with the typed form, it runs: a created deal gets its note from the workflow.
    let update = format!(
        "mutation($id: ID!, $i: WorkflowInput!) {{ updateWorkflow(id: $id, input: $i) {{ {WORKFLOW} }} }}"
    );
    let typed_id = str_of(&typed["id"]);
    let input = json!({"name": "typed", "active": true, "trigger": {"recordCreated": {"entity": "deal"}},
        "actions": [{"updateFields": {"values": {"note": "seen {{record.title}}"}}}]});
    let updated =
        t.data(&update, json!({"id": typed_id, "i": input})).await["updateWorkflow"]["definition"].clone();
    assert_eq!(
        updated,
        json!({"trigger": {"type": "record_created", "entity": "deal"},
               "actions": [{"type": "update_fields", "values": {"note": "seen {{record.title}}"}}]})
    );
    let id = str_of(&t.create(&deal, json!({"title": "Acme"}), "id").await["id"]);
    eventually("the typed workflow to run on the created deal", EFFECT_WAIT, async || {
        let note = t.get(&deal, &id, "note").await["note"].clone();
        if note == json!("seen Acme") { Ok(()) } else { Err(note) }
    })
    .await;

    // Both forms, or neither: refused, naming `definition`; half a typed form names the rest.
    let both = json!({"name": "both", "definition": definition, "actions": actions});
    t.request(CREATE_WORKFLOW, json!({"i": both})).await.expect_field_errors(&["definition"]);
    t.request(CREATE_WORKFLOW, json!({"i": {"name": "neither"}})).await.expect_field_errors(&["definition"]);
    t.request(&update, json!({"id": typed_id, "i": {"name": "half", "trigger": trigger}}))
        .await
        .expect_field_errors(&["actions"]);
    // What the definition parser refuses is named by its typed path.
    let bad = json!({"name": "bad", "trigger": {"schedule": {"entity": "deal", "cron": "every day"}},
        "condition": {"nope": {"eq": 1}},
        "actions": [{"wait": {"seconds": 0}}, {"createRecord": {"entity": "unicorn", "values": {}}},
                    {"updateFields": {"values": {"ghost": 1}}}]});
    t.request(CREATE_WORKFLOW, json!({"i": bad})).await.expect_field_errors(&[
        "trigger.cron",
        "condition.nope",
        "actions[0].seconds",
        "actions[1].entity",
        "actions[2].values.ghost",
    ]);
    let unreadable =
        json!({"name": "bad", "trigger": trigger, "actions": [{"updateFields": {"values": "x"}}]});
    t.request(CREATE_WORKFLOW, json!({"i": unreadable})).await.expect_field_errors(&["actions"]);
    // A trigger naming two types is not a trigger (GraphQL's own `@oneOf` check).
    let two = json!({"name": "two", "trigger": {"manual": {"entity": "deal"}, "recordCreated": {"entity": "deal"}},
        "actions": actions});
    let refused = t.request(CREATE_WORKFLOW, json!({"i": two})).await;
    refused.assert_every_error_has_code();
    assert_ne!(refused.code(), "INTERNAL", "{}", refused.text);
}

const CREATE_DASHBOARD: &str =
    "mutation($i: DashboardInput!) { createDashboard(input: $i) { id widgets { type config data } } }";

#[tokio::test]
async fn typed_dashboard_widgets_store_what_the_widgets_json_stores() {
    let t = tenant().await;
    let deal = deals(&t).await;
    for (title, stage, amount) in [("A", "Lead", "100.00"), ("B", "Won", "250.50"), ("C", "Won", "10.00")] {
        t.create(&deal, json!({"title": title, "stage": stage, "amount": amount}), "").await;
    }
    let widgets = json!([
        {"type": "metric", "title": {"en": "Won this month", "hi": "जीते"}, "entity": "deal", "function": "sum",
         "field": "amount", "filter": {"stage": {"eq": "Won"}}, "period": "this_month", "dateField": "createdAt"},
        {"type": "chart", "title": {"en": "By month"}, "entity": "deal", "dateField": "created_at", "bucket": "month",
         "function": "count"},
        {"type": "chart", "title": {"en": "By stage"}, "entity": "deal", "groupBy": "stage"},
        {"type": "recent", "title": {"en": "Latest"}, "entity": "deal", "limit": 2, "fields": ["title", "stage"]},
        {"type": "recent", "title": {"en": "Biggest open"}, "entity": "deal", "limit": 2, "fields": ["title"],
         "filter": {"stage": {"neq": "Won"}}, "orderBy": {"field": "amount", "direction": "asc"}},
        {"type": "pipeline", "title": {"en": "Pipeline"}, "entity": "deal", "stageField": "stage",
         "amountField": "amount", "filter": {"stage": {"neq": "Lost"}}}
    ]);
    let widget_list = json!([
        {"metric": {"title": {"en": "Won this month", "hi": "जीते"}, "entity": "deal", "function": "SUM",
                    "field": "amount", "filter": {"stage": {"eq": "Won"}}, "period": "THIS_MONTH", "dateField": "createdAt"}},
        {"chart": {"title": {"en": "By month"}, "entity": "deal", "dateField": "created_at", "bucket": "MONTH",
                   "function": "COUNT"}},
        {"chart": {"title": {"en": "By stage"}, "entity": "deal", "groupBy": "stage"}},
        {"recent": {"title": {"en": "Latest"}, "entity": "deal", "limit": 2, "fields": ["title", "stage"]}},
        {"recent": {"title": {"en": "Biggest open"}, "entity": "deal", "limit": 2, "fields": ["title"],
                    "filter": {"stage": {"neq": "Won"}}, "orderBy": {"field": "amount", "direction": "ASC"}}},
        {"pipeline": {"title": {"en": "Pipeline"}, "entity": "deal", "stageField": "stage",
                      "amountField": "amount", "filter": {"stage": {"neq": "Lost"}}}}
    ]);
    let input = |key: &str, member: &str, value: &Value| {
        let mut i = json!({"key": key, "name": {"en": key}, "roles": []});
        i[member] = value.clone();
        json!({"i": i})
    };
    let by_json =
        t.data(CREATE_DASHBOARD, input("by_json", "widgets", &widgets)).await["createDashboard"].clone();
    let typed =
        t.data(CREATE_DASHBOARD, input("typed", "widgetList", &widget_list)).await["createDashboard"].clone();
    assert_json_eq(&typed["widgets"], &by_json["widgets"], "typed widgets vs widgets JSON (config and data)");
    assert_eq!(typed["widgets"][0]["data"], json!({"value": "260.50"}));

    let update = "mutation($id: ID!, $i: DashboardInput!) { updateDashboard(id: $id, input: $i) { widgets { config } } }";
    let id = str_of(&typed["id"]);
    let mut i = input("typed", "widgetList", &json!([widget_list[2]]));
    i["id"] = json!(id);
    let updated = t.data(update, i).await;
    assert_eq!(updated["updateDashboard"]["widgets"][0]["config"], widgets[2]);

    // Both forms, or neither: refused, naming `widgets`.
    let mut both = input("both", "widgets", &widgets);
    both["i"]["widgetList"] = widget_list.clone();
    t.request(CREATE_DASHBOARD, both).await.expect_field_errors(&["widgets"]);
    t.request(CREATE_DASHBOARD, input("neither", "roles", &json!([])))
        .await
        .expect_field_errors(&["widgets"]);
    // What the dashboard check refuses is named by its typed path.
    let bad = json!([
        {"metric": {"title": {"en": "x"}, "entity": "unicorn", "function": "COUNT"}},
        {"metric": {"title": {"en": "x"}, "entity": "deal", "function": "SUM", "field": "title"}},
        {"pipeline": {"title": {"en": "x"}, "entity": "deal", "stageField": "region"}}
    ]);
    t.request(CREATE_DASHBOARD, input("bad", "widgetList", &bad)).await.expect_field_errors(&[
        "widgetList[0].entity",
        "widgetList[1].field",
        "widgetList[2].stageField",
    ]);
}

const TYPES: &str = "{ __schema { types { name kind description specifiedByURL isOneOf
    inputFields { name description type { ...T } }
    fields { name description type { ...T } args { name description type { ...T } } } } } }
    fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// The named type at the bottom of an introspected type reference.
fn named(ty: &Value) -> String {
    if ty["ofType"].is_null() { str_of(&ty["name"]) } else { named(&ty["ofType"]) }
}

#[tokio::test]
async fn the_schema_says_what_json_is_and_every_json_input_its_shape() {
    let t = tenant().await;
    // A tenant with a JSON field of its own (`contact.details`).
    define_crm(&t).await;
    let types = t.data(TYPES, json!({})).await["__schema"]["types"].as_array().cloned().unwrap_or_default();
    let json_scalar = types.iter().find(|ty| ty["name"] == "JSON").expect("the JSON scalar");
    assert_eq!(json_scalar["specifiedByURL"], json!("https://www.rfc-editor.org/rfc/rfc8259"));
    assert!(str_of(&json_scalar["description"]).contains("RFC 8259"));
    let mut undescribed = Vec::new();
    let mut json_inputs = 0;
    for ty in &types {
        let type_name = str_of(&ty["name"]);
        let members = ty["inputFields"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| (format!("{type_name}.{}", str_of(&f["name"])), f));
        let args = ty["fields"].as_array().into_iter().flatten().flat_map(|f| {
            let field = format!("{type_name}.{}", str_of(&f["name"]));
            f["args"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |a| (format!("{field}({})", str_of(&a["name"])), a))
        });
        for (path, input) in members.map(|(p, f)| (p, f.clone())).chain(args) {
            if named(&input["type"]) == "JSON" {
                json_inputs += 1;
                if input["description"].as_str().is_none_or(|d| d.trim().is_empty()) {
                    undescribed.push(path);
                }
            }
        }
    }
    assert!(json_inputs >= 20, "only {json_inputs} JSON inputs found");
    assert!(undescribed.is_empty(), "JSON inputs without a description: {undescribed:?}");
    // The typed alternatives are `@oneOf` where a member takes one of several shapes.
    for one_of in ["WorkflowTriggerInput", "WorkflowActionInput", "DashboardWidgetInput"] {
        let ty = types.iter().find(|ty| ty["name"] == one_of).unwrap_or_else(|| panic!("{one_of}"));
        assert_eq!(ty["isOneOf"], json!(true), "{one_of}");
    }
    let sdl = str_of(&t.data("{ tenantSchemaSdl }", json!({})).await["tenantSchemaSdl"]);
    assert!(sdl.contains("scalar JSON @specifiedBy(url: \"https://www.rfc-editor.org/rfc/rfc8259\")"));
    assert!(sdl.contains("input WorkflowTriggerInput @oneOf {"));
}

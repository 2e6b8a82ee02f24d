//! Modules after they are made, through the public API: `updateModule` (texts, translations and
//! members; a member joining a module that is off leaves the schema at once), `deleteModule`
//! (only a custom module whose removal switches nothing; data stays), labels shown in the
//! request's language; `upgradeTemplate` merging a newer template's modules with every switch
//! state kept; and work on a switched-off module refused with FORBIDDEN / `module_disabled`:
//! `runWorkflow`, an inbound webhook, and approvals of its records.

use serde_json::{Value, json};

use crate::audit::only_entry;
use crate::harness::*;
use crate::inbound::{post, sign};
use crate::modules::{MODULE, helpdesk, modules, switch};
use crate::upgrades::{UPGRADE, dir, write};

const DEFINE: &str = "mutation($i: ModuleInput!) { defineModule(input: $i) { key } }";

/// `updateModule(key, input)` as the owner.
async fn update(t: &TestTenant, key: &str, input: Value) -> Response {
    let query = format!(
        "mutation($k: String!, $i: UpdateModuleInput!) {{ updateModule(key: $k, input: $i) {{ {MODULE} }} }}"
    );
    t.request(&query, json!({"k": key, "i": input})).await
}

async fn delete(t: &TestTenant, key: &str) -> Response {
    t.request("mutation($k: String!) { deleteModule(key: $k) }", json!({"k": key})).await
}

#[tokio::test]
async fn modules_are_relabelled_regrouped_translated_and_deleted_without_losing_data() {
    let t = tenant().await;
    helpdesk(&t).await;
    let notes = json!({"key": "notes", "label": "Notes", "description": "Memos about tickets",
        "labels": {"hi": "नोट्स", "bn": "নোট"}, "entities": ["memo"]});
    t.data(DEFINE, json!({"i": notes})).await;
    // The label in the request's language, by argument and by header; the base without one.
    let q =
        "query($l: String) { modules(lang: $l) { label english: label(lang: \"en\") labels description } }";
    let hi = t.data(q, json!({"l": "hi"})).await["modules"][0].clone();
    assert_eq!(
        hi,
        json!({"label": "नोट्स", "english": "Notes", "labels": {"hi": "नोट्स", "bn": "নোট"}, "description": "Memos about tickets"})
    );
    let request = t.api.http.post(t.api.url("/graphql")).header("accept-language", "bn-IN");
    let bn = t.api.send(Api::with_auth(request.json(&json!({"query": q})), &t.auth())).await.data();
    assert_eq!(bn["modules"][0]["label"], json!("নোট"));
    assert_eq!(t.data(q, json!({})).await["modules"][0]["label"], json!("Notes"));
    // Bad translations are refused by name.
    t.request(DEFINE, json!({"i": {"key": "x", "label": "X", "labels": {"not a tag": "x"}}}))
        .await
        .expect_field_errors(&["labels"]);

    // Relabelled and regrouped; members follow the module's switch at once.
    let updated = update(
        &t,
        "notes",
        json!({"label": "Notes & tickets", "labels": {"hi": "टिप्पणियाँ"},
        "entities": ["memo", "ticket"]}),
    )
    .await
    .data()["updateModule"]
        .clone();
    assert_eq!(
        (updated["label"].clone(), updated["entities"].clone()),
        (json!("Notes & tickets"), json!(["memo", "ticket"]))
    );
    update(&t, "notes", json!({"entities": ["nope"]})).await.expect_field_errors(&["entities[0]"]);
    update(&t, "nope", json!({"label": "x"})).await.expect_code("NOT_FOUND");
    only_entry(&t, "module.update").await;
    let tickets = Names::new("ticket", "tickets");
    let ticket = str_of(&t.create(&tickets, json!({"subject": "kept"}), "").await["id"]);
    switch(&t, "disableModule", "notes").await;
    assert_eq!(t.type_fields("Ticket").await, None);
    update(&t, "notes", json!({"entities": ["memo"]})).await.data();
    assert!(t.type_fields("Ticket").await.is_some(), "a member taken out of a module that is off comes back");
    assert!(t.type_fields("Memo").await.is_none());

    // Deleting a module that is off would bring its members back: refused, nothing changed.
    delete(&t, "notes").await.expect_code("CONFLICT");
    assert_eq!(modules(&t).await.len(), 1);
    switch(&t, "enableModule", "notes").await;
    // A module that is on, whose member another module that is off holds: refused too.
    t.data(DEFINE, json!({"i": {"key": "archive", "label": "Archive", "entities": ["memo"]}})).await;
    switch(&t, "disableModule", "archive").await;
    delete(&t, "notes").await.expect_code("CONFLICT");
    assert!(t.type_fields("Memo").await.is_some());
    // Once nothing depends on it, it goes; the entities and records stay.
    switch(&t, "enableModule", "archive").await;
    assert_eq!(delete(&t, "notes").await.data()["deleteModule"], json!(true));
    delete(&t, "notes").await.expect_code("NOT_FOUND");
    assert_eq!(pluck_str(&json!(modules(&t).await), "key"), strings(&["archive"]));
    assert_eq!(t.get(&tickets, &ticket, "subject").await["subject"], json!("kept"));
    only_entry(&t, "module.delete").await;
    // Administrators only.
    let member = t.invite_auth("member").await;
    let inline = "mutation { deleteModule(key: \"archive\") }";
    t.api.graphql(&member, inline, json!({})).await.expect_code("FORBIDDEN");
}

/// A module `off` holding the memo entity, `mark` (a ticket workflow) and a webhook workflow on
/// memos; the webhook workflow's id and secret.
async fn module_with_work(t: &TestTenant, mark: &str) -> (String, String) {
    t.add_field("memo", json!({"key": "memo_ref", "label": "Ref", "type": "TEXT", "unique": true})).await;
    let created = t
        .data(
            "mutation($i: WorkflowInput!) { createWorkflow(input: $i) { id definition } }",
            json!({"i": {"name": "memo hook", "definition": {
                "trigger": {"type": "webhook", "entity": "memo", "matchField": "memo_ref"},
                "actions": [{"type": "update_fields", "values": {"text": "hooked"}}]}}}),
        )
        .await["createWorkflow"]
        .clone();
    let hook = str_of(&created["id"]);
    let secret = str_of(&created["definition"]["trigger"]["secret"]);
    let input = json!({"key": "notes", "label": "Notes", "entities": ["memo"], "workflows": [mark, hook]});
    t.data(DEFINE, json!({"i": input})).await;
    (hook, secret)
}

#[tokio::test]
async fn runs_webhooks_and_approvals_of_a_switched_off_module_are_refused() {
    let t = tenant().await;
    let (_, mark) = helpdesk(&t).await;
    let (hook, secret) = module_with_work(&t, &mark).await;
    let (memos, tickets) = (Names::new("memo", "memos"), Names::new("ticket", "tickets"));
    let memo = str_of(&t.create(&memos, json!({"text": "m", "memoRef": "M-1"}), "").await["id"]);
    let ticket = str_of(&t.create(&tickets, json!({"subject": "t"}), "").await["id"]);
    let policy = t
        .data(
            "mutation($i: ApprovalPolicyInput!) { createApprovalPolicy(input: $i) { id } }",
            json!({"i": {"entity": "memo", "name": "Memo check", "stages": [{"name": "Check", "approverRole": "owner"}]}}),
        )
        .await["createApprovalPolicy"]["id"]
        .clone();
    let policy = str_of(&policy);
    let pending = str_of(&t.submit_for_approval(&policy, &memo, "id").await["id"]);
    let run = "mutation($w: ID!, $r: ID!) { runWorkflow(id: $w, recordId: $r) { id } }";
    let submit = "mutation($p: ID!, $r: ID!) { submitForApproval(policyId: $p, recordId: $r) { id } }";
    let decide = "mutation($id: ID!) { decideApproval(requestId: $id, action: APPROVE) { state } }";
    let body = r#"{"memoRef":"M-1"}"#;
    let deliver = async |delivery: &str| {
        let signature = sign(&secret, chrono::Utc::now().timestamp(), body);
        post(&t, &hook, &signature, Some(delivery), body).await
    };

    switch(&t, "disableModule", "notes").await;
    // A workflow of the module, though its own entity (tickets) stays on.
    let refused = t.request(run, json!({"w": mark, "r": ticket})).await;
    refused.expect_reason("FORBIDDEN", "module_disabled");
    assert!(refused.text.contains("`notes`"), "the module is named: {}", refused.text);
    // An inbound webhook to a workflow of the module: 403, nothing queued.
    let (status, answer) = deliver("evt-off").await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["errors"][0]["extensions"]["reason"], json!("module_disabled"), "{answer}");
    // Approvals of the module's records: neither a new request nor a decision.
    t.request(submit, json!({"p": policy, "r": memo})).await.expect_reason("FORBIDDEN", "module_disabled");
    t.request(decide, json!({"id": pending})).await.expect_reason("FORBIDDEN", "module_disabled");

    // Back on: each works again.
    switch(&t, "enableModule", "notes").await;
    assert!(t.data(run, json!({"w": mark, "r": ticket})).await["runWorkflow"]["id"].is_string());
    let (status, answer) = deliver("evt-on").await;
    assert_eq!(status, 202, "{answer}");
    eventually("the webhook to reach the memo", EFFECT_WAIT, async || {
        let text = t.get(&memos, &memo, "text").await["text"].clone();
        if text == json!("hooked") { Ok(()) } else { Err(text) }
    })
    .await;
    assert_eq!(t.data(decide, json!({"id": pending})).await["decideApproval"]["state"], json!("APPROVED"));
}

/// A template with a `clinic` module (patients, the front dashboard); `v2` adds visits and the
/// workflow to it, relabels it, and brings a `records` module.
fn clinic(slug: &str, version: u32) -> Value {
    let v2 = version >= 2;
    let entity = |singular: &str, plural: &str| {
        json!({"nameSingular": singular, "namePlural": plural, "labelSingular": singular, "labelPlural": plural,
               "fields": [{"key": "name", "label": "Name", "type": "TEXT", "labels": {"hi": "नाम"}}]})
    };
    let mut entities = vec![entity("patient", "patients"), entity("chart_note", "chart_notes")];
    if v2 {
        entities.push(entity("visit", "visits"));
    }
    let mut clinic = json!({"key": "clinic", "label": if v2 { "Clinic desk" } else { "Clinic" },
        "entities": ["patient"], "dashboards": ["front"]});
    let mut modules = vec![];
    if v2 {
        clinic["entities"] = json!(["patient", "visit"]);
        clinic["workflows"] = json!(["tag new"]);
        clinic["labels"] = json!({"hi": "क्लिनिक"});
        modules.push(json!({"key": "records", "label": "Records", "entities": ["chart_note"]}));
    }
    modules.insert(0, clinic);
    json!({
        "slug": slug, "version": version, "name": {"en": "Module clinic"}, "description": {"en": "modules"},
        "entities": entities, "roles": [],
        "workflows": [{"name": "tag new", "definition": {"trigger": {"type": "record_created", "entity": "patient"},
            "actions": [{"type": "update_fields", "values": {"name": "tagged"}}]}}],
        "dashboards": [{"key": "front", "name": {"en": "Front"}, "roles": [],
            "widgets": [{"type": "metric", "title": {"en": "Patients"}, "entity": "patient", "function": "count"}]}],
        "modules": modules
    })
}

#[tokio::test]
async fn an_upgrade_merges_the_templates_modules_and_keeps_their_switch_states() {
    let slug = format!("mclinic-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    write(&slug, &clinic(&slug, 1));
    let t = tenant().await;
    t.data("mutation($s: String!) { applyTemplate(slug: $s) { entities } }", json!({"s": slug})).await;
    // The tenant switches the clinic off; a template's module cannot be deleted.
    switch(&t, "disableModule", "clinic").await;
    delete(&t, "clinic").await.expect_code("CONFLICT");

    write(&slug, &clinic(&slug, 2));
    let done = t.data(UPGRADE, json!({"s": slug})).await["upgradeTemplate"].clone();
    let mut changes: Vec<String> = done["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["kind"] == json!("MODULE"))
        .map(|c| format!("{} {}", str_of(&c["action"]), str_of(&c["name"])))
        .collect();
    changes.sort();
    assert_eq!(changes, strings(&["ADD records", "UPDATE clinic"]), "{done}");

    let q = format!("{{ modules(lang: \"hi\") {{ {MODULE} labels }} }}");
    let listed = t.data(&q, json!({})).await["modules"].as_array().cloned().unwrap_or_default();
    let clinic = listed.iter().find(|m| m["key"] == json!("clinic")).expect("clinic");
    // Still off, with the new members (which went off with it) and the template's new label.
    assert_eq!(clinic["enabled"], json!(false));
    assert_eq!(clinic["entities"], json!(["patient", "visit"]));
    assert_eq!(clinic["workflows"].as_array().map(Vec::len), Some(1));
    assert_eq!(clinic["label"], json!("क्लिनिक"));
    assert_eq!(t.type_fields("Visit").await, None, "a new member of a module that is off is off");
    let records = listed.iter().find(|m| m["key"] == json!("records")).expect("records");
    assert_eq!((records["enabled"].clone(), records["template"].clone()), (json!(true), json!(slug)));
    // Switched on, the clinic brings everything back.
    switch(&t, "enableModule", "clinic").await;
    assert!(t.type_fields("Visit").await.is_some());
    let _ = std::fs::remove_file(dir().join(format!("{slug}.json")));
}

//! Lifecycles of SELECT fields through the public API: a refused move is VALIDATION_FAILED
//! naming the field, from, to and the allowed values, and writes nothing; an allowed one moves;
//! a move limited to a role is refused for a member and allowed for that role; bad lifecycle
//! definitions are refused with their paths, and a changed definition keeps existing data
//! movable; `<field>Transitions` lists the next values for the caller; a `transitioned`
//! workflow runs exactly on its move, and a workflow action breaking a lifecycle fails its
//! run; the hospital template's patients and doctors and the CRM's deal stages follow theirs,
//! and the hospital's `transitioned` workflow drafts a follow-up record and tells the front
//! desk when a patient is discharged.

use serde_json::{Value, json};

use crate::harness::*;

const RUNS: &str = "query($w: ID) { workflowRuns(workflowId: $w) { status error recordId } }";

fn tickets() -> Names {
    Names::new("ticket", "tickets")
}

/// A `ticket` whose `status` goes Open → Doing → Done (Doing → Done only for `done_roles`),
/// and back from Doing to Open.
async fn define_tickets(t: &TestTenant, done_roles: Value) {
    let lifecycle = json!({"initial": ["Open"], "transitions": [
        {"from": "Open", "to": "Doing"},
        {"from": "Doing", "to": "Open"},
        {"from": "Doing", "to": "Done", "roles": done_roles}]});
    let status = field(
        "status",
        "SELECT",
        json!({"options": ["Open", "Doing", "Done"], "default": "Open", "lifecycle": lifecycle}),
    );
    t.define_entity("ticket", "tickets", vec![field("title", "TEXT", json!({})), status]).await;
}

/// The first `extensions.fields` entry of a refused write.
fn refusal(r: &Response) -> Value {
    r.expect_code("VALIDATION_FAILED");
    r.errors()[0]["extensions"]["fields"][0].clone()
}

async fn update_as(t: &TestTenant, auth: &Auth, id: &str, input: Value) -> Response {
    let q = "mutation($id: ID!, $i: UpdateTicketInput!) { updateTicket(id: $id, input: $i) { status statusTransitions } }";
    t.api.graphql(auth, q, json!({"id": id, "i": input})).await
}

#[tokio::test]
async fn a_refused_move_writes_nothing_and_an_allowed_one_moves() {
    let t = tenant().await;
    define_tickets(&t, json!(null)).await;
    let shown = t
        .data(
            "{ entities { fields { key lifecycle { initial transitions { from to roles } } } } }",
            json!({}),
        )
        .await;
    let status = shown["entities"][0]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["key"] == "status")
        .cloned();
    assert_eq!(
        status.expect("status")["lifecycle"]["transitions"][2],
        json!({"from": "Doing", "to": "Done", "roles": []})
    );

    let started = refusal(&t.create_raw(&tickets(), json!({"title": "t", "status": "Done"}), "").await);
    assert_eq!(
        (started["field"].clone(), started["from"].clone(), started["allowed"].clone()),
        (json!("status"), Value::Null, json!(["Open"]))
    );
    let id = str_of(&t.create(&tickets(), json!({"title": "first"}), "status statusTransitions").await["id"]);

    let refused = t.update_raw(&tickets(), &id, json!({"title": "changed", "status": "Done"}), "").await;
    assert_eq!(
        refusal(&refused),
        json!({"field": "status", "message": refusal(&refused)["message"], "from": "Open", "to": "Done", "allowed": ["Doing"]})
    );
    assert_eq!(
        t.get(&tickets(), &id, "title status").await,
        json!({"id": id, "title": "first", "status": "Open"})
    );
    // The same value again is no move; clearing is one the lifecycle never allows.
    assert_eq!(
        t.update(&tickets(), &id, json!({"status": "Open", "title": "again"}), "status").await["status"],
        json!("Open")
    );
    assert_eq!(refusal(&t.update_raw(&tickets(), &id, json!({"status": null}), "").await)["to"], Value::Null);

    let moved = t.update(&tickets(), &id, json!({"status": "Doing"}), "status statusTransitions").await;
    assert_eq!(
        (moved["status"].clone(), moved["statusTransitions"].clone()),
        (json!("Doing"), json!(["Open", "Done"]))
    );
    assert_eq!(
        t.update(&tickets(), &id, json!({"status": "Done"}), "statusTransitions").await["statusTransitions"],
        json!([])
    );
}

#[tokio::test]
async fn a_move_limited_to_a_role_is_refused_for_a_member_and_allowed_for_the_role() {
    let t = tenant().await;
    define_tickets(&t, json!(["reviewer"])).await;
    t.create_role("reviewer", json!({"ticket": {"actions": ["read", "update"]}})).await;
    let (member, reviewer) = (t.invite_auth("member").await, t.invite_auth("reviewer").await);
    let id = str_of(&t.create(&tickets(), json!({"title": "x"}), "").await["id"]);
    let doing = update_as(&t, &member, &id, json!({"status": "Doing"})).await.data();
    assert_eq!(doing["updateTicket"]["statusTransitions"], json!(["Open"]), "the member may not finish");
    let refused = refusal(&update_as(&t, &member, &id, json!({"status": "Done"})).await);
    assert_eq!(
        (refused["from"].clone(), refused["to"].clone(), refused["allowed"].clone()),
        (json!("Doing"), json!("Done"), json!(["Open"]))
    );
    assert_eq!(t.get(&tickets(), &id, "status").await["status"], json!("Doing"));
    let done = update_as(&t, &reviewer, &id, json!({"status": "Done"})).await.data();
    assert_eq!(done["updateTicket"]["status"], json!("Done"));
}

#[tokio::test]
async fn bad_lifecycles_are_refused_and_a_changed_one_keeps_existing_data_movable() {
    let t = tenant().await;
    t.define_entity("item", "items", vec![field("kind", "SELECT", json!({"options": ["A", "B", "C"]}))])
        .await;
    let bad =
        |lifecycle: Value| field("state", "SELECT", json!({"options": ["X", "Y"], "lifecycle": lifecycle}));
    let refused = t
        .add_field_raw("item", bad(json!({"initial": ["X"], "transitions": [{"from": "X", "to": "Nope"}]})))
        .await;
    refused.expect_field_errors(&["lifecycle.transitions[0].to"]);
    t.add_field_raw("item", bad(json!({"initial": ["Z"]})))
        .await
        .expect_field_errors(&["lifecycle.initial[0]"]);
    let on_text = field("note", "TEXT", json!({"lifecycle": {"transitions": []}}));
    t.add_field_raw("item", on_text).await.expect_field_errors(&["lifecycle"]);

    // A lifecycle given to a field with data: a record in a value it does not mention may go
    // to a starting value; removing an option the lifecycle names is refused.
    let items = Names::new("item", "items");
    let id = str_of(&t.create(&items, json!({"kind": "C"}), "").await["id"]);
    let update = "mutation($f: UpdateFieldInput!) { updateField(entity: \"item\", key: \"kind\", input: $f) { nameSingular } }";
    let lifecycle = json!({"initial": ["A"], "transitions": [{"from": "A", "to": "B"}]});
    t.data(update, json!({"f": {"lifecycle": lifecycle}})).await;
    assert_eq!(t.get(&items, &id, "kind kindTransitions").await["kindTransitions"], json!(["A"]));
    refusal(&t.update_raw(&items, &id, json!({"kind": "B"}), "").await);
    assert_eq!(t.update(&items, &id, json!({"kind": "A"}), "kind").await["kind"], json!("A"));
    t.request(update, json!({"f": {"options": ["A", "C"]}}))
        .await
        .expect_field_errors(&["lifecycle.transitions[0].to"]);
    // `null` removes it: any option again.
    t.data(update, json!({"f": {"lifecycle": null}})).await;
    assert_eq!(t.update(&items, &id, json!({"kind": "C"}), "kind").await["kind"], json!("C"));
    assert_eq!(t.type_fields("Item").await.map(|f| f.contains(&"kindTransitions".to_owned())), Some(false));
}

#[tokio::test]
async fn a_transitioned_workflow_runs_exactly_on_its_move() {
    let t = tenant().await;
    define_tickets(&t, json!(null)).await;
    let create = "mutation($i: WorkflowInput!) { createWorkflow(input: $i) { id } }";
    let typed = json!({"name": "Finished", "trigger": {"transitioned": {"entity": "ticket", "field": "status", "from": "Doing", "to": "Done"}},
                       "actions": [{"updateFields": {"values": {"title": "{{record.title}} (was {{previous.status}})"}}}]});
    let finished = str_of(&t.data(create, json!({"i": typed})).await["createWorkflow"]["id"]);
    let not_a_select = json!({"name": "x", "trigger": {"transitioned": {"entity": "ticket", "field": "title"}},
                              "actions": [{"updateFields": {"values": {"title": "x"}}}]});
    t.request(create, json!({"i": not_a_select})).await.expect_field_errors(&["trigger.field"]);
    let never = json!({"name": "x", "trigger": {"transitioned": {"entity": "ticket", "field": "status", "from": "Open", "to": "Done"}},
                       "actions": [{"updateFields": {"values": {"title": "x"}}}]});
    t.request(create, json!({"i": never})).await.expect_field_errors(&["trigger.to"]);

    let (first, second) = (
        str_of(&t.create(&tickets(), json!({"title": "one"}), "").await["id"]),
        str_of(&t.create(&tickets(), json!({"title": "two"}), "").await["id"]),
    );
    for status in ["Doing", "Open", "Doing", "Done"] {
        t.update(&tickets(), &first, json!({"status": status}), "").await;
    }
    t.update(&tickets(), &second, json!({"status": "Doing"}), "").await;
    eventually("the Finished run", EFFECT_WAIT, async || {
        let runs = t.data(RUNS, json!({"w": finished})).await["workflowRuns"].clone();
        if runs.as_array().is_some_and(|r| r.iter().any(|x| x["status"] == "succeeded")) {
            Ok(())
        } else {
            Err(runs)
        }
    })
    .await;
    tokio::time::sleep(SILENCE).await;
    let runs = t.data(RUNS, json!({"w": finished})).await["workflowRuns"].clone();
    assert_eq!(runs, json!([{"status": "succeeded", "error": null, "recordId": first}]), "{runs}");
    assert_eq!(t.get(&tickets(), &first, "title").await["title"], json!("one (was Doing)"));
}

#[tokio::test]
async fn a_workflow_action_breaking_a_lifecycle_fails_its_run() {
    let t = tenant().await;
    define_tickets(&t, json!(null)).await;
    let definition = json!({"trigger": {"type": "record_created", "entity": "ticket"},
                            "actions": [{"type": "update_fields", "values": {"status": "Done", "title": "skipped ahead"}}]});
    let w = t.create_workflow("Skip", definition).await;
    let id = str_of(&t.create(&tickets(), json!({"title": "t"}), "").await["id"]);
    let runs = eventually("the failed run", EFFECT_WAIT, async || {
        let runs = t.data(RUNS, json!({"w": w})).await["workflowRuns"].clone();
        if runs[0]["status"] == "failed" { Ok(runs) } else { Err(runs) }
    })
    .await;
    let error = str_of(&runs[0]["error"]);
    assert!(
        error.contains("status") && error.contains("`Open` to `Done`") && error.contains("Doing"),
        "{error}"
    );
    assert_eq!(
        t.get(&tickets(), &id, "title status").await,
        json!({"id": id, "title": "t", "status": "Open"})
    );
}

#[tokio::test]
async fn hospital_patients_and_doctors_and_crm_deals_follow_their_lifecycles() {
    let t = tenant().await;
    t.data("mutation { applyTemplate(slug: \"hospital\") { slug } }", json!({})).await;
    let patients = Names::new("patient", "patients");
    let q = "mutation($id: ID!, $s: String!) { updatePatient(id: $id, input: {status: $s}) { status } }";
    let patient = t.create(&patients, json!({"fullName": "Asha Rao"}), "status statusTransitions").await;
    assert_eq!(
        (patient["status"].clone(), patient["statusTransitions"].clone()),
        (json!("New"), json!(["Admitted"]))
    );
    let id = str_of(&patient["id"]);
    let nurse = t.invite_auth("nurse").await;
    let refused = refusal(&t.request(q, json!({"id": id, "s": "Discharged"})).await);
    assert_eq!(refused["allowed"], json!(["Admitted"]));
    assert_eq!(
        t.api.graphql(&nurse, q, json!({"id": id, "s": "Admitted"})).await.data()["updatePatient"]["status"],
        json!("Admitted")
    );
    // Treatment is the doctors' (and administrators') to record.
    assert_eq!(
        refusal(&t.api.graphql(&nurse, q, json!({"id": id, "s": "Treated"})).await)["allowed"],
        json!([])
    );
    let doctor = t.invite_auth("doctor").await;
    let front_desk = t.invite_auth("receptionist").await;
    for s in ["Treated", "Discharged"] {
        assert_eq!(
            t.api.graphql(&doctor, q, json!({"id": id, "s": s})).await.data()["updatePatient"]["status"],
            json!(s)
        );
    }
    // The template's `transitioned` workflow ran on the discharge: a draft follow-up record
    // for the patient, and a notification for the front desk.
    let records = Names::new("medical_record", "medical_records");
    let drafted = eventually("the discharge follow-up record", EFFECT_WAIT, async || {
        let listed = t.list(&records, "", json!({}), "status notes patient { id }").await;
        let nodes = listed["nodes"].as_array().cloned().unwrap_or_default();
        match nodes.iter().find(|n| n["patient"]["id"] == json!(id)) {
            Some(n) => Ok(n.clone()),
            None => Err(nodes),
        }
    })
    .await;
    assert_eq!(drafted["status"], json!("Draft"));
    assert!(str_of(&drafted["notes"]).contains("Asha Rao"), "{drafted}");
    eventually("the front desk's notification", EFFECT_WAIT, async || {
        let r = t.api.graphql(&front_desk, "{ notifications { title } }", json!({})).await.data();
        let titles = pluck_str(&r["notifications"], "title");
        if titles.contains(&"Discharged: Asha Rao".to_owned()) { Ok(()) } else { Err(titles) }
    })
    .await;
    let doctors = Names::new("doctor", "doctors");
    let dr = t.create(&doctors, json!({"fullName": "Dr. Mehta"}), "status").await;
    assert_eq!(dr["status"], json!("Active"));
    let did = str_of(&dr["id"]);
    for s in ["On Leave", "Retired"] {
        assert_eq!(t.update(&doctors, &did, json!({"status": s}), "status").await["status"], json!(s));
    }
    refusal(&t.update_raw(&doctors, &did, json!({"status": "Active"}), "").await);

    let crm = tenant().await;
    crm.data("mutation { applyTemplate(slug: \"corporate-crm\") { slug } }", json!({})).await;
    let deals = Names::new("deal", "deals");
    let deal = str_of(&crm.create(&deals, json!({"title": "Big", "stage": "Negotiation"}), "").await["id"]);
    let mv = "mutation($id: ID!, $s: String!) { moveDeal(id: $id, stage: $s) { stage } }";
    assert_eq!(
        crm.data(mv, json!({"id": deal, "s": "Closed Won"})).await["moveDeal"]["stage"],
        json!("Closed Won")
    );
    let reopened = refusal(&crm.request(mv, json!({"id": deal, "s": "Proposal"})).await);
    assert_eq!((reopened["from"].clone(), reopened["allowed"].clone()), (json!("Closed Won"), json!([])));
    assert_eq!(crm.get(&deals, &deal, "stage").await["stage"], json!("Closed Won"));
}

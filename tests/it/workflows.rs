//! Workflows through the public API: a created record sends a welcome email with interpolated
//! values (its own fields, a related record's field, the tenant's name) through the queue to a
//! real SMTP server; a status change fires only the workflow for that value; a false condition
//! does nothing; a write that failed (rolled back) triggers nothing; a workflow that updates its
//! own record stops at the depth limit; a `wait` parks a run and the rest runs later on the
//! record as it is then (or not at all once the workflow is deactivated); a relative-date
//! trigger fires once per record as its date passes; a cron schedule runs for the matching
//! records at each tick; runs and steps are logged.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fixtures::{define_appointments, define_pipeline};
use crate::harness::*;

const RUNS: &str = "query($w: ID) { workflowRuns(workflowId: $w) { id status depth attempts error recordId steps { position action status error } } }";

/// The runs of workflow `id` once none is running and `done(runs)` holds (waits up to
/// `EFFECT_WAIT`: runs go through the job queue, slow on a loaded machine).
#[track_caller]
fn runs_when<'a>(
    t: &'a TestTenant,
    id: &'a str,
    done: impl Fn(&[Value]) -> bool + 'a,
) -> impl Future<Output = Vec<Value>> + 'a {
    eventually(format!("the runs of workflow {id} to be done"), EFFECT_WAIT, async move || {
        let runs =
            t.data(RUNS, json!({"w": id})).await["workflowRuns"].as_array().cloned().unwrap_or_default();
        let finished = runs.iter().all(|r| r["status"] != "running");
        if finished && done(&runs) { Ok(runs) } else { Err(runs) }
    })
    .into_future()
}

async fn clinic(t: &TestTenant) {
    let full_name = || field("full_name", "TEXT", json!({"required": true}));
    t.define_entity("doctor", "doctors", vec![full_name()]).await;
    let doctor = field("doctor", "RELATION", json!({"relatedEntity": "doctor"}));
    t.define_entity("patient", "patients", vec![full_name(), field("email", "EMAIL", json!({})), doctor])
        .await;
}

#[tokio::test]
async fn a_created_record_sends_a_welcome_email_with_interpolated_values() {
    let t = tenant().await;
    clinic(&t).await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "patient"},
        "actions": [{"type": "send_email", "to": "{{record.email}}",
                     "subject": "Welcome, {{record.full_name}}",
                     "body": "Dr. {{record.doctor.full_name}} looks forward to seeing you at {{tenant.name}}."}]
    });
    let id = t.create_workflow("Welcome", definition).await;
    let doctor = t.create(&Names::new("doctor", "doctors"), json!({"fullName": "Gregory House"}), "").await;
    let address = format!("ada-{}@{}.example.com", &uuid::Uuid::new_v4().simple().to_string()[..6], t.slug);
    t.create(
        &Names::new("patient", "patients"),
        json!({"fullName": "Ada Lovelace", "email": address, "doctor": doctor["id"]}),
        "",
    )
    .await;
    let mail = smtp_sink().wait_for(&address, 1, EFFECT_WAIT).await;
    assert_eq!(mail.len(), 1, "one welcome email");
    assert_eq!(mail[0]["subject"], json!("Welcome, Ada Lovelace"));
    assert_eq!(
        str_of(&mail[0]["body"]).trim(),
        format!("Dr. Gregory House looks forward to seeing you at {}.", t.name)
    );
    let runs = runs_when(&t, &id, |r| r.len() == 1).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], json!("succeeded"));
    assert_eq!(runs[0]["steps"][0]["action"], json!("send_email"));
    assert_eq!(runs[0]["steps"][0]["status"], json!("succeeded"));
}

async fn pipeline(t: &TestTenant) -> Names {
    define_pipeline(t, plain_fields(&[("priority", "TEXT"), ("note", "TEXT")])).await
}

#[tokio::test]
async fn a_status_change_fires_only_its_workflow() {
    let t = tenant().await;
    let deals = pipeline(&t).await;
    let definition = json!({
        "trigger": {"type": "field_changed", "entity": "deal", "field": "stage", "to": "Won"},
        "actions": [{"type": "notify", "users": ["{{record.owner}}"], "title": "Won: {{record.title}}",
                     "body": "was {{previous.stage}}"},
                    {"type": "create_record", "entity": "task", "values": {"title": "Invoice {{record.title}}"}}]
    });
    let won = t.create_workflow("Won", definition).await;
    let definition = json!({
        "trigger": {"type": "field_changed", "entity": "deal", "field": "stage", "to": "Lost"},
        "actions": [{"type": "create_record", "entity": "task", "values": {"title": "Post-mortem {{record.title}}"}}]
    });
    let lost = t.create_workflow("Lost", definition).await;
    let deal = t.create(&deals, json!({"title": "Acme", "stage": "Lead"}), "").await;
    let id = str_of(&deal["id"]);
    t.update(&deals, &id, json!({"title": "Acme Corp"}), "").await;
    t.update(&deals, &id, json!({"stage": "Won"}), "").await;
    let runs = runs_when(&t, &won, |r| !r.is_empty()).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], json!("succeeded"), "{runs:?}");
    let notes = t.data("{ notifications { title body } }", json!({})).await;
    assert_eq!(notes["notifications"][0]["title"], json!("Won: Acme Corp"));
    assert_eq!(notes["notifications"][0]["body"], json!("was Lead"));
    let tasks = t.list(&Names::new("task", "tasks"), "", json!({}), "title").await;
    assert_eq!(pluck_str(&tasks["nodes"], "title"), strings(&["Invoice Acme Corp"]));
    tokio::time::sleep(SILENCE).await;
    assert_eq!(
        t.data(RUNS, json!({"w": lost})).await["workflowRuns"],
        json!([]),
        "the Lost workflow never ran"
    );
}

#[tokio::test]
async fn a_false_condition_does_nothing_and_a_failed_write_triggers_nothing() {
    let t = tenant().await;
    let deals = pipeline(&t).await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "deal"},
        "condition": {"amount": {"gt": "50000"}},
        "actions": [{"type": "update_fields", "values": {"priority": "high ({{record.amount}})"}}]
    });
    let id = t.create_workflow("Big deals", definition).await;
    let small = str_of(&t.create(&deals, json!({"title": "Small", "amount": "100.00"}), "").await["id"]);
    // A write that fails validation is rolled back: nothing to trigger.
    t.create_raw(&deals, json!({"title": "Bad", "amount": "60000.00", "stage": "Nope"}), "")
        .await
        .expect_code("VALIDATION_FAILED");
    let big = str_of(&t.create(&deals, json!({"title": "Big", "amount": "60000.00"}), "").await["id"]);
    let runs = runs_when(&t, &id, |r| !r.is_empty()).await;
    tokio::time::sleep(SILENCE).await;
    let runs_after =
        t.data(RUNS, json!({"w": id})).await["workflowRuns"].as_array().cloned().unwrap_or_default();
    assert_eq!(runs_after.len(), 1, "only the big deal ran: {runs:?}");
    assert_eq!(runs_after[0]["recordId"], json!(big));
    assert_eq!(t.get(&deals, &big, "priority").await["priority"], json!("high (60000.00)"));
    assert_eq!(t.get(&deals, &small, "priority").await["priority"], Value::Null);
}

#[tokio::test]
async fn a_workflow_that_updates_its_own_record_stops_at_the_depth_limit() {
    let t = tenant().await;
    let deals = pipeline(&t).await;
    let definition = json!({
        "trigger": {"type": "record_updated", "entity": "deal", "fields": ["note"]},
        "actions": [{"type": "update_fields", "values": {"note": "{{record.note}}+"}}]
    });
    let id = t.create_workflow("Echo", definition).await;
    let deal = str_of(&t.create(&deals, json!({"title": "Loop"}), "").await["id"]);
    t.update(&deals, &deal, json!({"note": "x"}), "").await;
    let runs = runs_when(&t, &id, |r| r.iter().any(|x| x["status"] == "skipped")).await;
    let succeeded = runs.iter().filter(|r| r["status"] == "succeeded").count();
    let skipped: Vec<&Value> = runs.iter().filter(|r| r["status"] == "skipped").collect();
    assert_eq!((succeeded, skipped.len()), (5, 1), "{runs:?}");
    assert_eq!(skipped[0]["depth"], json!(5));
    assert!(str_of(&skipped[0]["error"]).contains("loop guard"));
    assert_eq!(t.get(&deals, &deal, "note").await["note"], json!("x+++++"));
}

#[tokio::test]
async fn failing_workflow_definitions_are_validated() {
    let t = tenant().await;
    pipeline(&t).await;
    let cases = [
        (json!({"trigger": {"type": "record_created", "entity": "nope"}, "actions": []}), "trigger.entity"),
        (
            json!({"trigger": {"type": "field_changed", "entity": "deal", "field": "nope"},
                "actions": [{"type": "update_fields", "values": {"title": "x"}}]}),
            "trigger.field",
        ),
        (
            json!({"trigger": {"type": "record_created", "entity": "deal"}, "condition": {"nope": {"eq": 1}},
                "actions": [{"type": "update_fields", "values": {"title": "x"}}]}),
            "condition",
        ),
        (json!({"trigger": {"type": "record_created", "entity": "deal"}, "actions": []}), "actions"),
        (
            json!({"trigger": {"type": "record_created", "entity": "deal"},
                "actions": [{"type": "create_record", "entity": "task", "values": {"nope": "x"}}]}),
            "actions[0].values.nope",
        ),
        (
            json!({"trigger": {"type": "record_created", "entity": "deal"},
                "actions": [{"type": "wait", "seconds": 0}]}),
            "actions[0].seconds",
        ),
        (
            json!({"trigger": {"type": "relative_date", "entity": "deal", "field": "title", "offsetMinutes": -60},
                "actions": [{"type": "update_fields", "values": {"note": "x"}}]}),
            "trigger.field",
        ),
        (
            json!({"trigger": {"type": "schedule", "entity": "deal", "cron": "every monday"},
                "actions": [{"type": "update_fields", "values": {"note": "x"}}]}),
            "trigger.cron",
        ),
        (
            json!({"trigger": {"type": "schedule", "entity": "deal", "cron": "0 9 * * MON-FRI", "timeZone": "Mars/Olympus"},
                "actions": [{"type": "update_fields", "values": {"note": "x"}}]}),
            "trigger.timeZone",
        ),
    ];
    for (definition, path) in cases {
        let r = t
            .request(
                "mutation($i: WorkflowInput!) { createWorkflow(input: $i) { id } }",
                json!({"i": {"name": "bad", "definition": definition}}),
            )
            .await;
        let fields = r.field_errors();
        assert!(fields.iter().any(|f| f.starts_with(path)), "expected {path}, got {fields:?}");
    }
    assert_eq!(t.data("{ workflows { id } }", json!({})).await["workflows"], json!([]));
    let member = t.invite_auth("member").await;
    t.api.graphql(&member, "{ workflows { id } }", json!({})).await.expect_code("FORBIDDEN");
}

#[tokio::test]
async fn a_manual_run_calls_a_webhook_and_updates_the_record() {
    let t = tenant().await;
    let deals = pipeline(&t).await;
    let (url, got) = crate::webhooks::receiver(vec![200]).await;
    let definition = json!({
        "trigger": {"type": "manual", "entity": "deal"},
        "actions": [
            {"type": "call_webhook", "url": url, "body": {"deal": "{{record.title}}", "tenant": "{{tenant.name}}"}},
            {"type": "update_fields", "values": {"note": "synced"}}
        ]
    });
    let id = t.create_workflow("Sync to ERP", definition).await;
    let deal = str_of(&t.create(&deals, json!({"title": "Manual"}), "").await["id"]);
    // A manual workflow does not fire on changes.
    tokio::time::sleep(SILENCE).await;
    assert_eq!(t.data(RUNS, json!({"w": id})).await["workflowRuns"], json!([]));
    let queued = t
        .data(
            "mutation($w: ID!, $r: ID!) { runWorkflow(id: $w, recordId: $r) { id status } }",
            json!({"w": id, "r": deal}),
        )
        .await;
    assert_eq!(queued["runWorkflow"]["status"], json!("queued"));
    let runs = runs_when(&t, &id, |r| r.iter().any(|x| x["status"] == "succeeded")).await;
    assert_eq!(runs[0]["status"], json!("succeeded"), "{runs:?}");
    assert_eq!(runs[0]["attempts"], json!(1), "passed at its first attempt: {runs:?}");
    let requests = crate::webhooks::wait_requests(&got, 1).await;
    let body: Value = serde_json::from_str(&requests[0].1).expect("json body");
    assert_eq!(body, json!({"deal": "Manual", "tenant": t.name}));
    assert_eq!(crate::webhooks::header(&requests[0].0, "x-alphery-workflow-run"), str_of(&runs[0]["id"]));
    assert_eq!(t.get(&deals, &deal, "note").await["note"], json!("synced"));
    t.request(
        "mutation($w: ID!, $r: ID!) { runWorkflow(id: $w, recordId: $r) { id } }",
        json!({"w": id, "r": uuid::Uuid::new_v4().to_string()}),
    )
    .await
    .expect_code("NOT_FOUND");
}

#[tokio::test]
async fn a_wait_parks_the_run_and_the_rest_runs_later_on_the_current_record() {
    let t = tenant().await;
    let deals = pipeline(&t).await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "deal"},
        "actions": [
            {"type": "update_fields", "values": {"note": "received"}},
            // Long enough that a loaded machine still sees the run parked and updates the
            // record before it resumes (2 s once lost that race under a full PostgreSQL run).
            {"type": "wait", "seconds": 6},
            {"type": "update_fields", "values": {"priority": "{{record.title}} / {{record.note}}"}}
        ]
    });
    let id = t.create_workflow("Follow up", definition).await;
    let deal = str_of(&t.create(&deals, json!({"title": "Acme"}), "").await["id"]);
    let parked = runs_when(&t, &id, |r| r.iter().any(|x| x["status"] == "waiting")).await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0]["status"], json!("waiting"), "{parked:?}");
    let steps: Vec<(Value, Value)> = parked[0]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| (s["action"].clone(), s["status"].clone()))
        .collect();
    assert_eq!(
        steps,
        vec![(json!("update_fields"), json!("succeeded")), (json!("wait"), json!("succeeded"))]
    );
    let now = t.get(&deals, &deal, "note priority").await;
    assert_eq!((now["note"].clone(), now["priority"].clone()), (json!("received"), Value::Null));
    // Changed while the run waits: the remaining actions see the record as it is then.
    t.update(&deals, &deal, json!({"title": "Acme Corp"}), "").await;
    let done = runs_when(&t, &id, |r| r.iter().all(|x| x["status"] == "succeeded")).await;
    assert_eq!(done[0]["status"], json!("succeeded"), "{done:?}");
    let positions: Vec<Value> =
        done[0]["steps"].as_array().expect("steps").iter().map(|s| s["position"].clone()).collect();
    assert_eq!(positions, vec![json!(0), json!(1), json!(2)]);
    assert_eq!(t.get(&deals, &deal, "priority").await["priority"], json!("Acme Corp / received"));
}

#[tokio::test]
async fn a_run_waiting_on_a_deactivated_workflow_ends_skipped() {
    let t = tenant().await;
    let deals = pipeline(&t).await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "deal"},
        // Long enough that a loaded machine still deactivates the workflow while it waits.
        "actions": [{"type": "wait", "seconds": 6}, {"type": "update_fields", "values": {"note": "late"}}]
    });
    let id = t.create_workflow("Later", definition).await;
    let deal = str_of(&t.create(&deals, json!({"title": "Globex"}), "").await["id"]);
    runs_when(&t, &id, |r| r.iter().any(|x| x["status"] == "waiting")).await;
    t.data("mutation($id: ID!) { setWorkflowActive(id: $id, active: false) { active } }", json!({"id": id}))
        .await;
    let runs = runs_when(&t, &id, |r| r.iter().any(|x| x["status"] == "skipped")).await;
    assert_eq!(runs[0]["status"], json!("skipped"), "{runs:?}");
    assert!(str_of(&runs[0]["error"]).contains("deactivated"), "{runs:?}");
    assert_eq!(t.get(&deals, &deal, "note").await["note"], Value::Null);
}

#[tokio::test]
async fn a_relative_date_trigger_fires_once_as_each_date_passes() {
    let t = tenant().await;
    let status = field("status", "SELECT", json!({"options": ["Booked", "Cancelled"]}));
    let appointments = define_appointments(&t, vec![status]).await;
    let definition = json!({
        "trigger": {"type": "relative_date", "entity": "appointment", "field": "starts_at", "offsetMinutes": -1440},
        "condition": {"status": {"eq": "Booked"}},
        "actions": [{"type": "update_fields", "values": {"reminder": "sent for {{record.title}}"}}]
    });
    let id = t.create_workflow("Reminder a day before", definition).await;
    // Each appointment's "24 hours before" moment relative to now.
    let at = |seconds_from_now: i64| {
        (chrono::Utc::now() + chrono::Duration::hours(24) + chrono::Duration::seconds(seconds_from_now))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let soon = str_of(
        &t.create(&appointments, json!({"title": "Soon", "startsAt": at(2), "status": "Booked"}), "").await["id"],
    );
    let cancelled = str_of(
        &t.create(&appointments, json!({"title": "Off", "startsAt": at(2), "status": "Cancelled"}), "").await
            ["id"],
    );
    let later = str_of(
        &t.create(&appointments, json!({"title": "Later", "startsAt": at(3600), "status": "Booked"}), "")
            .await["id"],
    );
    // Its moment passed before the workflow existed: not replayed.
    let past = str_of(
        &t.create(&appointments, json!({"title": "Past", "startsAt": at(-60), "status": "Booked"}), "").await
            ["id"],
    );
    let runs = runs_when(&t, &id, |r| r.iter().any(|x| x["status"] == "succeeded")).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!((runs[0]["status"].clone(), runs[0]["recordId"].clone()), (json!("succeeded"), json!(soon)));
    assert_eq!(t.get(&appointments, &soon, "reminder").await["reminder"], json!("sent for Soon"));
    // More scans pass: still one run, and nothing for the others.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let runs = t.data(RUNS, json!({"w": id})).await["workflowRuns"].as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len(), 1, "{runs:?}");
    for other in [&cancelled, &later, &past] {
        assert_eq!(t.get(&appointments, other, "reminder").await["reminder"], Value::Null);
    }
    // Moved into the window: a new date value fires again for the same record.
    t.update(&appointments, &later, json!({"startsAt": at(1)}), "").await;
    let runs = runs_when(&t, &id, |r| r.iter().filter(|x| x["status"] == "succeeded").count() == 2).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(t.get(&appointments, &later, "reminder").await["reminder"], json!("sent for Later"));
}

#[tokio::test]
async fn a_schedule_runs_for_the_matching_records_at_each_tick() {
    let t = tenant().await;
    let deals = pipeline(&t).await;
    let lead = str_of(&t.create(&deals, json!({"title": "Open", "stage": "Lead"}), "").await["id"]);
    let won = str_of(&t.create(&deals, json!({"title": "Closed", "stage": "Won"}), "").await["id"]);
    // Six fields: seconds first, so the test sees ticks in seconds rather than minutes.
    let definition = json!({
        "trigger": {"type": "schedule", "entity": "deal", "cron": "*/2 * * * * *", "timeZone": "Asia/Kolkata"},
        "condition": {"stage": {"eq": "Lead"}},
        "actions": [{"type": "update_fields", "values": {"note": "nudged {{record.title}}"}}]
    });
    let id = t.create_workflow("Nudge open deals", definition).await;
    let runs = runs_when(&t, &id, |r| r.iter().filter(|x| x["status"] == "succeeded").count() >= 2).await;
    t.data("mutation($id: ID!) { setWorkflowActive(id: $id, active: false) { active } }", json!({"id": id}))
        .await;
    let succeeded: Vec<&Value> = runs.iter().filter(|r| r["status"] == "succeeded").collect();
    assert!(succeeded.len() >= 2, "{runs:?}");
    assert!(runs.iter().all(|r| r["recordId"] == json!(lead)), "only the matching record runs: {runs:?}");
    assert_eq!(t.get(&deals, &lead, "note").await["note"], json!("nudged Open"));
    assert_eq!(t.get(&deals, &won, "note").await["note"], Value::Null);
}

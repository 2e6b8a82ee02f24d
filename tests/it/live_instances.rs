//! Module news across instances: two `serve` instances (workers off) and one `worker` linked
//! by a Redis of this test's. Everything a module publishes — audit entries, workflow runs,
//! emails, webhook deliveries, dead jobs, approval requests, exports and imports — and the
//! dashboards recomputed from record changes, happening through instance A or in the worker,
//! reaches an administrator's subscription on instance B; a member is refused there, and
//! another tenant's administrator on B hears none of it (its own later entry is the first it
//! hears).

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;
use crate::instances::{RECEIVED, Redis, peer_metric, wait_link};
use crate::processes::{Scratch, free_port, process_env, ready_server, spawn};
use crate::webhooks::receiver;

const AUDIT: &str = "subscription { auditAppended { action objectType objectId } }";
const RUNS: &str = "subscription { workflowRunChanged { recordId status } }";
const EMAILS: &str = "subscription { emailChanged { to status } }";
const DELIVERIES: &str =
    "subscription($w: ID) { webhookDeliveryChanged(webhookId: $w) { eventType status } }";
const DEAD: &str = "subscription { deadJobAdded { kind status summary } }";
const REQUESTS: &str = "subscription { approvalRequestChanged { recordId state } }";
const BOARD: &str = "subscription($id: ID!) { dashboardChanged(id: $id) { widgets { data } } }";
const EXPORTS: &str = "subscription { exportChanged { id status rowsWritten } }";
const IMPORTS: &str = "subscription($id: ID!) { importChanged(id: $id) { status createdCount } }";

/// The first event of subscription "1" on `ws` for which `wanted` holds (others are passed over).
async fn first_where(ws: &mut Ws, field: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let event = ws.next_data_within("1", EFFECT_WAIT).await[field].clone();
        if wanted(&event) {
            return event;
        }
    }
}

/// Sets up `t`'s tenant through instance A: tickets (with a workflow mailing `to`, two
/// webhooks, an approval policy and a dashboard counting them) and items to import into; the
/// ok webhook's and the dashboard's ids, and the policy's.
async fn define(t: &TestTenant, to: &str) -> (Value, Value, String) {
    t.define_entity("ticket", "tickets", plain_fields(&[("title", "TEXT")])).await;
    t.define_entity("item", "items", plain_fields(&[("name", "TEXT")])).await;
    let mail = json!({
        "trigger": {"type": "record_created", "entity": "ticket"},
        "actions": [{"type": "send_email", "to": to, "subject": "New ticket", "body": "{{record.title}}"}]
    });
    t.create_workflow("mail", mail).await;
    let hook = |url: String| json!({"i": {"url": url, "events": ["ticket.created"]}});
    let create_hook = "mutation($i: WebhookInput!) { createWebhook(input: $i) { webhook { id } } }";
    let (ok_url, _) = receiver(vec![200]).await;
    let (failing_url, _) = receiver(vec![500]).await;
    let ok = t.data(create_hook, hook(ok_url)).await["createWebhook"]["webhook"]["id"].clone();
    t.data(create_hook, hook(failing_url)).await;
    let widgets =
        json!([{"type": "metric", "title": {"en": "Tickets"}, "entity": "ticket", "function": "count"}]);
    let board = t
        .data(
            "mutation($i: DashboardInput!) { createDashboard(input: $i) { id } }",
            json!({"i": {"key": "desk", "name": {"en": "Desk"}, "roles": ["admin"], "widgets": widgets}}),
        )
        .await["createDashboard"]["id"]
        .clone();
    let policy = t
        .data(
            "mutation($i: ApprovalPolicyInput!) { createApprovalPolicy(input: $i) { id } }",
            json!({"i": {"entity": "ticket", "name": "Tickets", "stages": [{"name": "Check", "approverRole": "admin"}]}}),
        )
        .await;
    (ok, board, str_of(&policy["createApprovalPolicy"]["id"]))
}

#[tokio::test]
async fn module_news_crosses_instances_to_allowed_subscribers_only() {
    let scratch = Scratch::new("live-instances").await;
    let redis = Redis::start(free_port()).await;
    let env = |port: u16| {
        let own = [
            ("BIND", format!("127.0.0.1:{port}")),
            ("WORKERS", "false".to_owned()),
            ("REDIS_URL", redis.url()),
            ("SMTP_URL", format!("smtp://127.0.0.1:{}", smtp_sink().port)),
        ];
        process_env(&scratch.dir, &scratch.url, &own)
    };
    // The first instance migrates the database; the second starts on it once it is ready.
    let (port_a, port_b) = (free_port(), free_port());
    let proc_a = spawn(&["serve"], &env(port_a));
    let server_a = ready_server("instance A", port_a, Duration::from_secs(120), &proc_a).await;
    let proc_b = spawn(&["serve"], &env(port_b));
    let server_b = ready_server("instance B", port_b, Duration::from_secs(120), &proc_b).await;

    let a = tenant_on(server_a).await;
    let b = a.on(server_b);
    let other = tenant_on(server_b).await;
    wait_link(&a, &b, true, &[&proc_a, &proc_b]).await;
    let to = format!("desk-{}@{}.example.com", &uuid::Uuid::new_v4().simple().to_string()[..8], a.slug);
    // Definitions first: a change of definitions closes the tenant's sockets.
    let (ok_hook, board, policy) = define(&a, &to).await;
    other.define_entity("ticket", "tickets", plain_fields(&[("title", "TEXT")])).await;

    // The import is queued through A before any worker runs, so its subscriber on B is
    // listening before the first batch. It is small: each row's audit entry shares the tenant's
    // news channel (LIVE_BUFFER events) with the other subscriptions here.
    let csv: String = std::iter::once("name".to_owned())
        .chain((0..60).map(|i| format!("Item {i}")))
        .collect::<Vec<_>>()
        .join("\n");
    let import = crate::imports::start(&a, "item", &csv, json!({"w": false})).await;

    let member = b.invite_auth("member").await;
    for query in [AUDIT, EMAILS, DEAD] {
        b.subscribe_as(&member, query, json!({})).await.expect_refused("1", "FORBIDDEN").await;
    }
    let mut audit = b.subscribe(AUDIT, json!({})).await;
    let mut runs = b.subscribe(RUNS, json!({})).await;
    let mut emails = b.subscribe(EMAILS, json!({})).await;
    let mut deliveries = b.subscribe(DELIVERIES, json!({"w": ok_hook})).await;
    let mut dead = b.subscribe(DEAD, json!({})).await;
    let mut requests = b.subscribe(REQUESTS, json!({})).await;
    let mut dashboard = b.subscribe(BOARD, json!({"id": board})).await;
    let mut exports = b.subscribe(EXPORTS, json!({})).await;
    let mut imports = b.subscribe(IMPORTS, json!({"id": import})).await;
    let mut stranger = other.subscribe(AUDIT, json!({})).await;
    let received = peer_metric(&b.api, RECEIVED).await;

    let worker = spawn(&["worker"], &env(free_port()));
    let ticket =
        str_of(&a.create(&Names::new("ticket", "tickets"), json!({"title": "Crossing"}), "").await["id"]);

    let entry = first_where(&mut audit, "auditAppended", |e| e["objectId"] == json!(ticket)).await;
    assert_eq!((&entry["action"], &entry["objectType"]), (&json!("record.create"), &json!("ticket")));
    first_where(&mut runs, "workflowRunChanged", |r| {
        r["recordId"] == json!(ticket) && r["status"] == json!("succeeded")
    })
    .await;
    first_where(&mut emails, "emailChanged", |e| e["to"] == json!(to) && e["status"] == json!("sent")).await;
    let delivered = deliveries.until("1", "webhookDeliveryChanged", "status", "delivered").await;
    assert!(delivered.iter().all(|d| d["eventType"] == json!("ticket.created")), "{delivered:?}");
    let job = dead.next_data_within("1", EFFECT_WAIT).await["deadJobAdded"].clone();
    assert_eq!((&job["kind"], &job["status"]), (&json!("WEBHOOK_DELIVERY"), &json!("dead")), "{job}");
    first_where(&mut dashboard, "dashboardChanged", |d| d["widgets"][0]["data"]["value"] == json!(1)).await;

    a.submit_for_approval(&policy, &ticket, "id").await;
    let request = requests.next_data_within("1", EFFECT_WAIT).await["approvalRequestChanged"].clone();
    assert_eq!((&request["recordId"], &request["state"]), (&json!(ticket), &json!("PENDING_APPROVAL")));

    let started = a
        .data(
            "mutation { exportRecords(entity: \"ticket\", format: JSONL, fields: [\"title\"]) { id } }",
            json!({}),
        )
        .await;
    let export = started["exportRecords"]["id"].clone();
    let done =
        first_where(&mut exports, "exportChanged", |x| x["id"] == export && x["status"] == json!("done"))
            .await;
    assert_eq!(done["rowsWritten"], json!(1), "{done}");
    let imported = imports.until("1", "importChanged", "status", "DONE").await;
    assert_eq!(imported.last().map(|i| i["createdCount"].clone()), Some(json!(60)), "{imported:?}");
    assert!(peer_metric(&b.api, RECEIVED).await > received, "B heard of the commits over Redis");

    // None of it reached the other tenant's administrator on B: its own entry comes first.
    let mine =
        str_of(&other.create(&Names::new("ticket", "tickets"), json!({"title": "Mine"}), "").await["id"]);
    let first = stranger.next_data_within("1", EFFECT_WAIT).await["auditAppended"].clone();
    assert_eq!(first["objectId"], json!(mine), "{first}");

    drop((worker, proc_a, proc_b, redis));
    scratch.remove().await;
}

//! Live administration news: `auditAppended`, `emailChanged`, `webhookDeliveryChanged` and
//! `deadJobAdded` reach administrators of the tenant (as `auditLog`, `emails`,
//! `webhookDeliveries` and `deadJobs`), are refused to a member, and never reach another
//! tenant's administrator — shown by a later event of that tenant arriving first on the same
//! socket.

use serde_json::{Value, json};

use crate::harness::*;
use crate::webhooks::receiver;

const AUDIT: &str = "subscription { auditAppended { seq action objectType objectId actorUserId } }";
const EMAILS: &str = "subscription($s: String) { emailChanged(status: $s) { id to status attempts } }";
const DELIVERIES: &str =
    "subscription($w: ID) { webhookDeliveryChanged(webhookId: $w) { id eventType status } }";
const DEAD: &str = "subscription { deadJobAdded { id kind status attempts summary } }";

/// A tenant with tickets (defined first: a change of definitions closes the tenant's sockets).
async fn with_tickets() -> (TestTenant, Names) {
    let t = tenant().await;
    let tickets = t.define_entity("ticket", "tickets", plain_fields(&[("title", "TEXT")])).await;
    (t, tickets)
}

/// A member of `t` whose subscription to `query` is refused: it reads what only administrators
/// may read.
async fn member_is_refused(t: &TestTenant, query: &str) {
    let member = t.invite_auth("member").await;
    t.subscribe_as(&member, query, json!({})).await.expect_refused("1", "FORBIDDEN").await;
}

/// A fresh address of `t`'s domain, starting with `local` (the SMTP sink answers by it).
fn address(t: &TestTenant, local: &str) -> String {
    format!("{local}-{}@{}.example.com", &uuid::Uuid::new_v4().simple().to_string()[..8], t.slug)
}

#[tokio::test]
async fn audit_entries_reach_administrators_of_their_tenant_only() {
    let (t, tickets) = with_tickets().await;
    let (other, other_tickets) = with_tickets().await;
    member_is_refused(&t, AUDIT).await;
    let mut admin = t.subscribe(AUDIT, json!({})).await;
    let mut stranger = other.subscribe(AUDIT, json!({})).await;

    let id = str_of(&t.create(&tickets, json!({"title": "Audited"}), "").await["id"]);
    let entry = admin.next_data("1").await["auditAppended"].clone();
    assert_eq!(
        (&entry["action"], &entry["objectType"], &entry["objectId"], &entry["actorUserId"]),
        (&json!("record.create"), &json!("ticket"), &json!(id), &json!(t.user_id)),
        "{entry}"
    );
    let listed = t.data("{ auditLog(first: 1) { nodes { seq } } }", json!({})).await;
    assert_eq!(listed["auditLog"]["nodes"][0]["seq"], entry["seq"], "the entry the log shows");

    // The other tenant's own later entry is the first its administrator hears.
    let sentinel = str_of(&other.create(&other_tickets, json!({"title": "Mine"}), "").await["id"]);
    let first = stranger.next_data("1").await["auditAppended"].clone();
    assert_eq!(first["objectId"], json!(sentinel), "{first}");
}

#[tokio::test]
async fn email_status_changes_reach_administrators_of_their_tenant_only() {
    let t = tenant().await;
    let other = tenant().await;
    member_is_refused(&t, EMAILS).await;
    let mut admin = t.subscribe(EMAILS, json!({})).await;
    let mut sent_only = t.subscribe(EMAILS, json!({"s": "sent"})).await;
    let mut stranger = other.subscribe(EMAILS, json!({})).await;

    let to = address(&t, "welcome");
    t.invite_user(&to, "member", "token").await;
    // Every status of this email, in order (the member's invitation may still be on its way).
    let mut seen = Vec::new();
    while seen.last().is_none_or(|s| s != "sent") {
        let email = admin.next_data_within("1", EFFECT_WAIT).await["emailChanged"].clone();
        if email["to"] == json!(to) {
            seen.push(str_of(&email["status"]));
        }
    }
    assert_eq!(seen, strings(&["queued", "sending", "sent"]));
    let sent = loop {
        let email = sent_only.next_data_within("1", EFFECT_WAIT).await["emailChanged"].clone();
        assert_eq!(email["status"], json!("sent"), "{email}");
        if email["to"] == json!(to) {
            break email;
        }
    };
    assert_eq!(sent["attempts"], json!(1), "{sent}");

    let mine = address(&other, "welcome");
    other.invite_user(&mine, "member", "token").await;
    let first = stranger.next_data_within("1", EFFECT_WAIT).await["emailChanged"].clone();
    assert_eq!(first["to"], json!(mine), "{first}");
}

#[tokio::test]
async fn webhook_deliveries_and_dead_jobs_reach_administrators_of_their_tenant_only() {
    let (t, tickets) = with_tickets().await;
    let (other, other_tickets) = with_tickets().await;
    let hook = |url: String| json!({"i": {"url": url, "events": ["ticket.created"]}});
    let create_hook = "mutation($i: WebhookInput!) { createWebhook(input: $i) { webhook { id } } }";
    let (ok_url, _) = receiver(vec![200]).await;
    let (failing_url, _) = receiver(vec![500]).await;
    let ok = t.data(create_hook, hook(ok_url)).await["createWebhook"]["webhook"]["id"].clone();
    t.data(create_hook, hook(failing_url.clone())).await;
    other.data(create_hook, hook(failing_url)).await;
    member_is_refused(&t, DELIVERIES).await;
    member_is_refused(&t, DEAD).await;
    let mut deliveries = t.subscribe(DELIVERIES, json!({"w": ok})).await;
    let mut dead = t.subscribe(DEAD, json!({})).await;
    let mut stranger = other.subscribe(DEAD, json!({})).await;

    t.create(&tickets, json!({"title": "Hooked"}), "").await;
    let seen = deliveries.until("1", "webhookDeliveryChanged", "status", "delivered").await;
    let statuses: Vec<String> = seen.iter().map(|d| str_of(&d["status"])).collect();
    assert_eq!(statuses, strings(&["pending", "sending", "delivered"]), "only the webhook asked for");
    assert!(seen.iter().all(|d| d["eventType"] == json!("ticket.created")), "{seen:?}");

    let job = dead.next_data_within("1", EFFECT_WAIT).await["deadJobAdded"].clone();
    assert_eq!(
        (&job["kind"], &job["status"], &job["attempts"]),
        (&json!("WEBHOOK_DELIVERY"), &json!("dead"), &json!(5))
    );
    assert!(str_of(&job["summary"]).starts_with("ticket.created"), "{job}");
    let listed = t.data("{ deadJobs { id } }", json!({})).await;
    assert_eq!(listed["deadJobs"][0]["id"], job["id"], "the job deadJobs lists");

    // The other tenant's own delivery, dying after this one, is the first its administrator hears.
    other.create(&other_tickets, json!({"title": "Theirs"}), "").await;
    let first: Value = stranger.next_data_within("1", EFFECT_WAIT).await["deadJobAdded"].clone();
    assert_ne!(first["id"], job["id"], "{first}");
    let theirs = other.data("{ deadJobs { id } }", json!({})).await;
    assert_eq!(theirs["deadJobs"][0]["id"], first["id"], "{theirs}");
}

/// An administrator whose `auditAppended` falls behind its tenant's news is closed with 4290,
/// as a record subscriber is, instead of reading on past a silent gap. The server's news
/// channel holds one event here (`LIVE_BUFFER=1`), and a burst of 25 creates appends 25
/// entries at once.
#[tokio::test]
async fn an_administrator_who_falls_behind_the_news_is_closed_saying_so() {
    let t = tenant_on(tiny_buffer_server()).await;
    let tickets = t.define_entity("ticket", "tickets", plain_fields(&[("title", "TEXT")])).await;
    let mut slow = t.subscribe(AUDIT, json!({})).await;
    let code = t.burst_until_closed(&tickets, &mut slow).await;
    assert_eq!(code, Some(4290));
}

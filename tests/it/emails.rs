//! Email through the job queue and a real SMTP server (the aiosmtpd sink of the harness):
//! an invitation is written to the email outbox in the inviting transaction, relayed to the
//! apalis queue, and delivered by a worker; temporary SMTP failures are retried with backoff
//! until delivered; permanent ones end `dead`, and `retryEmail` sends a dead email again.
//! Administrators see the outbox (`emails`); others do not.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

const EMAILS: &str = "query($s: String) { emails(status: $s) { id to subject body status attempts lastError messageId sentAt } }";

async fn invite(t: &TestTenant, local: &str) -> (String, String) {
    let address =
        format!("{local}-{}@{}.example.com", &uuid::Uuid::new_v4().simple().to_string()[..8], t.slug);
    let token = str_of(&t.invite_user(&address, "member", "token").await["token"]);
    (address, token)
}

/// The tenant's email to `address`, once its status is `status` (waits up to `within`).
#[track_caller]
fn email_with_status<'a>(
    t: &'a TestTenant,
    address: &'a str,
    status: &'a str,
    within: Duration,
) -> impl Future<Output = Value> + 'a {
    eventually(format!("the email to {address} to be {status}"), within, async move || {
        let data = t.data(EMAILS, json!({})).await;
        let email = data["emails"].as_array().expect("emails").iter().find(|e| e["to"] == address).cloned();
        match email {
            Some(e) if e["status"] == status => Ok(e),
            other => Err(other),
        }
    })
    .into_future()
}

#[tokio::test]
async fn an_invitation_is_emailed_through_the_queue() {
    let t = tenant().await;
    let (address, token) = invite(&t, "welcome").await;
    let delivered = smtp_sink().wait_for(&address, 1, TIMEOUT).await;
    assert_eq!(delivered.len(), 1, "exactly one message to {address}");
    let message = &delivered[0];
    assert_eq!(message["subject"], json!(format!("You are invited to {}", t.name)));
    assert!(str_of(&message["body"]).contains(&token), "the body carries the token: {message}");
    let email = email_with_status(&t, &address, "sent", TIMEOUT).await;
    assert_eq!(email["attempts"], json!(1));
    assert_eq!(email["messageId"], message["message_id"], "the outbox records the Message-ID that was sent");
    assert!(email["sentAt"].is_string());
    // Nothing more arrives later (a retried or duplicated job would send again).
    tokio::time::sleep(SILENCE).await;
    assert_eq!(smtp_sink().messages_to(&address).len(), 1);
}

#[tokio::test]
async fn temporary_smtp_failures_are_retried_until_delivered() {
    let t = tenant().await;
    let (address, _) = invite(&t, "flaky").await;
    let email = email_with_status(&t, &address, "sent", Duration::from_secs(30)).await;
    assert_eq!(email["attempts"], json!(3), "two 451 answers, then accepted");
    assert_eq!(smtp_sink().wait_for(&address, 1, TIMEOUT).await.len(), 1);
}

#[tokio::test]
async fn permanent_failures_end_dead_and_can_be_retried() {
    let t = tenant().await;
    let (address, _) = invite(&t, "bounce").await;
    let dead = email_with_status(&t, &address, "dead", Duration::from_secs(60)).await;
    assert_eq!(dead["attempts"], json!(5), "EMAIL_MAX_ATTEMPTS");
    assert!(str_of(&dead["lastError"]).contains("550"), "{dead}");
    let listed = t.data(EMAILS, json!({"s": "dead"})).await;
    assert_eq!(listed["emails"].as_array().map(Vec::len), Some(1));
    let retried =
        t.data("mutation($id: ID!) { retryEmail(id: $id) { status } }", json!({"id": dead["id"]})).await;
    assert_eq!(retried["retryEmail"]["status"], json!("queued"));
    let again = email_with_status(&t, &address, "dead", Duration::from_secs(30)).await;
    assert!(again["attempts"].as_i64() > Some(5), "the retry attempted delivery again: {again}");

    let (ok_address, _) = invite(&t, "fine").await;
    let sent = email_with_status(&t, &ok_address, "sent", TIMEOUT).await;
    t.request("mutation($id: ID!) { retryEmail(id: $id) { status } }", json!({"id": sent["id"]}))
        .await
        .expect_code("CONFLICT");
}

#[tokio::test]
async fn failing_email_outbox_for_a_member() {
    let t = tenant().await;
    let member = t.invite_auth("member").await;
    t.api.graphql(&member, "{ emails { id } }", json!({})).await.expect_code("FORBIDDEN");
}

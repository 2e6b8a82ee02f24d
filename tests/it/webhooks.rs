//! Outgoing webhooks against a real local HTTP receiver: a record change is delivered with a
//! valid HMAC-SHA256 signature over `id.timestamp.body`; a 500 answer is retried with the same
//! event id until accepted, and the delivery log says so; only subscribed event types are sent;
//! after a secret rotation deliveries carry a signature for each active secret; URLs to
//! internal addresses are refused (SSRF); only administrators manage webhooks. A workflow's
//! `call_webhook` requests are signed the same way with the workflow's own secrets.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::*;

/// A request the receiver got: (headers, body).
pub type Received = Arc<Mutex<Vec<(Vec<(String, String)>, String)>>>;

/// A local HTTP server answering with `statuses` in turn (the last one repeats).
pub async fn receiver(statuses: Vec<u16>) -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let got: Received = Arc::default();
    let log = got.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (headers, body) = loop {
                let Ok(read) = sock.read(&mut chunk).await else { break (Vec::new(), String::new()) };
                if read == 0 {
                    break (Vec::new(), String::new());
                }
                buf.extend_from_slice(&chunk[..read]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let headers: Vec<(String, String)> = text[..end]
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(": ").map(|(k, v)| (k.to_lowercase(), v.to_owned())))
                        .collect();
                    let len: usize = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break (headers, String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string());
                    }
                }
            };
            let status = statuses[n.min(statuses.len() - 1)];
            n += 1;
            log.lock().expect("receiver log").push((headers, body));
            let response = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = sock.write_all(response.as_bytes()).await;
        }
    });
    (url, got)
}

/// The requests received so far, once there are at least `n` (up to `EFFECT_WAIT`).
#[track_caller]
pub fn wait_requests(
    got: &Received,
    n: usize,
) -> impl Future<Output = Vec<(Vec<(String, String)>, String)>> + '_ {
    eventually(format!("{n} request(s) to the receiver"), EFFECT_WAIT, async move || {
        let now = got.lock().expect("receiver log").clone();
        if now.len() >= n { Ok(now) } else { Err(now) }
    })
    .into_future()
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
}

/// The hex signatures (`v1=`) of a request that verify with `secret`.
fn verifies(headers: &[(String, String)], body: &str, secret: &str) -> bool {
    let sig = header(headers, "x-alphery-signature");
    let t = sig.split(',').find_map(|p| p.strip_prefix("t=")).unwrap_or_default();
    let id = header(headers, "x-alphery-event-id");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(format!("{id}.{t}.{body}").as_bytes());
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    sig.split(',').filter_map(|p| p.strip_prefix("v1=")).any(|v| v == expected)
}

const CREATE: &str =
    "mutation($i: WebhookInput!) { createWebhook(input: $i) { secret webhook { id events } } }";

async fn crm(t: &TestTenant) -> Names {
    t.define(entity("deal", "deals", vec![field("title", "TEXT", json!({"required": true}))], json!({})))
        .await;
    Names::new("deal", "deals")
}

#[tokio::test]
async fn a_change_is_delivered_signed_and_retried_after_a_500() {
    let t = tenant().await;
    let deals = crm(&t).await;
    let (url, got) = receiver(vec![500, 200]).await;
    let hook = t.data(CREATE, json!({"i": {"url": url, "events": ["deal.created"]}})).await;
    let secret = str_of(&hook["createWebhook"]["secret"]);
    let hook_id = str_of(&hook["createWebhook"]["webhook"]["id"]);
    let deal = t.create(&deals, json!({"title": "Acme"}), "").await;
    t.update(&deals, &str_of(&deal["id"]), json!({"title": "Acme 2"}), "").await;
    let requests = wait_requests(&got, 2).await;
    assert_eq!(requests.len(), 2, "a 500, then the retry");
    for (headers, body) in &requests {
        assert!(verifies(headers, body, &secret), "bad signature: {headers:?}");
        let payload: Value = serde_json::from_str(body).expect("a JSON body");
        assert_eq!(payload["type"], json!("deal.created"));
        assert_eq!(payload["data"]["record"]["id"], deal["id"]);
        assert_eq!(payload["data"]["record"]["data"]["title"], json!("Acme"));
    }
    assert_eq!(
        header(&requests[0].0, "x-alphery-event-id"),
        header(&requests[1].0, "x-alphery-event-id"),
        "same event on retry"
    );
    tokio::time::sleep(SILENCE).await;
    assert_eq!(
        got.lock().expect("log").len(),
        2,
        "deal.updated is not subscribed; nothing after the success"
    );
    let log = t
        .data("query($w: ID!) { webhookDeliveries(webhookId: $w) { eventType status attempts responseStatus lastError } }", json!({"w": hook_id}))
        .await;
    let d = &log["webhookDeliveries"][0];
    assert_eq!(
        (d["status"].clone(), d["attempts"].clone(), d["responseStatus"].clone()),
        (json!("delivered"), json!(2), json!(200))
    );
}

#[tokio::test]
async fn after_rotation_both_secrets_sign() {
    let t = tenant().await;
    let deals = crm(&t).await;
    let (url, got) = receiver(vec![200]).await;
    let hook = t.data(CREATE, json!({"i": {"url": url, "events": ["deal.*"]}})).await;
    let old = str_of(&hook["createWebhook"]["secret"]);
    let rotated = t
        .data(
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret webhook { secretIds } } }",
            json!({"id": hook["createWebhook"]["webhook"]["id"]}),
        )
        .await;
    let new = str_of(&rotated["rotateWebhookSecret"]["secret"]);
    assert_eq!(rotated["rotateWebhookSecret"]["webhook"]["secretIds"].as_array().map(Vec::len), Some(2));
    t.create(&deals, json!({"title": "Rotated"}), "").await;
    let requests = wait_requests(&got, 1).await;
    let (headers, body) = &requests[0];
    assert!(verifies(headers, body, &old) && verifies(headers, body, &new), "{headers:?}");
    assert_eq!(header(headers, "x-alphery-signature").matches("v1=").count(), 2);
}

const CREATE_WORKFLOW: &str =
    "mutation($i: WorkflowInput!) { createWorkflow(input: $i) { id secret secretIds } }";
const ROTATE_WORKFLOW: &str = "mutation($id: ID!) { rotateWorkflowSecret(id: $id) { secret secretIds } }";

#[tokio::test]
async fn call_webhook_requests_are_signed_with_the_workflows_rotating_secret() {
    let t = tenant().await;
    let deals = crm(&t).await;
    let (url, got) = receiver(vec![500, 200]).await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "deal"},
        "actions": [{"type": "call_webhook", "url": url, "body": {"deal": "{{record.title}}"}}]
    });
    let created = t.data(CREATE_WORKFLOW, json!({"i": {"name": "Sync", "definition": definition}})).await;
    let workflow = str_of(&created["createWorkflow"]["id"]);
    let first = str_of(&created["createWorkflow"]["secret"]);
    assert!(first.starts_with("whsec_") && first.len() > 40, "{created}");
    assert_eq!(created["createWorkflow"]["secretIds"].as_array().map(Vec::len), Some(1));
    // Shown once: listing workflows does not reveal it.
    assert_eq!(t.data("{ workflows { secret } }", json!({})).await["workflows"][0]["secret"], Value::Null);

    // A 500 fails the step; the retried run sends the same delivery id, signed again.
    t.create(&deals, json!({"title": "Acme"}), "").await;
    let requests = wait_requests(&got, 2).await;
    assert_eq!(requests.len(), 2, "a 500, then the retry");
    for (headers, body) in &requests {
        assert!(verifies(headers, body, &first), "bad signature: {headers:?}");
        assert_eq!(serde_json::from_str::<Value>(body).expect("a JSON body"), json!({"deal": "Acme"}));
        assert!(!header(headers, "x-alphery-timestamp").is_empty(), "{headers:?}");
    }
    let delivery = header(&requests[0].0, "x-alphery-event-id").to_owned();
    assert!(!delivery.is_empty());
    assert_eq!(delivery, header(&requests[1].0, "x-alphery-event-id"), "same delivery id on retry");
    assert!(!verifies(&requests[0].0, &requests[0].1, "whsec_not-the-secret"));

    // After a rotation the new and the previous secret both sign.
    let rotated = t.data(ROTATE_WORKFLOW, json!({"id": workflow})).await;
    let second = str_of(&rotated["rotateWorkflowSecret"]["secret"]);
    assert_ne!(second, first);
    assert_eq!(rotated["rotateWorkflowSecret"]["secretIds"].as_array().map(Vec::len), Some(2));
    t.create(&deals, json!({"title": "Rotated"}), "").await;
    let requests = wait_requests(&got, 3).await;
    let (headers, body) = &requests[2];
    assert!(verifies(headers, body, &second) && verifies(headers, body, &first), "{headers:?}");
    assert_ne!(header(headers, "x-alphery-event-id"), delivery, "another run, another id");

    // The grace period ends at the next rotation: the first secret no longer signs.
    let third =
        str_of(&t.data(ROTATE_WORKFLOW, json!({"id": workflow})).await["rotateWorkflowSecret"]["secret"]);
    t.create(&deals, json!({"title": "Again"}), "").await;
    let requests = wait_requests(&got, 4).await;
    let (headers, body) = &requests[3];
    assert!(verifies(headers, body, &third) && verifies(headers, body, &second), "{headers:?}");
    assert!(!verifies(headers, body, &first), "{headers:?}");
    assert_eq!(header(headers, "x-alphery-signature").matches("v1=").count(), 2);

    t.request(ROTATE_WORKFLOW, json!({"id": "no-such-workflow"})).await.expect_code("NOT_FOUND");
    let member = t.invite_auth("member").await;
    t.api.graphql(&member, ROTATE_WORKFLOW, json!({"id": workflow})).await.expect_code("FORBIDDEN");
}

#[tokio::test]
async fn failing_webhooks_to_internal_addresses_and_for_members() {
    let t = tenant().await;
    for url in [
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/x",
        "ftp://example.com/x",
    ] {
        t.request(CREATE, json!({"i": {"url": url, "events": ["*"]}})).await.expect_field_errors(&["url"]);
    }
    t.request(CREATE, json!({"i": {"url": "http://127.0.0.1:9/x", "events": ["nonsense"]}}))
        .await
        .expect_field_errors(&["events"]);
    assert_eq!(t.data("{ webhooks { id } }", json!({})).await["webhooks"], json!([]));
    let member = t.invite_auth("member").await;
    t.api.graphql(&member, "{ webhooks { id } }", json!({})).await.expect_code("FORBIDDEN");
}

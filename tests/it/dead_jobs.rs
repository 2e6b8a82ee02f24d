//! Retries and the dead-letter view: a workflow run whose webhook call fails transiently is
//! retried from the failed action with backoff and succeeds; one that keeps failing ends
//! `dead` after the maximum attempts, as does a webhook delivery; both are listed in
//! `deadJobs` and `retryDeadJob` gives each one more attempt, which then succeeds.

use serde_json::{Value, json};

use crate::harness::*;
use crate::webhooks::{receiver, wait_requests};

const RUNS: &str = "query($w: ID) { workflowRuns(workflowId: $w) { id status attempts error steps { position attempt action status } } }";

async fn caller(t: &TestTenant, url: &str) -> (Names, String) {
    let deals =
        t.define_entity("deal", "deals", plain_fields(&[("title", "TEXT"), ("synced", "TEXT")])).await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "deal"},
        "actions": [
            {"type": "call_webhook", "url": url},
            {"type": "update_fields", "values": {"synced": "yes"}}
        ]
    });
    (deals, t.create_workflow("sync", definition).await)
}

/// The workflow's single run once its status is `status` (up to 30 s).
#[track_caller]
fn run_with_status<'a>(
    t: &'a TestTenant,
    workflow: &'a str,
    status: &'a str,
) -> impl Future<Output = Value> + 'a {
    eventually(format!("the run to be {status}"), std::time::Duration::from_secs(30), async move || {
        let run = t.data(RUNS, json!({"w": workflow})).await["workflowRuns"][0].clone();
        if run["status"] == json!(status) { Ok(run) } else { Err(run) }
    })
    .into_future()
}

#[tokio::test]
async fn a_run_failing_transiently_is_retried_from_the_failed_action() {
    let t = tenant().await;
    let (url, got) = receiver(vec![500, 503, 200]).await;
    let (deals, workflow) = caller(&t, &url).await;
    let deal = str_of(&t.create(&deals, json!({"title": "Acme"}), "").await["id"]);
    let run = run_with_status(&t, &workflow, "succeeded").await;
    // Three attempts made: two failed calls, then the one that passed.
    assert_eq!((run["status"].clone(), run["attempts"].clone()), (json!("succeeded"), json!(3)), "{run}");
    assert_eq!(wait_requests(&got, 3).await.len(), 3);
    let steps: Vec<(Value, Value, Value)> = run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| (s["attempt"].clone(), s["position"].clone(), s["status"].clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (json!(1), json!(0), json!("failed")),
            (json!(2), json!(0), json!("failed")),
            (json!(3), json!(0), json!("succeeded")),
            (json!(3), json!(1), json!("succeeded")),
        ]
    );
    assert_eq!(t.get(&deals, &deal, "synced").await["synced"], json!("yes"));
}

#[tokio::test]
async fn dead_runs_and_deliveries_are_listed_and_retried() {
    let t = tenant().await;
    // Five failures exhaust the attempts; the sixth request (the manual retry) succeeds.
    let (run_url, run_got) = receiver(vec![500, 500, 500, 500, 500, 200]).await;
    let (hook_url, hook_got) = receiver(vec![500, 500, 500, 500, 500, 200]).await;
    let (deals, workflow) = caller(&t, &run_url).await;
    t.data(
        "mutation($i: WebhookInput!) { createWebhook(input: $i) { secret } }",
        json!({"i": {"url": hook_url, "events": ["deal.created"]}}),
    )
    .await;
    let deal = str_of(&t.create(&deals, json!({"title": "Globex"}), "").await["id"]);
    let run = run_with_status(&t, &workflow, "dead").await;
    assert_eq!((run["status"].clone(), run["attempts"].clone()), (json!("dead"), json!(5)), "{run}");
    assert!(str_of(&run["error"]).contains("500"), "{run}");
    assert_eq!(wait_requests(&hook_got, 5).await.len(), 5);
    let jobs = eventually("both dead jobs to be listed", EFFECT_WAIT, async || {
        let jobs =
            t.data("{ deadJobs { id kind status attempts lastError summary } }", json!({})).await["deadJobs"]
                .clone();
        if jobs.as_array().is_some_and(|j| j.len() >= 2) { Ok(jobs) } else { Err(jobs) }
    })
    .await;
    let of = |kind: &str| {
        jobs.as_array().into_iter().flatten().find(|j| j["kind"] == json!(kind)).cloned().unwrap_or_default()
    };
    let (run_job, delivery) = (of("WORKFLOW_RUN"), of("WEBHOOK_DELIVERY"));
    assert_eq!(run_job["id"], run["id"]);
    assert_eq!(run_job["summary"], json!("sync"));
    assert_eq!(delivery["status"], json!("dead"));
    assert_eq!(delivery["attempts"], json!(5));
    assert!(str_of(&delivery["summary"]).starts_with("deal.created"), "{delivery}");
    assert_eq!(t.get(&deals, &deal, "synced").await["synced"], Value::Null);
    // One more attempt each: both succeed now.
    let retry = "mutation($id: ID!) { retryDeadJob(id: $id) }";
    assert_eq!(t.data(retry, json!({"id": run_job["id"]})).await["retryDeadJob"], json!("WORKFLOW_RUN"));
    assert_eq!(t.data(retry, json!({"id": delivery["id"]})).await["retryDeadJob"], json!("WEBHOOK_DELIVERY"));
    let run = run_with_status(&t, &workflow, "succeeded").await;
    assert_eq!((run["status"].clone(), run["attempts"].clone()), (json!("succeeded"), json!(6)), "{run}");
    assert_eq!(wait_requests(&run_got, 6).await.len(), 6);
    assert_eq!(wait_requests(&hook_got, 6).await.len(), 6);
    assert_eq!(t.get(&deals, &deal, "synced").await["synced"], json!("yes"));
    // Retrying something that is not dead: NOT_FOUND.
    t.request(retry, json!({"id": run_job["id"]})).await.expect_code("NOT_FOUND");
}

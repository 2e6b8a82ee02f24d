//! Emails the platform sends count as touches for the Deal Confidence Meter, through GraphQL
//! and a real SMTP server (the harness's aiosmtpd sink), on the CRM roles test's tenant
//! (pipeline `opportunity`) with the meter on under custom weights: six quiet days (the
//! clock's nightly pass) cost the silence weight; a workflow's email about another deal is
//! that deal's touch only (a third deal rescored afterwards does not count it); once the
//! workflow's email about the deal is sent, the deal is rescored without any change of its
//! own, the silence is gone and the recent touch says it was an email; six days after that
//! email the silence is counted from it; the deal's timeline lists its email and not the other.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::crm_roles;
use crate::harness::*;

const CONFIDENCE: &str = "query($id: ID!) { confidence(entity: \"opportunity\", id: $id) {
    score version factors { signal effect detail } } }";

const RUN: &str = "mutation($w: ID!, $r: ID!) { runWorkflow(id: $w, recordId: $r) { id } }";

const EMAILS: &str = "{ emails { subject status sentAt } }";

const TIMELINE: &str = "query($id: ID!) { timeline(entity: \"opportunity\", id: $id, first: 50) {
    edges { node { kind title status } } } }";

/// The weights set: a touch in the last 2 days adds 7, none for 5 days costs 12.
fn weights() -> Value {
    json!([{"signal": "RECENT_ACTIVITY", "effect": 7, "threshold": 2},
           {"signal": "NO_RECENT_TOUCH", "effect": -12, "threshold": 5}])
}

/// The opportunity tenant with its CRM roles, the meter on with `weights()`, and a manual
/// workflow mailing a follow-up about an opportunity to `address` (returns its id).
async fn meter_tenant(address: &str) -> (TestTenant, Names, String) {
    let t = crm_roles::opportunity_tenant().await;
    t.data(
        "mutation($i: CrmRolesInput!) { setCrmRoles(input: $i) { pipeline } }",
        json!({"i": crm_roles::roles()}),
    )
    .await;
    let set = "mutation($w: [ConfidenceWeightInput!]!) { setConfidenceWeights(weights: $w) { signal } }";
    t.data(set, json!({"w": weights()})).await;
    let mail = json!({
        "trigger": {"type": "manual", "entity": "opportunity"},
        "actions": [{"type": "send_email", "to": address, "subject": "Following up on {{record.title}}",
                     "body": "Any news about {{record.title}}?"}]
    });
    let workflow = t.create_workflow("Follow-up", mail).await;
    (t, Names::new("opportunity", "opportunities"), workflow)
}

/// The record's confidence once `done` holds of it (the worker computes it).
async fn confidence_when(t: &TestTenant, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    eventually(format!("the confidence of {id}"), EFFECT_WAIT, async || {
        let c = t.data(CONFIDENCE, json!({"id": id})).await["confidence"].clone();
        if !c.is_null() && done(&c) { Ok(c) } else { Err(c) }
    })
    .await
}

/// The factor of `signal`, if the score has one.
fn factor<'a>(c: &'a Value, signal: &str) -> Option<&'a Value> {
    c["factors"].as_array()?.iter().find(|f| f["signal"] == signal)
}

/// The signals of the score's factors, in order.
fn signals(c: &Value) -> Value {
    Value::from(pluck_str(&c["factors"], "signal"))
}

/// Runs the follow-up on `record` and returns when its email was sent, once the SMTP sink
/// has it and the outbox says `sent`.
async fn follow_up(
    t: &TestTenant,
    workflow: &str,
    record: &str,
    title: &str,
    address: &str,
) -> DateTime<Utc> {
    t.data(RUN, json!({"w": workflow, "r": record})).await;
    let subject = format!("Following up on {title}");
    eventually(format!("the follow-up on {title} at the sink"), EFFECT_WAIT, async || {
        let got = smtp_sink().messages_to(address);
        if got.iter().any(|m| m["subject"] == json!(subject)) { Ok(()) } else { Err(got) }
    })
    .await;
    let sent = eventually(format!("the follow-up on {title} to be sent"), EFFECT_WAIT, async || {
        let emails = t.data(EMAILS, json!({})).await["emails"].clone();
        let email =
            emails.as_array().and_then(|e| e.iter().find(|e| e["subject"] == json!(subject)).cloned());
        match email {
            Some(e) if e["status"] == "sent" => Ok(e),
            other => Err(other),
        }
    })
    .await;
    str_of(&sent["sentAt"]).parse().expect("sentAt is a time")
}

#[tokio::test]
async fn a_sent_email_about_a_deal_is_its_touch_and_rescores_it() {
    let address = format!("buyer-{}@example.com", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (t, opportunities, workflow) = meter_tenant(&address).await;
    let mut ids = Vec::new();
    for title in ["Fleet renewal", "Quiet deal", "Other deal"] {
        let id =
            str_of(&t.create(&opportunities, json!({"title": title, "phase": "Propose"}), "").await["id"]);
        confidence_when(&t, &id, |c| c["score"] == json!(50)).await;
        ids.push(id);
    }
    let (deal, quiet, other) = (&ids[0], &ids[1], &ids[2]);

    // Six days without activity or email (the nightly pass, as if it were then).
    let clock = Clock::of(&t).await;
    clock.scan_at(Utc::now() + Duration::days(6)).await;
    let silent = confidence_when(&t, deal, |c| c["score"] == json!(38)).await;
    let silence = factor(&silent, "NO_RECENT_TOUCH").expect("the silence counts");
    assert_eq!(
        (silence["effect"].clone(), silence["detail"].clone()),
        (json!(-12), json!("no activity or email in the 6 days since it was created")),
        "{silent}"
    );

    // An email about the other deal is that deal's touch (rescored as it is sent)...
    follow_up(&t, &workflow, other, "Other deal", &address).await;
    let mailed = confidence_when(&t, other, |c| factor(c, "RECENT_ACTIVITY").is_some()).await;
    assert_eq!((mailed["score"].clone(), signals(&mailed)), (json!(57), json!(["BASE", "RECENT_ACTIVITY"])));
    // ...and no one else's: the deal was not rescored, and a deal rescored now does not count it.
    let still = t.data(CONFIDENCE, json!({"id": deal})).await["confidence"].clone();
    assert_eq!((still["score"].clone(), still["version"].clone()), (json!(38), silent["version"].clone()));
    t.update(&opportunities, quiet, json!({"title": "Quiet deal, renamed"}), "").await;
    let renamed = confidence_when(&t, quiet, |c| c["score"] != json!(38)).await;
    assert_eq!((renamed["score"].clone(), signals(&renamed)), (json!(50), json!(["BASE"])), "{renamed}");

    // The deal's own email: once sent, the deal is rescored; the silence is gone and the
    // recent touch is the email.
    let sent_at = follow_up(&t, &workflow, deal, "Fleet renewal", &address).await;
    let touched = confidence_when(&t, deal, |c| factor(c, "RECENT_ACTIVITY").is_some()).await;
    assert_eq!(
        (touched["score"].clone(), signals(&touched)),
        (json!(57), json!(["BASE", "RECENT_ACTIVITY"]))
    );
    let recent = str_of(&factor(&touched, "RECENT_ACTIVITY").expect("the touch")["detail"]);
    assert!(recent.starts_with("an email was sent ") && recent.ends_with(" days ago"), "{recent}");

    // Six days after the email, the silence counts from it, not from the deal's creation.
    clock.scan_at(sent_at + Duration::days(6) + Duration::minutes(1)).await;
    let later = confidence_when(&t, deal, |c| c["score"] == json!(38)).await;
    assert_eq!(
        factor(&later, "NO_RECENT_TOUCH").expect("the silence counts")["detail"],
        json!("no activity or email for 6 days"),
        "{later}"
    );

    // The timeline lists the deal's email (sent), not the other deal's.
    let feed = t.data(TIMELINE, json!({"id": deal})).await["timeline"]["edges"].clone();
    let emails: Vec<Value> = feed
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .filter(|n| n["kind"] == "EMAIL")
        .collect();
    assert_eq!(
        emails,
        vec![json!({"kind": "EMAIL", "title": "Email: Following up on Fleet renewal", "status": "sent"})]
    );
}

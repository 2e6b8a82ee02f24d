//! The Deal Confidence Meter through GraphQL, on a tenant whose pipeline entity is called
//! `opportunity` (stage `phase`) and whose activities are `touch`es (`crm_roles`' tenant):
//! weights set by an administrator; an activity logged and a meeting scheduled move the score
//! by their weights (the worker recomputes it), with factors explaining every point and a
//! version per change; five quiet days (the clock's nightly pass) cost the silence weight; three
//! proposal views reported by an integration add theirs, and a burst of views at once is all
//! counted; calibration reports the win rate per
//! band of the last score before closing; a member outside the row rule, a role that cannot
//! read the pipeline and another tenant see nothing, and a read-only member may not report.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::crm_roles;
use crate::harness::*;

pub(crate) const CONFIDENCE: &str = "query($id: ID!) { confidence(entity: \"opportunity\", id: $id) {
    entity recordId score stage outcome version computedAt factors { signal effect detail }
    history(first: 10) { score version factors { signal effect } } } }";

const VIEWED: &str = "mutation($id: ID!, $at: DateTime) {
    recordConfidenceSignal(entity: \"opportunity\", id: $id, signal: PROPOSAL_VIEWED, at: $at) {
    score factors { signal effect detail } } }";

const SET_WEIGHTS: &str = "mutation($w: [ConfidenceWeightInput!]!) {
    setConfidenceWeights(weights: $w) { signal effect threshold about } }";

/// The CRM roles test's tenant (pipeline `opportunity` with stage `phase`, activities
/// `touch`es linked by `about_opportunity`), its touches given a kind and a date, its roles
/// set; the meter still off.
pub(crate) async fn opportunity_tenant_off() -> (TestTenant, Names, Names) {
    let t = crm_roles::opportunity_tenant().await;
    t.add_field("touch", field("kind", "SELECT", json!({"options": ["Call", "Email", "Meeting"]}))).await;
    t.add_field("touch", field("happens_at", "DATETIME", json!({}))).await;
    t.data(
        "mutation($i: CrmRolesInput!) { setCrmRoles(input: $i) { pipeline } }",
        json!({"i": crm_roles::roles()}),
    )
    .await;
    (t, Names::new("opportunity", "opportunities"), Names::new("touch", "touches"))
}

/// Turns the meter on: setting weights (none: the seed's).
pub(crate) async fn turn_on(t: &TestTenant) {
    t.data("mutation { setConfidenceWeights(weights: []) { signal } }", json!({})).await;
}

/// `opportunity_tenant_off` with the meter on.
pub(crate) async fn opportunity_tenant() -> (TestTenant, Names, Names) {
    let (t, opportunities, touches) = opportunity_tenant_off().await;
    turn_on(&t).await;
    (t, opportunities, touches)
}

/// The record's confidence once `done` holds of it (the worker computes it).
pub(crate) async fn confidence_when(t: &TestTenant, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    eventually(format!("the confidence of {id}"), EFFECT_WAIT, async || {
        let c = t.data(CONFIDENCE, json!({"id": id})).await["confidence"].clone();
        if !c.is_null() && done(&c) { Ok(c) } else { Err(c) }
    })
    .await
}

pub(crate) fn score_is(n: i64) -> impl Fn(&Value) -> bool {
    move |c| c["score"] == json!(n)
}

/// The factor of `signal`, if the score has one.
pub(crate) fn factor<'a>(c: &'a Value, signal: &str) -> Option<&'a Value> {
    c["factors"].as_array()?.iter().find(|f| f["signal"] == signal)
}

/// The factors' effects add up to the score.
pub(crate) fn explained(c: &Value) {
    let sum: i64 = c["factors"]
        .as_array()
        .expect("factors")
        .iter()
        .map(|f| f["effect"].as_i64().expect("an effect"))
        .sum();
    assert_eq!(json!(sum), c["score"], "the factors explain every point: {c}");
}

#[tokio::test]
async fn an_activity_a_meeting_and_quiet_days_move_the_score_by_their_weights() {
    let (t, opportunities, touches) = opportunity_tenant().await;
    let set =
        t.data(SET_WEIGHTS, json!({"w": [{"signal": "RECENT_ACTIVITY", "effect": 7, "threshold": 2}]})).await;
    let weights = set["setConfidenceWeights"].as_array().expect("weights").clone();
    let weight = |s: &str| weights.iter().find(|w| w["signal"] == s).cloned().expect("a weight");
    assert_eq!(weight("RECENT_ACTIVITY")["effect"], json!(7));
    // The seed's weights stand for the signals not set.
    assert_eq!(
        (weight("NO_RECENT_TOUCH")["effect"].clone(), weight("NO_RECENT_TOUCH")["threshold"].clone()),
        (json!(-10), json!(5.0))
    );
    assert_eq!(weight("MEETING_SCHEDULED")["effect"], json!(15));
    assert_eq!(weight("PROPOSAL_VIEWED")["effect"], json!(20));
    assert_eq!(
        t.data("{ confidenceWeights { signal effect } }", json!({})).await["confidenceWeights"]
            .as_array()
            .map(Vec::len),
        Some(weights.len())
    );

    let opp = str_of(
        &t.create(&opportunities, json!({"title": "Fleet renewal", "phase": "Discover"}), "").await["id"],
    );
    let first = confidence_when(&t, &opp, score_is(50)).await;
    assert_eq!(first["entity"], json!("opportunity"));
    assert_eq!(
        first["factors"],
        json!([{"signal": "BASE", "effect": 50, "detail": "every record starts at 50"}])
    );

    t.create(&touches, json!({"subject": "Intro call", "kind": "Call", "aboutOpportunity": opp}), "").await;
    let called = confidence_when(&t, &opp, score_is(57)).await;
    assert_eq!(factor(&called, "RECENT_ACTIVITY").expect("the activity counts")["effect"], json!(7));
    explained(&called);

    let in_ten_days = (Utc::now() + Duration::days(10)).to_rfc3339();
    t.create(
        &touches,
        json!({"subject": "Demo", "kind": "Meeting", "happensAt": in_ten_days, "aboutOpportunity": opp}),
        "",
    )
    .await;
    let met = confidence_when(&t, &opp, score_is(72)).await;
    let meeting = factor(&met, "MEETING_SCHEDULED").expect("the meeting counts");
    assert_eq!(
        (meeting["effect"].clone(), meeting["detail"].clone()),
        (json!(15), json!("1 meeting scheduled"))
    );
    explained(&met);
    let history: Vec<Value> =
        met["history"].as_array().expect("history").iter().map(|v| v["score"].clone()).collect();
    assert_eq!(history, [json!(72), json!(57), json!(50)], "one version per change, newest first: {met}");

    // Six quiet days later (the nightly pass): the activity is no longer recent, the silence
    // costs its weight, and the meeting (four days ahead still) keeps counting.
    Clock::of(&t).await.scan_at(Utc::now() + Duration::days(6)).await;
    let quiet = t.data(CONFIDENCE, json!({"id": opp})).await["confidence"].clone();
    assert_eq!(quiet["score"], json!(55), "{quiet}");
    let silence = factor(&quiet, "NO_RECENT_TOUCH").expect("the silence counts");
    assert_eq!(silence["effect"], json!(-10));
    assert_eq!(silence["detail"], json!("no activity or email for 6 days"));
    assert!(factor(&quiet, "RECENT_ACTIVITY").is_none(), "{quiet}");
    assert!(factor(&quiet, "MEETING_SCHEDULED").is_some(), "{quiet}");
    explained(&quiet);
}

#[tokio::test]
async fn three_proposal_views_add_their_weight_and_bad_reports_are_refused() {
    let (t, opportunities, _) = opportunity_tenant().await;
    let opp =
        str_of(&t.create(&opportunities, json!({"title": "Warehouse", "phase": "Propose"}), "").await["id"]);
    confidence_when(&t, &opp, score_is(50)).await;
    let integration = t.api_key("member").await;
    for n in 1..=2 {
        let seen =
            t.api.graphql(&integration, VIEWED, json!({"id": opp})).await.data()["recordConfidenceSignal"]
                .clone();
        assert_eq!(seen["score"], json!(50), "{n} view(s) are not 3: {seen}");
    }
    let third =
        t.data(VIEWED, json!({"id": opp, "at": "2026-01-05T10:00:00Z"})).await["recordConfidenceSignal"]
            .clone();
    assert_eq!(third["score"], json!(70), "{third}");
    assert_eq!(
        factor(&third, "PROPOSAL_VIEWED").expect("the views count")["detail"],
        json!("the proposal was viewed 3 times")
    );
    explained(&third);
    // The stored score is the one returned (and the worker's later runs keep it).
    assert_eq!(confidence_when(&t, &opp, score_is(70)).await["score"], json!(70));

    let bad_time = t.request(VIEWED, json!({"id": opp, "at": "yesterday"})).await;
    bad_time.expect_code("VALIDATION_FAILED");
    assert_eq!(bad_time.body["errors"][0]["extensions"]["fields"][0]["field"], json!("at"));
    let not_pipeline = "mutation($id: ID!) { recordConfidenceSignal(entity: \"touch\", id: $id, signal: PROPOSAL_VIEWED) { score } }";
    let refused = t.request(not_pipeline, json!({"id": opp})).await;
    refused.expect_code("VALIDATION_FAILED");
    let bad_weight = t.request(SET_WEIGHTS, json!({"w": [{"signal": "CLAMPED", "effect": 5, "threshold": 0}, {"signal": "BASE", "effect": 150, "threshold": 0}]})).await;
    bad_weight.expect_code("VALIDATION_FAILED");
}

/// Views reported at the same moment (an integration's burst) are each kept and none is
/// refused: rescoring one record takes turns, so no two writes claim the same version.
#[tokio::test]
async fn views_reported_at_once_are_all_counted() {
    let (t, opportunities, _) = opportunity_tenant().await;
    let opp =
        str_of(&t.create(&opportunities, json!({"title": "Burst", "phase": "Propose"}), "").await["id"]);
    confidence_when(&t, &opp, score_is(50)).await;
    let answers = futures_util::future::join_all((0..6).map(|_| t.request(VIEWED, json!({"id": opp})))).await;
    for answer in &answers {
        assert!(answer.body["errors"].is_null(), "a view at once was refused: {}", answer.body);
    }
    let c = confidence_when(&t, &opp, |c| {
        factor(c, "PROPOSAL_VIEWED").is_some_and(|f| f["detail"] == json!("the proposal was viewed 6 times"))
    })
    .await;
    assert_eq!(c["score"], json!(70), "{c}");
    explained(&c);
}

#[tokio::test]
async fn calibration_reports_the_win_rate_per_band_of_the_last_open_score() {
    let (t, opportunities, _) = opportunity_tenant().await;
    let mut ids = Vec::new();
    for (title, views) in [("A", 3), ("B", 3), ("C", 0)] {
        let id =
            str_of(&t.create(&opportunities, json!({"title": title, "phase": "Propose"}), "").await["id"]);
        confidence_when(&t, &id, score_is(50)).await;
        for _ in 0..views {
            t.data(VIEWED, json!({"id": id})).await;
        }
        ids.push(id);
    }
    for (id, end) in ids.iter().zip(["Won", "Lost", "Lost"]) {
        t.update(&opportunities, id, json!({"phase": end}), "").await;
    }
    for (id, outcome) in ids.iter().zip(["won", "lost", "lost"]) {
        confidence_when(&t, id, |c| c["outcome"] == outcome).await;
    }
    let bands = t
        .data("{ confidenceCalibration(bands: 5) { from to records won lost winRate } }", json!({}))
        .await["confidenceCalibration"]
        .clone();
    assert_eq!(
        bands,
        json!([
            {"from": 0, "to": 19, "records": 0, "won": 0, "lost": 0, "winRate": null},
            {"from": 20, "to": 39, "records": 0, "won": 0, "lost": 0, "winRate": null},
            {"from": 40, "to": 59, "records": 1, "won": 0, "lost": 1, "winRate": 0.0},
            {"from": 60, "to": 79, "records": 2, "won": 1, "lost": 1, "winRate": 0.5},
            {"from": 80, "to": 100, "records": 0, "won": 0, "lost": 0, "winRate": null},
        ])
    );
    t.request("{ confidenceCalibration(bands: 0) { from } }", json!({}))
        .await
        .expect_code("VALIDATION_FAILED");
}

#[tokio::test]
async fn members_outside_the_rule_and_other_tenants_see_nothing() {
    let (t, opportunities, _) = opportunity_tenant().await;
    let opp =
        str_of(&t.create(&opportunities, json!({"title": "Secret", "phase": "Propose"}), "").await["id"]);
    confidence_when(&t, &opp, score_is(50)).await;
    let get = |auth: Auth| {
        let (t, opp) = (&t, opp.clone());
        async move { t.api.graphql(&auth, CONFIDENCE, json!({"id": opp})).await }
    };

    t.create_role(
        "discover_only",
        json!({"opportunity": {"actions": ["read"], "where": {"phase": {"eq": "Discover"}}}}),
    )
    .await;
    get(t.invite_auth("discover_only").await).await.expect_code("NOT_FOUND");
    t.create_role("no_pipeline", json!({"touch": {"actions": ["read"]}})).await;
    get(t.invite_auth("no_pipeline").await).await.expect_code("NOT_FOUND");
    t.create_role("reader", json!({"opportunity": {"actions": ["read"]}})).await;
    let reader = t.invite_auth("reader").await;
    assert_eq!(get(reader.clone()).await.data()["confidence"]["score"], json!(50));
    t.api.graphql(&reader, VIEWED, json!({"id": opp})).await.expect_code("FORBIDDEN");
    // Setting weights is the administrators': a member's schema lacks it.
    let set = "mutation { setConfidenceWeights(weights: []) { signal } }";
    t.api.graphql(&reader, set, json!({})).await.expect_code("FORBIDDEN");

    let (other, _, _) = opportunity_tenant().await;
    other.request(CONFIDENCE, json!({"id": opp})).await.expect_code("NOT_FOUND");
    other.request(VIEWED, json!({"id": opp})).await.expect_code("NOT_FOUND");
}

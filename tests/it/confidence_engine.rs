//! The Deal Confidence Meter's engine through GraphQL, on the `opportunity` tenant of
//! `confidence`: the won-deal average an amount is compared with (one aggregate over the won
//! records); the stage age compared with how long this tenant's records stay in the stage (the
//! median of its score history, once five records have left it) or, with too little history,
//! with the weight's fixed threshold; and the open records a tenant already has scored when it
//! turns the meter on (in pages, more than one here), and again when it changes its weights,
//! its closed records left unscored.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::confidence::{
    CONFIDENCE, confidence_when, explained, factor, opportunity_tenant, opportunity_tenant_off, score_is,
};
use crate::harness::*;

/// Records that sat in `Propose` and then were won: each scored in `Propose` (its stay begins)
/// before it moves on (its stay ends), so the history holds `n` stays in `Propose`.
async fn won_after_proposing(t: &TestTenant, opportunities: &Names, n: usize) {
    for i in 0..n {
        let title = format!("Past deal {i}");
        let id =
            str_of(&t.create(opportunities, json!({"title": title, "phase": "Propose"}), "").await["id"]);
        confidence_when(t, &id, |c| c["stage"] == "Propose").await;
        t.update(opportunities, &id, json!({"phase": "Won"}), "").await;
        confidence_when(t, &id, |c| c["outcome"] == "won").await;
    }
}

/// A new record in `Propose` (scored once), and the instant it was created at the latest.
async fn proposing(t: &TestTenant, opportunities: &Names) -> (String, chrono::DateTime<Utc>) {
    let id =
        str_of(&t.create(opportunities, json!({"title": "Lingering", "phase": "Propose"}), "").await["id"]);
    let created = Utc::now();
    confidence_when(t, &id, |c| !c["score"].is_null()).await;
    (id, created)
}

/// The record's confidence as stored now.
async fn stored(t: &TestTenant, id: &str) -> Value {
    t.data(CONFIDENCE, json!({"id": id})).await["confidence"].clone()
}

#[tokio::test]
async fn an_amount_is_compared_with_the_average_of_every_won_record() {
    let (t, opportunities, _) = opportunity_tenant().await;
    for amount in ["100.00", "300.00"] {
        t.create(&opportunities, json!({"title": "Won", "phase": "Won", "amount": amount}), "").await;
    }
    // Lost and open records do not count: the average is of the won ones (200).
    t.create(&opportunities, json!({"title": "Lost", "phase": "Lost", "amount": "9000.00"}), "").await;
    let big = str_of(
        &t.create(&opportunities, json!({"title": "Big", "phase": "Propose", "amount": "500.00"}), "").await
            ["id"],
    );
    let c = confidence_when(&t, &big, score_is(45)).await;
    let above = factor(&c, "AMOUNT_ABOVE_WON_AVERAGE").expect("the amount is above 1.5 times the average");
    assert_eq!(above["detail"], json!("the amount 500 is 2.5 times the average won amount 200.00"), "{c}");
    explained(&c);
    let small = str_of(
        &t.create(&opportunities, json!({"title": "Small", "phase": "Propose", "amount": "250.00"}), "")
            .await["id"],
    );
    let c = confidence_when(&t, &small, score_is(50)).await;
    assert!(factor(&c, "AMOUNT_ABOVE_WON_AVERAGE").is_none(), "250 is not above 300: {c}");
}

/// A reader whose field rules hide the amount and the stage gets the same points, but no word
/// of them: neither the root query nor the record's own field (nor its history) names the
/// amount, the average or the stage.
#[tokio::test]
async fn a_score_tells_no_reader_what_their_field_rules_hide() {
    let (t, opportunities, _) = opportunity_tenant().await;
    t.create(&opportunities, json!({"title": "Won", "phase": "Won", "amount": "200.00"}), "").await;
    let big = str_of(
        &t.create(&opportunities, json!({"title": "Big", "phase": "Propose", "amount": "500.00"}), "").await
            ["id"],
    );
    let full = confidence_when(&t, &big, score_is(45)).await;
    t.create_role(
        "blind",
        json!({"opportunity": {"actions": ["read"], "fields": {"amount": "none", "phase": "none"}}}),
    )
    .await;
    let blind = t.invite_auth("blind").await;
    let seen = t.api.graphql(&blind, CONFIDENCE, json!({"id": big})).await.data()["confidence"].clone();
    assert_eq!(seen["score"], full["score"], "the same points: {seen}");
    assert_eq!((seen["stage"].clone(), seen["outcome"].clone()), (Value::Null, Value::Null), "{seen}");
    let above = factor(&seen, "AMOUNT_ABOVE_WON_AVERAGE").expect("the factor stays");
    assert_eq!(above["detail"], json!("the amount is well above the average won amount"));
    explained(&seen);
    let own = "query($id: ID!) { opportunity(id: $id) { confidence { stage factors { detail } } } }";
    let via_record = t.api.graphql(&blind, own, json!({"id": big})).await.data()["opportunity"].clone();
    let details = |factors: &Value| -> Vec<String> {
        factors.as_array().expect("factors").iter().map(|f| str_of(&f["detail"])).collect()
    };
    for words in [details(&seen["factors"]), details(&via_record["confidence"]["factors"])].concat() {
        assert!(!words.contains("500") && !words.contains("200") && !words.contains("Propose"), "{words}");
    }
    assert_eq!(via_record["confidence"]["stage"], Value::Null, "{via_record}");
    // Their own schema hides the fields themselves, as it always did.
    let amount = "query($id: ID!) { opportunity(id: $id) { amount } }";
    t.api.graphql(&blind, amount, json!({"id": big})).await.expect_code("BAD_REQUEST");
}

#[tokio::test]
async fn a_stage_grows_old_against_the_median_stay_of_this_tenants_records() {
    let (t, opportunities, _) = opportunity_tenant().await;
    // Five records stayed in Propose for moments (the time the test took to move them on).
    won_after_proposing(&t, &opportunities, 5).await;
    let (id, created) = proposing(&t, &opportunities).await;
    // Two days later, far within the fixed threshold (30 days) but far beyond the usual stay.
    Clock::of(&t).await.scan_at(created + Duration::days(2)).await;
    let c = stored(&t, &id).await;
    let age = factor(&c, "STAGE_AGE").expect("two days is longer than this tenant's records stay in Propose");
    assert_eq!(age["effect"], json!(-10), "{c}");
    let detail = age["detail"].as_str().expect("a detail");
    assert!(
        detail.starts_with("in Propose for 2 days; this tenant's records leave it after ")
            && detail.ends_with(" (median of 5)"),
        "the detail names the history it compared with: {detail}"
    );
    explained(&c);
}

#[tokio::test]
async fn with_too_little_history_a_stage_grows_old_after_the_fixed_threshold() {
    let (t, opportunities, _) = opportunity_tenant().await;
    won_after_proposing(&t, &opportunities, 2).await;
    let (id, created) = proposing(&t, &opportunities).await;
    let clock = Clock::of(&t).await;
    // Two stays are too few to say what is usual: two days is not old yet.
    clock.scan_at(created + Duration::days(2)).await;
    let c = stored(&t, &id).await;
    assert!(factor(&c, "STAGE_AGE").is_none(), "{c}");
    assert_eq!(c["score"], json!(50), "{c}");
    // Past the threshold of 30 days, it is, and the detail says which measure was used.
    clock.scan_at(created + Duration::days(31)).await;
    let c = stored(&t, &id).await;
    let age = factor(&c, "STAGE_AGE").expect("31 days is more than 30");
    assert_eq!(
        age["detail"],
        json!(
            "in Propose for 31 days (more than the threshold of 30 days: 2 of the tenant's records have left it, 5 are needed to compare with its history)"
        ),
        "{c}"
    );
    explained(&c);
}

/// The scores of records `ids` (`null` for a record not scored), 25 to a request (a query
/// may have at most 50 aliases).
async fn scores(t: &TestTenant, ids: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for chunk in ids.chunks(25) {
        let fields: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| format!("c{i}: confidence(entity: \"opportunity\", id: \"{id}\") {{ score }}"))
            .collect();
        let data = t.data(&format!("{{ {} }}", fields.join(" ")), json!({})).await;
        out.extend((0..chunk.len()).map(|i| data[format!("c{i}")]["score"].clone()));
    }
    out
}

/// Once every record of `ids` scores `score`.
async fn all_score(t: &TestTenant, ids: &[String], score: i64) {
    eventually(format!("{} records to score {score}", ids.len()), EFFECT_WAIT, async || {
        let now = scores(t, ids).await;
        if now.iter().all(|s| *s == json!(score)) { Ok(()) } else { Err(now) }
    })
    .await;
}

#[tokio::test]
async fn turning_the_meter_on_scores_the_open_records_already_there() {
    let (t, opportunities, _) = opportunity_tenant_off().await;
    // More open records than one page of the back-fill (50), and some closed ones.
    let mut open = Vec::new();
    for i in 0..60 {
        let phase = if i % 2 == 0 { "Discover" } else { "Propose" };
        let r = t.create(&opportunities, json!({"title": format!("Open {i}"), "phase": phase}), "").await;
        open.push(str_of(&r["id"]));
    }
    let mut closed = Vec::new();
    for phase in ["Won", "Lost", "Won"] {
        let r = t.create(&opportunities, json!({"title": phase, "phase": phase}), "").await;
        closed.push(str_of(&r["id"]));
    }
    // The meter is off: nothing is scored.
    assert!(scores(&t, &open[..5]).await.iter().all(Value::is_null));

    t.data("mutation { setConfidenceWeights(weights: []) { signal } }", json!({})).await;
    all_score(&t, &open, 50).await;
    assert!(scores(&t, &closed).await.iter().all(Value::is_null), "closed records are not scored");

    // New weights: every open record is scored again under them.
    let base = json!({"w": [{"signal": "BASE", "effect": 62, "threshold": 0}]});
    t.data("mutation($w: [ConfidenceWeightInput!]!) { setConfidenceWeights(weights: $w) { signal } }", base)
        .await;
    all_score(&t, &open, 62).await;
    assert!(scores(&t, &closed).await.iter().all(Value::is_null), "closed records are not scored");
}

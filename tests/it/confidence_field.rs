//! `confidence` on the pipeline record's own type (issue 13.3: the score as a read-only system
//! field), on the tenant whose pipeline is `opportunity` (`confidence`'s tenant): absent from
//! the schema while the meter is off, there (and in no input, filter or order) once it is on;
//! the same score, factors and version as the root `confidence(entity, id)`, null for a record
//! not scored (closed before the meter went on); a page of scored records shows each its own, and their scores cost one
//! statement for the whole page (`x-sql-statements`, as `round_trips` counts); a tenant's own
//! field called `confidence` keeps its name.

use serde_json::{Value, json};

use crate::confidence::{
    CONFIDENCE, confidence_when, opportunity_tenant, opportunity_tenant_off, score_is, turn_on,
};
use crate::harness::*;
use crate::rls::on_postgres;
use crate::round_trips::round_trips;
use crate::webhooks::{receiver, wait_requests};

/// A page of opportunities with their scores. The inline fragment keeps the query off the
/// compiled path, like `BARE` below, so that the two differ by the scores alone.
const SCORED: &str = "query($n: Int) { opportunities(first: $n) { nodes { id ... on Opportunity { title }
    confidence { score version factors { signal effect detail } } } } }";

/// The same page without the scores.
const BARE: &str =
    "query($n: Int) { opportunities(first: $n) { nodes { id ... on Opportunity { title } } } }";

async fn sdl(t: &TestTenant) -> String {
    str_of(&t.data("{ tenantSchemaSdl }", json!({})).await["tenantSchemaSdl"])
}

/// The block of `sdl` that opens with `head`, up to its closing brace.
fn block<'s>(sdl: &'s str, head: &str) -> &'s str {
    let start = sdl.find(head).unwrap_or_else(|| panic!("the SDL has no {head}"));
    let len = sdl[start..].find("\n}").expect("a closed block");
    &sdl[start..start + len]
}

/// The page's nodes by id.
fn by_id(page: &Value) -> Vec<(String, Value)> {
    let nodes = page["opportunities"]["nodes"].as_array().expect("nodes");
    nodes.iter().map(|n| (str_of(&n["id"]), n["confidence"].clone())).collect()
}

/// The root query's score, as the field shows it.
async fn root_score(t: &TestTenant, id: &str) -> Value {
    let c = t.data(CONFIDENCE, json!({"id": id})).await["confidence"].clone();
    json!({"score": c["score"], "version": c["version"], "factors": c["factors"]})
}

#[tokio::test]
async fn the_field_comes_with_the_meter_and_shows_the_root_score() {
    let (t, opportunities, _) = opportunity_tenant_off().await;
    assert!(
        !block(&sdl(&t).await, "type Opportunity {").contains("confidence"),
        "the meter is off: no confidence field"
    );
    t.request(SCORED, json!({"n": 5})).await.expect_code("BAD_REQUEST");

    // A record closed (won) while the meter is off, its creation relayed (its webhook
    // delivered) before the meter goes on: no score is queued for it, and turning the meter on
    // scores open records only (the backfill), so it stays unscored.
    let (url, got) = receiver(vec![200]).await;
    let hook = "mutation($i: WebhookInput!) { createWebhook(input: $i) { secret } }";
    t.data(hook, json!({"i": {"url": url, "events": ["opportunity.created"]}})).await;
    let before =
        str_of(&t.create(&opportunities, json!({"title": "Before", "phase": "Won"}), "").await["id"]);
    wait_requests(&got, 1).await;
    turn_on(&t).await;

    let schema = sdl(&t).await;
    assert!(block(&schema, "type Opportunity {").contains("\tconfidence: ConfidenceScore"), "{schema}");
    for head in [
        "input OpportunityFilter {",
        "input OpportunityOrderBy {",
        "enum OpportunityField {",
        "input CreateOpportunityInput {",
        "input UpdateOpportunityInput {",
    ] {
        assert!(!block(&schema, head).contains("confidence"), "read-only: not in {head}");
    }
    // The activity entity is scored too, but only the pipeline's type carries a score.
    assert!(!block(&schema, "type Touch {").contains("confidence"));

    let after =
        str_of(&t.create(&opportunities, json!({"title": "After", "phase": "Propose"}), "").await["id"]);
    confidence_when(&t, &after, score_is(50)).await;
    let page = by_id(&t.data(SCORED, json!({"n": 10})).await);
    let shown = |id: &str| page.iter().find(|(i, _)| i == id).map(|(_, c)| c.clone()).expect("on the page");
    assert_eq!(shown(&before), Value::Null, "a closed record is not scored");
    assert_eq!(t.data(CONFIDENCE, json!({"id": before})).await["confidence"], Value::Null);
    assert_eq!(shown(&after), root_score(&t, &after).await);
    let one = t.get(&opportunities, &after, "confidence { score stage outcome computedAt }").await;
    assert_eq!(one["confidence"]["score"], json!(50));
    assert_eq!(one["confidence"]["stage"], json!("Propose"));
}

#[tokio::test]
async fn a_page_of_scored_records_reads_their_scores_in_one_statement() {
    let (t, opportunities, _) = opportunity_tenant().await;
    const N: usize = 24;
    let mut ids = Vec::new();
    for i in 0..N {
        let input =
            json!({"title": format!("Deal {i}"), "phase": "Discover", "amount": format!("{}.00", 1000 + i)});
        ids.push(str_of(&t.create(&opportunities, input, "").await["id"]));
    }
    let page = eventually(format!("the {N} records scored"), EFFECT_WAIT, async || {
        let page = by_id(&t.data(SCORED, json!({"n": 50})).await);
        if page.len() == N && page.iter().all(|(_, c)| !c.is_null()) { Ok(page) } else { Err(page) }
    })
    .await;
    let mut seen: Vec<String> = page.iter().map(|(id, _)| id.clone()).collect();
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "every record, once");
    for (id, shown) in &page {
        assert_eq!(shown, &root_score(&t, id).await, "the score of {id}");
    }

    let auth = t.auth();
    let one = round_trips(&t, &auth, SCORED, json!({"n": 1})).await;
    let all = round_trips(&t, &auth, SCORED, json!({"n": N})).await;
    let bare = round_trips(&t, &auth, BARE, json!({"n": N})).await;
    assert_eq!(one, all, "the scores cost the same for 1 record as for {N}");
    // PostgreSQL: one statement on the request's read connection; SQLite: the statement in a
    // read transaction of its own (BEGIN, the statement, COMMIT).
    let batch = if on_postgres() { 1 } else { 3 };
    assert_eq!(all, bare + batch, "the page's scores are one statement ({all} against {bare} without)");
}

#[tokio::test]
async fn a_tenant_field_called_confidence_keeps_its_name() {
    let (t, opportunities, _) = opportunity_tenant().await;
    t.add_field("opportunity", field("confidence", "NUMBER", json!({}))).await;
    let schema = sdl(&t).await;
    assert!(block(&schema, "type Opportunity {").contains("\tconfidence: Float"), "{schema}");
    let id = str_of(&t.create(&opportunities, json!({"title": "Own", "confidence": 0.7}), "").await["id"]);
    assert_eq!(t.get(&opportunities, &id, "confidence").await["confidence"], json!(0.7));
    // The meter's score stays at the root.
    confidence_when(&t, &id, score_is(50)).await;
}

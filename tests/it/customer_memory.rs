//! Customer Memory through GraphQL: facts extracted offline from the notes related to a record
//! (any entity with a RELATION to it and long-text fields), each citing its note and field;
//! refreshed by the worker into a new version after a new note; a member does not see a fact
//! from a note outside their row rule; with an AI provider, the model's summary is stored
//! beside the facts with the citations of the notes it was sent.

use serde_json::{Value, json};

use crate::ai::{FakeProvider, configure, sent_text};
use crate::harness::*;

const MEMORY: &str = "query($e: String!, $id: ID!) { customerMemory(entity: $e, id: $id) {
    version refreshedAt modelSummary modelCitations { entity recordId field }
    facts { text score at source { entity recordId field } } } }";

/// A tenant with people and notes about them (a note has a team, for row rules).
async fn people(t: &TestTenant) -> (Names, Names) {
    let people = t.define_entity("person", "people", vec![field("name", "TEXT", json!({}))]).await;
    let notes = t
        .define_entity(
            "memo",
            "memos",
            vec![
                field("body", "TEXTAREA", json!({})),
                field("team", "SELECT", json!({"options": ["A", "B"]})),
                field("person", "RELATION", json!({"relatedEntity": "person"})),
            ],
        )
        .await;
    (people, notes)
}

/// The memory of `id` as `auth` sees it, once `done` holds of it.
async fn memory_when(t: &TestTenant, auth: &Auth, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    eventually(format!("the memory of {id}"), EFFECT_WAIT, async || {
        let r = t.api.graphql(auth, MEMORY, json!({"e": "person", "id": id})).await.data()["customerMemory"]
            .clone();
        if !r.is_null() && done(&r) { Ok(r) } else { Err(r) }
    })
    .await
}

/// The fact whose text is `text`, if shown.
fn fact<'a>(memory: &'a Value, text: &str) -> Option<&'a Value> {
    memory["facts"].as_array()?.iter().find(|f| f["text"] == text)
}

const GRADUATION: &str = "John mentioned his daughter's graduation on June 14";
const EMAIL: &str = "Sarah prefers email over phone calls since March";

#[tokio::test]
async fn facts_are_extracted_offline_cited_and_refreshed_after_a_new_note() {
    let t = tenant().await;
    let (people, notes) = people(&t).await;
    let john = t.create(&people, json!({"name": "John Smith"}), "").await;
    let id = str_of(&john["id"]);
    let first = t
        .create(
            &notes,
            json!({"body": format!("Called about the renewal. {GRADUATION}."), "person": id, "team": "A"}),
            "",
        )
        .await;
    t.create(
        &notes,
        json!({"body": "Left a voicemail for the office. Nothing else to add here.", "person": id}),
        "",
    )
    .await;
    let v1 = memory_when(&t, &t.auth(), &id, |m| {
        fact(m, GRADUATION).is_some() && m["facts"].as_array().is_some_and(|f| f.len() >= 3)
    })
    .await;
    let top = &v1["facts"][0];
    assert_eq!(top["text"], json!(GRADUATION), "the salient sentence ranks first: {v1}");
    assert_eq!(top["source"], json!({"entity": "memo", "recordId": first["id"], "field": "body"}));
    assert!(v1["modelSummary"].is_null(), "no provider, no summary");

    let version = v1["version"].as_i64().expect("a version");
    let later = t.create(&notes, json!({"body": format!("{EMAIL}."), "person": id}), "").await;
    let v2 = memory_when(&t, &t.auth(), &id, |m| fact(m, EMAIL).is_some()).await;
    assert!(v2["version"].as_i64().expect("a version") > version, "{v2}");
    assert_eq!(fact(&v2, EMAIL).expect("the new fact")["source"]["recordId"], later["id"]);
    assert!(fact(&v2, GRADUATION).is_some(), "the older fact stays: {v2}");

    // A deleted note's facts go at the next refresh.
    t.delete(&notes, &str_of(&later["id"])).await;
    memory_when(&t, &t.auth(), &id, |m| {
        fact(m, EMAIL).is_none() && m["version"].as_i64() > v2["version"].as_i64()
    })
    .await;
    // A record without notes has no memory yet.
    let alone = t.create(&people, json!({"name": "Nobody"}), "").await;
    let none = t.data(MEMORY, json!({"e": "person", "id": alone["id"]})).await;
    assert_eq!(none["customerMemory"], Value::Null);
}

const SON: &str = "Maria mentioned her son starts university in September";
const BUDGET: &str = "Omar said the budget decision is due on Friday";

#[tokio::test]
async fn a_member_sees_no_fact_from_a_note_outside_their_row_rule() {
    let t = tenant().await;
    let (people, notes) = people(&t).await;
    let maria = t.create(&people, json!({"name": "Maria"}), "").await;
    let id = str_of(&maria["id"]);
    t.create(&notes, json!({"body": format!("{SON}."), "person": id, "team": "A"}), "").await;
    t.create(&notes, json!({"body": format!("{BUDGET}."), "person": id, "team": "B"}), "").await;
    t.create_role("team_a", json!({"person": {"actions": ["read"]}, "memo": {"actions": ["read"], "where": {"team": {"eq": "A"}}}})).await;
    let member = t.invite_auth("team_a").await;

    let full = memory_when(&t, &t.auth(), &id, |m| fact(m, SON).is_some() && fact(m, BUDGET).is_some()).await;
    let seen =
        t.api.graphql(&member, MEMORY, json!({"e": "person", "id": id})).await.data()["customerMemory"]
            .clone();
    assert_eq!(seen["version"], full["version"]);
    assert!(fact(&seen, SON).is_some(), "{seen}");
    assert!(fact(&seen, BUDGET).is_none(), "a fact from a team B note reached a team A member: {seen}");
    // A role that cannot read notes at all sees no fact.
    t.create_role("people_only", json!({"person": {"actions": ["read"]}})).await;
    let outsider = t.invite_auth("people_only").await;
    let bare =
        t.api.graphql(&outsider, MEMORY, json!({"e": "person", "id": id})).await.data()["customerMemory"]
            .clone();
    assert_eq!(bare["facts"], json!([]), "{bare}");
}

fn summary(body: &Value) -> String {
    if sent_text(body).contains(SON) {
        "Maria's son starts university in September [1].".into()
    } else {
        "Nothing.".into()
    }
}

#[tokio::test]
async fn with_a_provider_the_model_summary_is_stored_with_its_citations() {
    let t = tenant().await;
    let (people, notes) = people(&t).await;
    let provider = FakeProvider::start(vec![200], summary).await;
    configure(&t, &provider, "openai", "sk-memory", (0.0, 0.0)).await;
    let maria = t.create(&people, json!({"name": "Maria"}), "").await;
    let id = str_of(&maria["id"]);
    let note = t.create(&notes, json!({"body": format!("{SON}."), "person": id, "team": "A"}), "").await;
    let m = memory_when(&t, &t.auth(), &id, |m| m["modelSummary"].is_string()).await;
    assert_eq!(m["modelSummary"], json!("Maria's son starts university in September [1]."));
    assert_eq!(m["modelCitations"], json!([{"entity": "memo", "recordId": note["id"], "field": "body"}]));
    assert!(provider.calls().iter().any(|c| sent_text(&c.body).contains(SON)), "the facts were sent");
    // The calls are the tenant's usage, under the memory feature.
    let usage = t.data("{ aiUsage { feature } }", json!({})).await;
    assert!(usage["aiUsage"].as_array().expect("usage").iter().any(|u| u["feature"] == "memory"), "{usage}");
    // A member who cannot read the note sees neither its fact nor the summary made from it.
    t.create_role("team_b", json!({"person": {"actions": ["read"]}, "memo": {"actions": ["read"], "where": {"team": {"eq": "B"}}}})).await;
    let member = t.invite_auth("team_b").await;
    let seen =
        t.api.graphql(&member, MEMORY, json!({"e": "person", "id": id})).await.data()["customerMemory"]
            .clone();
    assert_eq!(seen["facts"], json!([]));
    assert_eq!(seen["modelSummary"], Value::Null);
}

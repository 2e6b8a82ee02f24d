//! Daily Focus as time and rules move: the caller's time zone comes with their credential (a
//! `dailyFocus` with no rule reads nothing; an API key answers in its creator's zone);
//! `focusChanged` without a date rolls over at the caller's midnight (a dated one keeps its
//! day); new rules reach a subscriber through the 4205 reconnect every definition change asks
//! for.

use serde_json::{Value, json};

use crate::harness::*;
use crate::round_trips::round_trips;

const DAILY: &str =
    "query($d: Date) { dailyFocus(date: $d) { date timeZone items { title records { label } } } }";
const SET: &str =
    "mutation($r: ID, $rules: [FocusRuleInput!]!) { setFocusRules(role: $r, rules: $rules) { id } }";
const CHANGED: &str =
    "subscription($d: Date) { focusChanged(date: $d) { date items { title records { label } } } }";
const TO_KOLKATA: &str = "mutation { updateProfile(input: {timeZone: \"Asia/Kolkata\"}) { timeZone } }";

/// The titles of a `dailyFocus` or `focusChanged` list.
fn titles(list: &Value) -> Vec<String> {
    pluck_str(&list["items"], "title")
}

#[tokio::test]
async fn the_time_zone_comes_with_the_credential() {
    let t = tenant().await;
    t.data(TO_KOLKATA, json!({})).await;
    let owner = t.auth();
    let list = t.api.graphql(&owner, DAILY, json!({})).await.data();
    assert_eq!(list["dailyFocus"]["timeZone"], json!("Asia/Kolkata"), "{list}");
    // No rule: nothing to evaluate, and the caller's zone is read with their credential, not
    // from their user row on every call.
    let query = "{ dailyFocus { date timeZone items { title } } }";
    assert_eq!(round_trips(&t, &owner, query, json!({})).await, 0);

    // An API key acts for its creator: their day, in their zone.
    let key = t.api_key("owner").await;
    let by_key = t.api.graphql(&key, DAILY, json!({})).await.data();
    assert_eq!(by_key["dailyFocus"]["timeZone"], json!("Asia/Kolkata"), "{by_key}");
    // Back to the tenant's zone once the profile names none.
    t.data("mutation { updateProfile(input: {timeZone: null}) { timeZone } }", json!({})).await;
    let list = t.api.graphql(&owner, DAILY, json!({})).await.data();
    assert_eq!(list["dailyFocus"]["timeZone"], json!("UTC"), "{list}");
}

/// A tenant with `task`s due on a DATE and one rule for every role: the tasks due today.
async fn due_today_tenant() -> (TestTenant, Names) {
    let t = tenant().await;
    let fields = vec![field("title", "TEXT", json!({})), field("due", "DATE", json!({}))];
    let tasks = t.define_entity("task", "tasks", fields).await;
    let rules = json!([{
        "entity": "task", "title": "Do {count} {entity} due today", "filter": {"due": {"eq": "$today"}},
        "orderBy": [{"field": "TITLE", "direction": "ASC"}]
    }]);
    t.data(SET, json!({"r": null, "rules": rules})).await;
    (t, tasks)
}

#[tokio::test]
async fn focus_changed_without_a_date_rolls_over_at_the_callers_midnight() {
    let (t, tasks) = due_today_tenant().await;
    t.data(TO_KOLKATA, json!({})).await;
    for (title, due) in [("Tenth", "2030-03-10"), ("Eleventh", "2030-03-11")] {
        t.create(&tasks, json!({"title": title, "due": due}), "id").await;
    }
    // A minute before midnight in Kolkata (UTC+5:30, no daylight saving); in UTC, the
    // tenant's zone, the tenth either side of it.
    let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().expect("an instant");
    entity::runtime::time::pin(&t.tenant_id, Some(at("2030-03-10T18:29:00Z")));
    let today = t.data(DAILY, json!({})).await;
    assert_eq!(today["dailyFocus"]["date"], json!("2030-03-10"));
    assert_eq!(titles(&today["dailyFocus"]), strings(&["Do 1 Task due today"]));
    let mut following = t.subscribe(CHANGED, json!({})).await;
    let mut dated = t.subscribe(CHANGED, json!({"d": "2030-03-10"})).await;

    // Two minutes later it is the eleventh for the caller: the new day's list is pushed.
    entity::runtime::time::pin(&t.tenant_id, Some(at("2030-03-10T18:31:00Z")));
    let pushed = following.next_data_within("1", EFFECT_WAIT).await;
    let list = &pushed["focusChanged"];
    assert_eq!(list["date"], json!("2030-03-11"), "{pushed}");
    assert_eq!(titles(list), strings(&["Do 1 Task due today"]));
    assert_eq!(pluck_str(&list["items"][0]["records"], "label"), strings(&["Eleventh"]));
    // A subscription for a given day keeps it.
    dated.expect_silence(SILENCE).await;
    // The rolled-over subscription still hears the new day's changes.
    t.create(&tasks, json!({"title": "Also eleventh", "due": "2030-03-11"}), "id").await;
    let pushed = following.next_data_within("1", EFFECT_WAIT).await;
    let labels = pluck_str(&pushed["focusChanged"]["items"][0]["records"], "label");
    assert_eq!(labels, strings(&["Also eleventh", "Eleventh"]), "{pushed}");
    entity::runtime::time::pin(&t.tenant_id, None);
}

#[tokio::test]
async fn new_focus_rules_reach_a_subscriber_through_a_reconnect() {
    let (t, _) = due_today_tenant().await;
    let notes = t.define_entity("note", "notes", plain_fields(&[("text", "TEXT")])).await;
    let day = json!({"d": "2030-03-10"});
    let mut ws = t.subscribe(CHANGED, day.clone()).await;
    let owner_role = t.role_id("owner").await;
    let rules = json!([{"entity": "note", "title": "Read {count} notes"}]);
    t.data(SET, json!({"r": owner_role, "rules": rules})).await;
    // The rules are definitions: the socket is told to reconnect, as for any definition change.
    assert_eq!(ws.expect_close(TIMEOUT).await, Some(4205));

    // Subscribed again, it evaluates the new rules and listens to the entity they read.
    let mut ws = t.subscribe(CHANGED, day).await;
    t.create(&notes, json!({"text": "hello"}), "id").await;
    let pushed = ws.next_data_within("1", EFFECT_WAIT).await;
    assert_eq!(titles(&pushed["focusChanged"]), strings(&["Read 1 notes"]), "{pushed}");
    assert_eq!(pluck_str(&pushed["focusChanged"]["items"][0]["records"], "label"), strings(&["hello"]));
}

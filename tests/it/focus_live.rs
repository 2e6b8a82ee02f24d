//! Daily Focus as time, rules and templates move: the caller's time zone comes with their
//! credential (a `dailyFocus` with no rule reads nothing; an API key answers in its creator's
//! zone); `focusChanged` without a date rolls over at the caller's midnight (a dated one keeps
//! its day); new rules reach a subscriber through the 4205 reconnect every definition change
//! asks for; `upgradeTemplate` brings a template's new focus rules and keeps a role's rules
//! an administrator customised.

use serde_json::{Value, json};

use crate::harness::*;
use crate::round_trips::round_trips;
use crate::upgrades::{UPGRADE, write};

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

/// A small clinic template with focus rules; version 2 changes both roles' rules and adds one
/// for every role.
fn clinic(slug: &str, version: u32) -> Value {
    let v2 = version >= 2;
    let read = json!({"patient": {"actions": ["read"]}});
    let mut rules = vec![
        json!({"role": "nurse", "entity": "patient", "filter": {"status": {"eq": "Waiting"}},
               "title": if v2 { "Greet {count} waiting patients" } else { "See {count} waiting patients" }}),
        json!({"role": "doctor", "entity": "patient",
               "title": if v2 { "Examine {count} patients" } else { "Review {count} patients" }}),
    ];
    if v2 {
        rules.push(json!({"entity": "patient", "title": "Count {count} patients", "badge": "all"}));
    }
    json!({
        "slug": slug, "version": version, "name": {"en": "Focus clinic"}, "description": {"en": "for focus upgrades"},
        "entities": [{"nameSingular": "patient", "namePlural": "patients", "labelSingular": "Patient",
            "labelPlural": "Patients", "fields": [
                {"key": "full_name", "label": "Full name", "type": "TEXT"},
                {"key": "status", "label": "Status", "type": "SELECT", "options": ["Waiting", "Seen"]}]}],
        "roles": [{"name": "nurse", "permissions": read}, {"name": "doctor", "permissions": read}],
        "workflows": [], "dashboards": [],
        "focusRules": rules
    })
}

/// The titles of the rules a role's list is made from, sorted.
async fn rule_titles(t: &TestTenant, role: &str) -> Vec<String> {
    let id = t.role_id(role).await;
    let rules = t.data("query($r: ID) { focusRules(role: $r) { title } }", json!({"r": id})).await;
    sorted(pluck_str(&rules["focusRules"], "title"))
}

/// `kind name action` of each line of an upgrade's `changes` or `conflicts`.
fn lines(plan: &Value, part: &str) -> Vec<String> {
    let lines = plan[part].as_array().expect("lines").iter();
    sorted(
        lines
            .map(|c| format!("{} {} {}", str_of(&c["kind"]), str_of(&c["name"]), str_of(&c["action"])))
            .collect(),
    )
}

#[tokio::test]
async fn an_upgrade_brings_new_focus_rules_and_keeps_customised_ones() {
    let slug = format!("focus-clinic-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    write(&slug, &clinic(&slug, 1));
    let t = tenant().await;
    t.data("mutation($s: String!) { applyTemplate(slug: $s) { slug } }", json!({"s": slug})).await;
    assert_eq!(rule_titles(&t, "nurse").await, strings(&["See {count} waiting patients"]));
    // The administrator makes the doctor's list their own.
    let doctor = t.role_id("doctor").await;
    let own = json!([{"entity": "patient", "title": "My own {count} patients"}]);
    t.data(SET, json!({"r": doctor, "rules": own})).await;

    write(&slug, &clinic(&slug, 2));
    let dry = t.data(UPGRADE, json!({"s": slug, "d": true})).await["upgradeTemplate"].clone();
    assert_eq!(rule_titles(&t, "nurse").await, strings(&["See {count} waiting patients"]), "a dry run");
    let plan = t.data(UPGRADE, json!({"s": slug})).await["upgradeTemplate"].clone();
    for p in [&dry, &plan] {
        assert_eq!(lines(p, "changes"), strings(&["FOCUS_RULES * ADD", "FOCUS_RULES nurse UPDATE"]), "{p}");
        assert_eq!(lines(p, "conflicts"), strings(&["FOCUS_RULES doctor CONFLICT"]), "{p}");
    }
    assert_eq!(plan["applied"], json!(true));
    assert_eq!(
        rule_titles(&t, "nurse").await,
        strings(&["Count {count} patients", "Greet {count} waiting patients"])
    );
    assert_eq!(
        rule_titles(&t, "doctor").await,
        strings(&["Count {count} patients", "My own {count} patients"])
    );

    // A nurse's list is made from the new rules.
    let patients = Names::new("patient", "patients");
    t.create(&patients, json!({"fullName": "Asha", "status": "Waiting"}), "id").await;
    let nurse = t.invite_auth("nurse").await;
    let list = t.api.graphql(&nurse, DAILY, json!({})).await.data();
    assert_eq!(
        titles(&list["dailyFocus"]),
        strings(&["Greet 1 waiting patients", "Count 1 patients"]),
        "{list}"
    );
    // A version that leaves the rules as they were changes none (the doctor's stay theirs).
    let mut v3 = clinic(&slug, 2);
    v3["version"] = json!(3);
    write(&slug, &v3);
    let again = t.data(UPGRADE, json!({"s": slug})).await["upgradeTemplate"].clone();
    assert_eq!((lines(&again, "changes"), lines(&again, "conflicts")), (vec![], vec![]), "{again}");
    assert_eq!(
        rule_titles(&t, "doctor").await,
        strings(&["Count {count} patients", "My own {count} patients"])
    );
}

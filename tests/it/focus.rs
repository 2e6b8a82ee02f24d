//! Daily Focus through the public API: the corporate-CRM template's rules give a sales rep
//! and a sales manager different lists (the rep's counting only their own deals, their row
//! rule); the day is the caller's, in their time zone; a rule over a field the caller may not
//! read gives them no mission; `setFocusRules` checks its input (administrators only);
//! `focusChanged` pushes when a record enters a mission, and not for other entities, other
//! records or other tenants; one tenant's rules and records never reach another's list.

use serde_json::{Value, json};

use crate::harness::*;

const DAILY: &str = "query($d: Date) { dailyFocus(date: $d) { date timeZone items { rule position title badge count entity filter records { id label } } } }";
const SET: &str = "mutation($r: ID, $rules: [FocusRuleInput!]!) { setFocusRules(role: $r, rules: $rules) { id role position entity title badge limit } }";
const CHANGED: &str =
    "subscription($d: Date) { focusChanged(date: $d) { date items { title count records { label } } } }";

/// The day the CRM tests ask about: their deals' close dates are set around it.
const DAY: &str = "2030-01-15";

/// (title, badge, count) of each item of a `dailyFocus` answer.
fn missions(data: &Value) -> Vec<(String, Option<String>, i64)> {
    data["dailyFocus"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (str_of(&i["title"]), i["badge"].as_str().map(str::to_owned), i["count"].as_i64().expect("count"))
        })
        .collect()
}

fn m(title: &str, badge: Option<&str>, count: i64) -> (String, Option<String>, i64) {
    (title.to_owned(), badge.map(str::to_owned), count)
}

async fn daily(t: &TestTenant, auth: &Auth, date: Option<&str>) -> Value {
    t.api.graphql(auth, DAILY, json!({"d": date})).await.data()
}

async fn create(t: &TestTenant, auth: &Auth, mutation: &str, input: Value) -> String {
    let q = format!(
        "mutation($i: Create{}Input!) {{ create{}(input: $i) {{ id }} }}",
        pascal(mutation),
        pascal(mutation)
    );
    let data = t.api.graphql(auth, &q, json!({"i": input})).await.data();
    str_of(&data[format!("create{}", pascal(mutation))]["id"])
}

#[tokio::test]
async fn the_corporate_crm_template_gives_a_rep_and_a_manager_their_own_lists() {
    let t = tenant().await;
    t.data("mutation { applyTemplate(slug: \"corporate-crm\") { slug } }", json!({})).await;
    let rep = t.invite_auth("sales_rep").await;
    let manager = t.invite_auth("sales_manager").await;
    let owner = t.auth();
    for (name, value, status) in [
        ("Asha", "90000", "New"),
        ("Bilal", "60000", "Contacted"),
        ("Chen", "75000", "New"),
        ("Dara", "1000", "New"),
        ("Eve", "80000", "Qualified"),
    ] {
        create(&t, &owner, "lead", json!({"fullName": name, "estimatedValue": value, "status": status}))
            .await;
    }
    // Two overdue proposals of the rep's own, one of someone else's, one closing this week.
    for title in ["Rep proposal 1", "Rep proposal 2"] {
        create(
            &t,
            &rep,
            "deal",
            json!({"title": title, "stage": "Proposal", "expectedClose": "2030-01-01", "amount": "500"}),
        )
        .await;
    }
    create(&t, &owner, "deal", json!({"title": "Owner proposal", "stage": "Negotiation", "expectedClose": "2030-01-10", "amount": "900"}))
        .await;
    create(&t, &owner, "deal", json!({"title": "Closing soon", "stage": "Negotiation", "expectedClose": "2030-01-18", "amount": "700"}))
        .await;
    create(
        &t,
        &owner,
        "deal",
        json!({"title": "Won long ago", "stage": "Closed Won", "expectedClose": "2029-01-01"}),
    )
    .await;
    create(&t, &owner, "quote", json!({"title": "Draft for Asha", "status": "Draft", "total": "100"})).await;

    let rep_list = daily(&t, &rep, Some(DAY)).await;
    assert_eq!(
        missions(&rep_list),
        vec![m("Call 3 high-value leads", None, 3), m("Follow up on 2 proposals", Some("overdue"), 2)],
        "{rep_list}"
    );
    // Each item links its records in the rule's order (estimated value, highest first), and
    // says how to list them all.
    let calls = &rep_list["dailyFocus"]["items"][0];
    assert_eq!(pluck_str(&calls["records"], "label"), strings(&["Asha", "Chen", "Bilal"]));
    assert_eq!(calls["entity"], json!("lead"));
    let all = t
        .api
        .graphql(
            &rep,
            "query($f: LeadFilter) { leads(filter: $f) { totalCount } }",
            json!({"f": calls["filter"]}),
        )
        .await
        .data();
    assert_eq!(all["leads"]["totalCount"], json!(3));
    // The rep's row rule (their own deals) holds: the owner's overdue deal is not counted.
    let proposals = &rep_list["dailyFocus"]["items"][1];
    assert_eq!(
        sorted(pluck_str(&proposals["records"], "label")),
        strings(&["Rep proposal 1", "Rep proposal 2"])
    );
    assert_eq!(proposals["filter"]["expectedClose"], json!({"lt": DAY}));

    let manager_list = daily(&t, &manager, Some(DAY)).await;
    assert_eq!(
        missions(&manager_list),
        vec![
            m("Review 1 deals closing this week", None, 1),
            m("Chase 3 stalled deals", Some("overdue"), 3),
            m("Review 1 draft quotes", Some("pending"), 1),
            m("Assign 3 new leads", None, 3),
        ],
        "{manager_list}"
    );
    let stalled = &manager_list["dailyFocus"]["items"][1];
    assert_eq!(pluck_str(&stalled["records"], "label")[0], "Owner proposal", "highest amount first");

    // Each role reads the rules its list is made from; only administrators read another's.
    let rules = t.api.graphql(&rep, "{ focusRules { entity title role } }", json!({})).await.data();
    assert_eq!(rules["focusRules"].as_array().expect("rules").len(), 3, "{rules}");
    let manager_role = t.role_id("sales_manager").await;
    let other = t
        .api
        .graphql(&rep, "query($r: ID) { focusRules(role: $r) { id } }", json!({"r": manager_role}))
        .await;
    other.expect_code("FORBIDDEN");
    let as_owner =
        t.data("query($r: ID) { focusRules(role: $r) { title } }", json!({"r": manager_role})).await;
    assert_eq!(as_owner["focusRules"].as_array().expect("rules").len(), 4);
}

/// Defines `task`: a title, a DATETIME it is due at, a status and a score.
async fn define_tasks(t: &TestTenant) -> Names {
    let fields = vec![
        field("title", "TEXT", json!({})),
        field("due_at", "DATETIME", json!({})),
        field("status", "SELECT", json!({"options": ["Open", "Done"]})),
        field("secret_score", "NUMBER", json!({})),
    ];
    t.define_entity("task", "tasks", fields).await
}

/// A tenant with `task`s, and one rule for every role: the open tasks due today.
async fn task_tenant() -> (TestTenant, Names) {
    let t = tenant().await;
    let tasks = define_tasks(&t).await;
    let rules = json!([{
        "entity": "task",
        "title": "Finish {count} {entity} due today",
        "filter": {"dueAt": {"gte": "$startOfDay", "lt": "$startOfDay+1"}, "status": {"eq": "Open"}},
        "orderBy": [{"field": "DUE_AT", "direction": "ASC"}],
        "limit": 3
    }]);
    let set = t.data(SET, json!({"r": null, "rules": rules})).await;
    assert_eq!(set["setFocusRules"][0]["role"], Value::Null);
    (t, tasks)
}

#[tokio::test]
async fn the_day_is_the_callers_in_their_time_zone() {
    let (t, tasks) = task_tenant().await;
    // 20:00 UTC on the 10th is the 11th in Kolkata (UTC+5:30); 20:00 UTC on the 9th is the 10th there.
    t.create(
        &tasks,
        json!({"title": "Late on the tenth", "dueAt": "2030-03-10T20:00:00Z", "status": "Open"}),
        "id",
    )
    .await;
    t.create(
        &tasks,
        json!({"title": "Late on the ninth", "dueAt": "2030-03-09T20:00:00Z", "status": "Open"}),
        "id",
    )
    .await;
    t.create(
        &tasks,
        json!({"title": "Done already", "dueAt": "2030-03-10T10:00:00Z", "status": "Done"}),
        "id",
    )
    .await;
    let owner = t.auth();

    let utc = daily(&t, &owner, Some("2030-03-10")).await;
    assert_eq!(utc["dailyFocus"]["timeZone"], json!("UTC"));
    assert_eq!(missions(&utc), vec![m("Finish 1 Task due today", None, 1)]);
    assert_eq!(
        pluck_str(&utc["dailyFocus"]["items"][0]["records"], "label"),
        strings(&["Late on the tenth"])
    );

    t.data("mutation { updateProfile(input: {timeZone: \"Asia/Kolkata\"}) { timeZone } }", json!({})).await;
    let kolkata = daily(&t, &owner, Some("2030-03-10")).await;
    assert_eq!(kolkata["dailyFocus"]["timeZone"], json!("Asia/Kolkata"));
    assert_eq!(
        pluck_str(&kolkata["dailyFocus"]["items"][0]["records"], "label"),
        strings(&["Late on the ninth"])
    );
    assert_eq!(
        kolkata["dailyFocus"]["items"][0]["filter"]["dueAt"],
        json!({"gte": "2030-03-09T18:30:00.000Z", "lt": "2030-03-10T18:30:00.000Z"})
    );

    // Without a date: today in Kolkata (no daylight saving there: UTC+5:30 all year).
    let ist = || (chrono::Utc::now() + chrono::Duration::minutes(330)).date_naive().to_string();
    let before = ist();
    let today = daily(&t, &owner, None).await;
    let after = ist();
    let date = str_of(&today["dailyFocus"]["date"]);
    assert!(date == before || date == after, "today in Kolkata is {before}/{after}, not {date}");
    assert_eq!(missions(&today), vec![], "nothing is due today");
}

#[tokio::test]
async fn a_rule_over_what_the_caller_cannot_read_gives_them_no_mission() {
    let (t, tasks) = task_tenant().await;
    let hidden = json!([{
        "entity": "task", "title": "Score {count} tasks", "filter": {"secretScore": {"gt": 5}}
    }, {
        "entity": "task", "title": "Sort {count} tasks", "orderBy": [{"field": "SECRET_SCORE"}], "position": 7
    }]);
    t.data(SET, json!({"r": null, "rules": hidden})).await;
    let role = t
        .create_role(
            "scorer_blind",
            json!({"task": {"actions": ["read"], "fields": {"secret_score": "none"}, "where": {"status": {"eq": "Open"}}}}),
        )
        .await;
    for (title, score, status) in [("a", 9, "Open"), ("b", 7, "Done"), ("c", 1, "Open")] {
        t.create(&tasks, json!({"title": title, "secretScore": score, "status": status}), "id").await;
    }
    let blind = t.invite_auth("scorer_blind").await;
    assert_eq!(
        missions(&daily(&t, &t.auth(), None).await),
        vec![m("Score 2 tasks", None, 2), m("Sort 3 tasks", None, 3)]
    );
    assert_eq!(missions(&daily(&t, &blind, None).await), vec![], "hidden field: no mission for role {role}");

    // Someone who reads no task is not even shown the rules over tasks.
    t.create_role("outsider", json!({})).await;
    let outsider = t.invite_auth("outsider").await;
    let theirs = t.api.graphql(&outsider, "{ focusRules { id } }", json!({})).await.data();
    assert_eq!(theirs["focusRules"], json!([]));
    assert_eq!(
        t.data("{ focusRules { id } }", json!({})).await["focusRules"].as_array().map(Vec::len),
        Some(2)
    );

    // A rule on a visible field counts only what the row rule lets the caller see.
    let open = json!([{"entity": "task", "title": "Look at {count} tasks"}]);
    t.data(SET, json!({"r": role, "rules": open})).await;
    assert_eq!(missions(&daily(&t, &blind, None).await), vec![m("Look at 2 tasks", None, 2)]);
}

#[tokio::test]
async fn set_focus_rules_checks_its_input_and_is_for_administrators() {
    let (t, _) = task_tenant().await;
    let bad = json!([
        {"entity": "nope", "title": "x"},
        {"entity": "task", "title": "x", "filter": {"nope": {"eq": 1}}},
        {"entity": "task", "title": "x", "filter": {"dueAt": {"lt": "$tody"}}},
        {"entity": "task", "title": "x", "orderBy": [{"field": "NOPE"}]},
        {"entity": "task", "title": "x", "limit": 0},
        {"entity": "task", "title": "Call {n} tasks"},
        {"entity": "task", "title": "x", "badge": ""}
    ]);
    t.request(SET, json!({"r": null, "rules": bad})).await.expect_field_errors(&[
        "rules[0].entity",
        "rules[1].filter.nope",
        "rules[2].filter",
        "rules[3].orderBy",
        "rules[4].limit",
        "rules[5].title",
        "rules[6].badge",
    ]);
    // Nothing was stored: the earlier rule stands.
    let rules = t.data("{ focusRules { title } }", json!({})).await;
    assert_eq!(pluck_str(&rules["focusRules"], "title"), strings(&["Finish {count} {entity} due today"]));

    let missing = json!({"r": "00000000-0000-0000-0000-000000000001", "rules": []});
    t.request(SET, missing).await.expect_code("NOT_FOUND");
    let member = t.invite_auth("member").await;
    // The member's schema has neither the mutation nor its input type.
    let set = "mutation { setFocusRules(rules: []) { id } }";
    t.api.graphql(&member, set, json!({})).await.expect_code("FORBIDDEN");
    // An empty list removes a role's rules.
    t.data(SET, json!({"r": null, "rules": []})).await;
    assert_eq!(t.data("{ focusRules { id } }", json!({})).await["focusRules"], json!([]));
}

#[tokio::test]
async fn focus_changed_pushes_when_a_mission_changes_and_only_then() {
    let (t, tasks) = task_tenant().await;
    let notes = t.define_entity("note", "notes", plain_fields(&[("text", "TEXT")])).await;
    let other = tenant().await;
    let other_tasks = define_tasks(&other).await;
    let day = "2030-03-10";
    let mut ws = t.subscribe(CHANGED, json!({"d": day})).await;

    // Another entity, another tenant, a task of another day: the list does not change.
    t.create(&notes, json!({"text": "unrelated"}), "id").await;
    other
        .create(
            &other_tasks,
            json!({"title": "Theirs", "dueAt": "2030-03-10T09:00:00Z", "status": "Open"}),
            "id",
        )
        .await;
    t.create(&tasks, json!({"title": "Tomorrow", "dueAt": "2030-03-11T09:00:00Z", "status": "Open"}), "id")
        .await;
    // A task due that day enters the mission: the first push is that list.
    let id = str_of(
        &t.create(&tasks, json!({"title": "Today", "dueAt": "2030-03-10T09:00:00Z", "status": "Open"}), "id")
            .await["id"],
    );
    let pushed = ws.next_data_within("1", EFFECT_WAIT).await;
    let items = &pushed["focusChanged"]["items"];
    assert_eq!(pushed["focusChanged"]["date"], json!(day));
    assert_eq!(items[0]["title"], json!("Finish 1 Task due today"), "{pushed}");
    assert_eq!(pluck_str(&items[0]["records"], "label"), strings(&["Today"]));

    // Done: it leaves the mission, and the list (now empty) is pushed.
    t.update(&tasks, &id, json!({"status": "Done"}), "id").await;
    let pushed = ws.next_data_within("1", EFFECT_WAIT).await;
    assert_eq!(pushed["focusChanged"]["items"], json!([]), "{pushed}");
    ws.expect_silence(SILENCE).await;
}

#[tokio::test]
async fn one_tenants_rules_and_records_stay_its_own() {
    let (a, a_tasks) = task_tenant().await;
    let (b, b_tasks) = task_tenant().await;
    b.data(SET, json!({"r": null, "rules": [{"entity": "task", "title": "B's {count}"}]})).await;
    b.create(&b_tasks, json!({"title": "B1", "dueAt": "2030-03-10T09:00:00Z", "status": "Open"}), "id").await;
    a.create(&a_tasks, json!({"title": "A1", "dueAt": "2030-03-10T09:00:00Z", "status": "Open"}), "id").await;
    let a_list = daily(&a, &a.auth(), Some("2030-03-10")).await;
    assert_eq!(missions(&a_list), vec![m("Finish 1 Task due today", None, 1)]);
    assert_eq!(pluck_str(&a_list["dailyFocus"]["items"][0]["records"], "label"), strings(&["A1"]));
    let b_list = daily(&b, &b.auth(), Some("2030-03-10")).await;
    assert_eq!(missions(&b_list), vec![m("B's 1", None, 1)]);
    // B's rule id is nobody's in A.
    let b_rule = str_of(&b_list["dailyFocus"]["items"][0]["rule"]);
    let a_rules = a.data("{ focusRules { id } }", json!({})).await;
    assert!(!pluck_str(&a_rules["focusRules"], "id").contains(&b_rule));
}

#[tokio::test]
async fn the_hr_and_support_templates_ship_rules_for_their_roles() {
    for (slug, roles) in
        [("hr", ["manager", "hr_manager"]), ("support", ["support_agent", "support_manager"])]
    {
        let t = tenant().await;
        t.data("mutation($s: String!) { applyTemplate(slug: $s) { slug } }", json!({"s": slug})).await;
        for role in roles {
            let id = t.role_id(role).await;
            let rules =
                t.data("query($r: ID) { focusRules(role: $r) { role title } }", json!({"r": id})).await;
            let rules = rules["focusRules"].as_array().expect("rules").clone();
            assert_eq!(rules.len(), 1, "{slug}: {role} has {rules:?}");
            assert_eq!(rules[0]["role"], json!(id));
        }
        // A caller of such a role gets their list (nothing to do yet in an empty tenant).
        let caller = t.invite_auth(roles[0]).await;
        assert_eq!(missions(&daily(&t, &caller, None).await), vec![], "{slug}");
    }
}

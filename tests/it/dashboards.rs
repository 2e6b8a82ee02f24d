//! Dashboards through the public API: created, updated and deleted by administrators (and
//! audited), refused field by field when a widget names what does not exist, shown only to the
//! roles they list, and computed in the tenant's time zone — "today" on a DATE_TIME field counts
//! the records of the local day, not the UTC one.

use chrono::{Duration, FixedOffset, Utc};
use serde_json::{Value, json};

use crate::harness::*;

const BOARD: &str = "id key name roles widgets { index type entity title data }";

#[tokio::test]
async fn dashboards_are_managed_shown_by_role_and_count_in_the_tenant_zone() {
    let t = tenant().await;
    // Tokyo: UTC+9 all year, so "today" here starts at 15:00 UTC the day before.
    t.data("mutation { updateTenant(input: {timeZone: \"Asia/Tokyo\"}) { timeZone } }", json!({})).await;
    t.define(entity(
        "ticket",
        "tickets",
        vec![
            field("subject", "TEXT", json!({"required": true})),
            field("priority", "SELECT", json!({"options": ["Low", "High"]})),
            field("opened_at", "DATETIME", json!({})),
            field("cost", "CURRENCY", json!({})),
        ],
        json!({}),
    ))
    .await;
    let tickets = Names::new("ticket", "tickets");
    let tokyo = FixedOffset::east_opt(9 * 3600).expect("offset");
    let local_midnight =
        Utc::now().with_timezone(&tokyo).date_naive().and_hms_opt(0, 0, 0).expect("midnight");
    let start = local_midnight.and_local_timezone(tokyo).single().expect("start").with_timezone(&Utc);
    let stamp = |d: chrono::DateTime<Utc>| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for (subject, priority, at, cost) in [
        ("just after local midnight", "High", start + Duration::minutes(5), "10.10"),
        ("later today", "Low", start + Duration::hours(5), "5.05"),
        ("just before local midnight", "High", start - Duration::minutes(5), "100.00"),
        ("last week", "Low", start - Duration::days(8), "1.00"),
    ] {
        t.create(
            &tickets,
            json!({"subject": subject, "priority": priority, "openedAt": stamp(at), "cost": cost}),
            "",
        )
        .await;
    }
    let widgets = json!([
        {"type": "metric", "title": {"en": "Opened today", "hi": "आज"}, "entity": "ticket", "function": "count",
         "period": "today", "dateField": "opened_at"},
        {"type": "metric", "title": {"en": "Cost today"}, "entity": "ticket", "function": "sum", "field": "cost",
         "period": "today", "dateField": "opened_at"},
        {"type": "chart", "title": {"en": "By priority"}, "entity": "ticket", "groupBy": "priority"},
        {"type": "chart", "title": {"en": "By day"}, "entity": "ticket", "dateField": "opened_at", "bucket": "day"},
        {"type": "recent", "title": {"en": "Latest"}, "entity": "ticket", "limit": 2, "fields": ["subject"]}
    ]);
    let create = format!("mutation($i: DashboardInput!) {{ createDashboard(input: $i) {{ {BOARD} }} }}");
    let made = t
        .data(&create, json!({"i": {"key": "support", "name": {"en": "Support", "hi": "सहायता"}, "roles": ["admin"], "widgets": widgets}}))
        .await["createDashboard"]
        .clone();
    let data = |i: usize| made["widgets"][i]["data"].clone();
    assert_eq!(data(0), json!({"value": 2}), "two tickets opened since local midnight");
    assert_eq!(data(1), json!({"value": "15.15"}));
    assert_eq!(data(2), json!({"series": [{"key": "High", "value": 2}, {"key": "Low", "value": 2}]}));
    let today = Utc::now().with_timezone(&tokyo).date_naive();
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    assert_eq!(
        data(3)["series"],
        json!([{"key": day(today - Duration::days(8)), "value": 1}, {"key": day(today - Duration::days(1)), "value": 1}, {"key": day(today), "value": 2}])
    );
    assert_eq!(data(4)["records"].as_array().map(Vec::len), Some(2));
    let id = str_of(&made["id"]);
    // Bad widgets: one error per bad part.
    let bad = json!({"key": "bad", "name": {"en": "Bad"}, "widgets": [
        {"type": "metric", "title": {"en": "x"}, "entity": "nope", "function": "count"},
        {"type": "metric", "title": {"en": "x"}, "entity": "ticket", "function": "sum", "field": "subject"}]});
    t.request(&create, json!({"i": bad}))
        .await
        .expect_field_errors(&["widgets[0].entity", "widgets[1].field"]);
    t.request(&create, json!({"i": {"key": "support", "name": {"en": "Again"}, "widgets": []}}))
        .await
        .expect_code("CONFLICT");
    // A member does not see an admins-only dashboard; once it lists `member`, they do.
    let member = Auth::Bearer(str_of(&t.invite("member").await["accessToken"]));
    let seen = |auth: Auth| {
        let t = &t;
        async move { t.api.graphql(&auth, "{ dashboards { key } }", json!({})).await.data()["dashboards"].clone() }
    };
    assert_eq!(seen(member.clone()).await, json!([]));
    let update = format!(
        "mutation($id: ID!, $i: DashboardInput!) {{ updateDashboard(id: $id, input: $i) {{ {BOARD} }} }}"
    );
    let changed = t
        .data(&update, json!({"id": id, "i": {"key": "support", "name": {"en": "Support desk"}, "roles": ["admin", "member"],
                                              "widgets": [widgets[2].clone()]}}))
        .await["updateDashboard"]
        .clone();
    assert_eq!(
        (changed["name"].clone(), changed["widgets"].as_array().map(Vec::len)),
        (json!("Support desk"), Some(1))
    );
    assert_eq!(seen(member.clone()).await, json!([{"key": "support"}]));
    // Members cannot manage dashboards.
    let r =
        t.api.graphql(&member, "mutation($id: ID!) { deleteDashboard(id: $id) }", json!({"id": id})).await;
    assert!(!r.errors().is_empty());
    assert_eq!(
        t.data("mutation($id: ID!) { deleteDashboard(id: $id) }", json!({"id": id})).await["deleteDashboard"],
        json!(true)
    );
    t.request("mutation($id: ID!) { deleteDashboard(id: $id) }", json!({"id": id}))
        .await
        .expect_code("NOT_FOUND");
    let audit = t.data("{ auditLog(first: 100) { edges { node { action } } } }", json!({})).await;
    let actions: Vec<Value> = audit["auditLog"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["action"].clone())
        .collect();
    for a in ["dashboard.create", "dashboard.update", "dashboard.delete", "tenant.update"] {
        assert!(actions.contains(&json!(a)), "{a} missing");
    }
}

#[tokio::test]
async fn a_recent_widget_lists_what_its_filter_keeps_in_its_order_and_refuses_unknown_names() {
    let t = tenant().await;
    t.define(entity(
        "chore",
        "chores",
        vec![
            field("subject", "TEXT", json!({"required": true})),
            field("done", "BOOLEAN", json!({})),
            field("due_at", "DATETIME", json!({})),
        ],
        json!({}),
    ))
    .await;
    let chores = Names::new("chore", "chores");
    let at =
        |days: i64| (Utc::now() + Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for (subject, done, due) in [
        ("done tomorrow", true, Some(at(1))),
        ("open in three days", false, Some(at(3))),
        ("open tomorrow", false, Some(at(1))),
        ("done yesterday", true, Some(at(-1))),
        ("open, no date", false, None),
    ] {
        t.create(&chores, json!({"subject": subject, "done": done, "dueAt": due}), "").await;
    }
    let open = json!({"done": {"eq": false}});
    let widgets = json!([
        {"type": "recent", "title": {"en": "Next"}, "entity": "chore", "fields": ["subject", "done"],
         "filter": open, "orderBy": {"field": "due_at", "direction": "asc"}},
        {"type": "recent", "title": {"en": "Latest open"}, "entity": "chore", "fields": ["subject"], "filter": open}
    ]);
    let create = format!("mutation($i: DashboardInput!) {{ createDashboard(input: $i) {{ {BOARD} }} }}");
    let made =
        t.data(&create, json!({"i": {"key": "chores", "name": {"en": "Chores"}, "widgets": widgets}})).await;
    let subjects = |i: usize| pluck_str(&made["createDashboard"]["widgets"][i]["data"]["records"], "subject");
    // Soonest due first, undated last; without an order, the same open ones, newest first.
    assert_eq!(subjects(0), ["open tomorrow", "open in three days", "open, no date"]);
    let mut latest = subjects(1);
    latest.sort();
    assert_eq!(latest, ["open in three days", "open tomorrow", "open, no date"]);
    let bad = json!({"key": "bad", "name": {"en": "Bad"}, "widgets": [
        {"type": "recent", "title": {"en": "x"}, "entity": "chore", "filter": {"nope": {"eq": 1}}},
        {"type": "recent", "title": {"en": "x"}, "entity": "chore", "orderBy": {"field": "nope"}},
        {"type": "metric", "title": {"en": "x"}, "entity": "chore", "function": "count", "filter": {"done": {"eq": "soon"}}}]});
    t.request(&create, json!({"i": bad})).await.expect_field_errors(&[
        "widgets[0].filter.nope",
        "widgets[1].orderBy.field",
        "widgets[2].filter.done.eq",
    ]);
}

//! `dashboardChanged(id)`: a dashboard is pushed again when records under its widgets change,
//! with widget data computed for each subscriber (a row rule shows in its figures); a burst of
//! changes is pushed once; a role the dashboard does not list, and another tenant, cannot
//! subscribe to it.

use serde_json::{Value, json};

use crate::harness::*;

const CHANGED: &str = "subscription($id: ID!) { dashboardChanged(id: $id) { id widgets { title data } } }";

/// The count the next push shows.
async fn next_count(ws: &mut Ws) -> Value {
    let board = ws.next_data_within("1", EFFECT_WAIT).await["dashboardChanged"].clone();
    board["widgets"][0]["data"]["value"].clone()
}

#[tokio::test]
async fn dashboards_are_pushed_with_each_subscribers_figures() {
    let t = tenant().await;
    let other = tenant().await;
    let fields = vec![
        field("title", "TEXT", json!({})),
        field("queue", "SELECT", json!({"options": ["Front", "Back"]})),
    ];
    t.define_entity("ticket", "tickets", fields).await;
    t.create_role("frontdesk", json!({"ticket": {"actions": ["read"], "where": {"queue": {"eq": "Front"}}}}))
        .await;
    let widgets =
        json!([{"type": "metric", "title": {"en": "Tickets"}, "entity": "ticket", "function": "count"}]);
    let board = t
        .data(
            "mutation($i: DashboardInput!) { createDashboard(input: $i) { id } }",
            json!({"i": {"key": "desk", "name": {"en": "Desk"}, "roles": ["admin", "frontdesk"], "widgets": widgets}}),
        )
        .await["createDashboard"]["id"]
        .clone();
    let vars = json!({"id": board});
    let member = t.invite_auth("member").await;
    t.subscribe_as(&member, CHANGED, vars.clone()).await.expect_refused("1", "NOT_FOUND").await;
    other.subscribe(CHANGED, vars.clone()).await.expect_refused("1", "NOT_FOUND").await;
    let desk = t.invite_auth("frontdesk").await;
    let mut admin = t.subscribe(CHANGED, vars.clone()).await;
    let mut front = t.subscribe_as(&desk, CHANGED, vars).await;

    // Three writes in one request: a burst, pushed fewer times than it has changes.
    let create = |title: &str, queue: &str| {
        format!("{title}: createTicket(input: {{title: \"{title}\", queue: \"{queue}\"}}) {{ id }}")
    };
    let burst =
        format!("mutation {{ {} {} {} }}", create("a", "Front"), create("b", "Front"), create("c", "Back"));
    t.data(&burst, json!({})).await;
    let mut pushes = 0;
    while next_count(&mut admin).await != json!(3) {
        pushes += 1;
    }
    assert!(pushes < 2, "three changes in one request came as {} pushes", pushes + 1);
    // The desk's figures under its row rule: the Back ticket is not counted.
    while next_count(&mut front).await != json!(2) {}

    // More of both: the desk's figure counts the Front tickets only (3 of 5).
    t.data(&format!("mutation {{ {} }}", create("d", "Back")), json!({})).await;
    t.data(&format!("mutation {{ {} }}", create("e", "Front")), json!({})).await;
    while next_count(&mut admin).await != json!(5) {}
    loop {
        let count = next_count(&mut front).await;
        assert!(count == json!(2) || count == json!(3), "the desk sees {count}");
        if count == json!(3) {
            break;
        }
    }
}

//! A live list stays right: an update that moves a record out of what a subscriber's filter or
//! row rule matches arrives as `LEFT` (the record as the subscriber last saw it, never its new
//! values), one that moves it in as `ENTERED` — for a `filter` argument, a role's `where`, and
//! an ownership rule (`$currentUser`) that a change of owner crosses.

use serde_json::{Value, json};

use crate::harness::*;

const CHANGED: &str = "subscription($f: TicketFilter) { ticketChanged(filter: $f) {
    kind changedFields record { id title queue } } }";

/// A tenant with tickets (a required `title`, a `queue`: Front or Back).
async fn tickets() -> (TestTenant, Names) {
    let t = tenant().await;
    let fields = vec![
        field("title", "TEXT", json!({"required": true})),
        field("queue", "SELECT", json!({"options": ["Front", "Back"]})),
    ];
    let names = t.define_entity("ticket", "tickets", fields).await;
    (t, names)
}

/// The next `ticketChanged` event of `"1"`: (kind, record).
async fn next(ws: &mut Ws) -> (String, Value) {
    let event = ws.next_data("1").await["ticketChanged"].clone();
    (str_of(&event["kind"]), event["record"].clone())
}

#[tokio::test]
async fn a_record_leaves_and_enters_a_filtered_list() {
    let (t, tickets) = tickets().await;
    let mut ws = t.subscribe(CHANGED, json!({"f": {"queue": {"eq": "Front"}}})).await;
    let id = str_of(&t.create(&tickets, json!({"title": "Printer", "queue": "Front"}), "").await["id"]);
    assert_eq!(next(&mut ws).await.0, "CREATED");

    t.update(&tickets, &id, json!({"title": "Printer jam", "queue": "Back"}), "").await;
    let (kind, record) = next(&mut ws).await;
    assert_eq!(kind, "LEFT");
    assert_eq!(record, json!({"id": id, "title": "Printer", "queue": "Front"}), "as last seen");

    // Changes outside the list are not news to it: the next event is the move back in.
    t.update(&tickets, &id, json!({"title": "Printer on fire"}), "").await;
    t.update(&tickets, &id, json!({"queue": "Front"}), "").await;
    let (kind, record) = next(&mut ws).await;
    assert_eq!(kind, "ENTERED");
    assert_eq!(record, json!({"id": id, "title": "Printer on fire", "queue": "Front"}));

    t.update(&tickets, &id, json!({"title": "Fixed"}), "").await;
    assert_eq!(
        next(&mut ws).await,
        ("UPDATED".to_owned(), json!({"id": id, "title": "Fixed", "queue": "Front"}))
    );
}

#[tokio::test]
async fn a_record_leaves_and_enters_what_a_row_rule_shows() {
    let (t, tickets) = tickets().await;
    t.create_role("frontdesk", json!({"ticket": {"actions": ["read"], "where": {"queue": {"eq": "Front"}}}}))
        .await;
    let desk = t.invite_auth("frontdesk").await;
    let mut ws = t.subscribe_as(&desk, CHANGED, json!({})).await;
    let id = str_of(&t.create(&tickets, json!({"title": "Badge", "queue": "Front"}), "").await["id"]);
    assert_eq!(next(&mut ws).await.0, "CREATED");

    // Out of the rule: LEFT, without the values the desk may no longer see.
    t.update(&tickets, &id, json!({"title": "Badge (secret)", "queue": "Back"}), "").await;
    let (kind, record) = next(&mut ws).await;
    assert_eq!(kind, "LEFT");
    assert_eq!(record, json!({"id": id, "title": "Badge", "queue": "Front"}));

    // A change the desk cannot see, then a sentinel it can: only the sentinel arrives.
    t.update(&tickets, &id, json!({"title": "Badge (still secret)"}), "").await;
    let sentinel =
        str_of(&t.create(&tickets, json!({"title": "Sentinel", "queue": "Front"}), "").await["id"]);
    let (kind, record) = next(&mut ws).await;
    assert_eq!((kind.as_str(), &record["id"]), ("CREATED", &json!(sentinel)));

    t.update(&tickets, &id, json!({"queue": "Front"}), "").await;
    let (kind, record) = next(&mut ws).await;
    assert_eq!(kind, "ENTERED");
    assert_eq!(record, json!({"id": id, "title": "Badge (still secret)", "queue": "Front"}));
}

#[tokio::test]
async fn a_change_of_owner_moves_a_record_in_and_out_of_an_own_rule() {
    let (t, tickets) = tickets().await;
    t.create_role(
        "mine",
        json!({"ticket": {"actions": ["read"], "where": {"owner": {"eq": "$currentUser"}}}}),
    )
    .await;
    let payload = t.invite("mine").await;
    let (auth, user) = (Auth::Bearer(str_of(&payload["accessToken"])), str_of(&payload["user"]["id"]));
    let mut ws = t.subscribe_as(&auth, CHANGED, json!({})).await;
    let id = str_of(&t.create(&tickets, json!({"title": "Laptop"}), "").await["id"]);

    t.update(&tickets, &id, json!({"owner": user}), "").await;
    let (kind, record) = next(&mut ws).await;
    assert_eq!((kind.as_str(), &record["id"]), ("ENTERED", &json!(id)), "the create was not theirs");

    t.update(&tickets, &id, json!({"owner": t.user_id, "title": "Laptop (returned)"}), "").await;
    let (kind, record) = next(&mut ws).await;
    assert_eq!(kind, "LEFT");
    assert_eq!(record, json!({"id": id, "title": "Laptop", "queue": null}));
}

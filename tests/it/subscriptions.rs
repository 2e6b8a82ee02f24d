//! Subscriptions over `/graphql/ws` (graphql-transport-ws): `dealChanged` delivers CREATED,
//! UPDATED (with changedFields), DELETED and RESTORED; the `filter` argument is matched against
//! the record before and after the change (LEFT, ENTERED); and the close codes: 4401 for a missing/bad token and for a
//! session logged out while the socket is open, 4205 when the tenant's definitions change,
//! 4290 when a subscriber falls behind; alike subscriptions served as one group; and delivery
//! across server instances sharing one database. The protocol's own rules (graphql-ws's
//! PROTOCOL.md: 4401, 4400, 4409), the legacy `graphql-ws` subprotocol only where enabled, and
//! errors coded as over HTTP.

use serde_json::{Value, json};

use crate::fixtures::{contact, crm_tenant, deal, define_crm};
use crate::harness::{
    Api, Auth, LISTEN_WINDOW, SILENCE, TIMEOUT, Ws, WsEvent, assert_json_eq, entity, field, legacy_ws_server,
    login, server, short_ttl_server, str_of, strings, tenant, tiny_buffer_server,
};

const DEAL_CHANGED: &str = "subscription($f: DealFilter) { dealChanged(filter: $f) {
    kind changedFields record { id title amount stage } } }";

fn changed_fields(event: &Value) -> Vec<String> {
    let mut fields: Vec<String> =
        event["changedFields"].as_array().expect("changedFields").iter().map(str_of).collect();
    fields.sort();
    fields
}

#[tokio::test]
async fn deal_changed_delivers_every_kind() {
    let t = crm_tenant().await;
    let mut socket = t.subscribe(DEAL_CHANGED, json!({})).await;

    let created = t.create(&deal(), json!({ "title": "S1", "amount": "10.00" }), "").await;
    let id = str_of(&created["id"]);
    let event = socket.next_data("1").await["dealChanged"].clone();
    assert_eq!(event["kind"], json!("CREATED"));
    assert_eq!(event["record"], json!({ "id": id, "title": "S1", "amount": "10.00", "stage": "lead" }));
    let fields = changed_fields(&event);
    for expected in ["title", "amount", "stage"] {
        assert!(fields.contains(&expected.to_owned()), "{expected} missing from {fields:?}");
    }
    assert!(!fields.contains(&"probability".to_owned()), "no value, not changed: {fields:?}");

    t.update(&deal(), &id, json!({ "amount": "20.50" }), "").await;
    let event = socket.next_data("1").await["dealChanged"].clone();
    assert_eq!(event["kind"], json!("UPDATED"));
    assert_eq!(event["record"]["amount"], json!("20.50"));
    let fields = changed_fields(&event);
    assert!(fields.contains(&"amount".to_owned()), "{fields:?}");
    assert!(!fields.contains(&"title".to_owned()), "title did not change: {fields:?}");

    t.update(&deal(), &id, json!({ "title": "S1b", "stage": "won" }), "").await;
    let event = socket.next_data("1").await["dealChanged"].clone();
    assert_eq!(event["kind"], json!("UPDATED"));
    let fields = changed_fields(&event);
    assert!(fields.contains(&"title".to_owned()) && fields.contains(&"stage".to_owned()), "{fields:?}");
    assert!(!fields.contains(&"amount".to_owned()), "{fields:?}");

    t.delete(&deal(), &id).await;
    let event = socket.next_data("1").await["dealChanged"].clone();
    assert_eq!(event["kind"], json!("DELETED"));
    assert_eq!(event["record"]["id"], json!(id));
    assert_eq!(event["record"]["title"], json!("S1b"));

    t.restore(&deal(), &id).await;
    let event = socket.next_data("1").await["dealChanged"].clone();
    assert_eq!(event["kind"], json!("RESTORED"));
    assert_eq!(event["record"]["id"], json!(id));

    // Other entities' changes are not deal events.
    t.create(&contact(), json!({ "fullName": "Someone" }), "").await;
    socket.expect_silence(SILENCE).await;
}

#[tokio::test]
async fn deal_changed_honours_the_filter() {
    let t = crm_tenant().await;
    let mut socket = t.subscribe(DEAL_CHANGED, json!({ "f": { "stage": { "eq": "won" } } })).await;
    let lead = t.create(&deal(), json!({ "title": "lead deal", "stage": "lead" }), "").await;
    let won = t.create(&deal(), json!({ "title": "won deal", "stage": "won" }), "").await;
    // Events arrive in order, so receiving the second proves the first was filtered out.
    let event = socket.next_data("1").await["dealChanged"].clone();
    assert_eq!(event["kind"], json!("CREATED"));
    assert_eq!(event["record"]["title"], json!("won deal"));

    // Matched against the record before and after the change: moving in is ENTERED.
    t.update(&deal(), &str_of(&lead["id"]), json!({ "stage": "won" }), "").await;
    let event = socket.next_data("1").await["dealChanged"].clone();
    assert_eq!(event["kind"], json!("ENTERED"));
    assert_eq!(event["record"]["title"], json!("lead deal"));
    assert_eq!(event["record"]["stage"], json!("won"));
    assert_eq!(changed_fields(&event), strings(&["stage"]));

    // Moving out is LEFT, with the record as the subscriber last saw it.
    t.update(&deal(), &str_of(&won["id"]), json!({ "stage": "lost" }), "").await;
    let event = socket.next_data("1").await["dealChanged"].clone();
    assert_eq!(event["kind"], json!("LEFT"));
    assert_eq!(
        event["record"],
        json!({ "id": won["id"], "title": "won deal", "amount": null, "stage": "won" })
    );

    // Outside before and after: nothing.
    t.update(&deal(), &str_of(&won["id"]), json!({ "title": "still lost" }), "").await;
    t.create(&deal(), json!({ "title": "another lead" }), "").await;
    socket.expect_silence(SILENCE).await;
}

/// The protocol has no "subscribed" acknowledgement; the server answers a `ping` once every
/// operation subscribed before it listens, so a client can cause changes right after the
/// `pong` and miss none. Many subscriptions make a `pong` that came too early show: the
/// change would reach only those registered by then.
#[tokio::test]
async fn a_pong_after_subscribing_means_every_subscription_listens() {
    const MANY: usize = 300;
    let t = crm_tenant().await;
    let mut socket = t.ws().await;
    for i in 0..MANY {
        socket.subscribe(&format!("s{i}"), DEAL_CHANGED, json!({ "f": null })).await;
    }
    socket.settle().await;
    t.create(&deal(), json!({ "title": "heard by all" }), "").await;
    let mut heard = std::collections::BTreeSet::new();
    while heard.len() < MANY {
        match socket.recv(TIMEOUT).await {
            WsEvent::Message(m) if m["type"] == "next" => {
                assert_eq!(
                    m["payload"]["data"]["dealChanged"]["record"]["title"],
                    json!("heard by all"),
                    "{m}"
                );
                assert!(heard.insert(str_of(&m["id"])), "{m}");
            }
            other => panic!("{} of {MANY} subscriptions heard the change, then {other:?}", heard.len()),
        }
    }
}

#[tokio::test]
async fn two_subscriptions_on_one_socket() {
    let t = crm_tenant().await;
    let mut socket = t.ws().await;
    socket.subscribe("a", DEAL_CHANGED, json!({ "f": { "title": { "startsWith": "a" } } })).await;
    socket.subscribe("b", DEAL_CHANGED, json!({ "f": { "title": { "startsWith": "b" } } })).await;
    socket.settle().await;
    t.create(&deal(), json!({ "title": "b first" }), "").await;
    let data = socket.next_data("b").await;
    assert_eq!(data["dealChanged"]["record"]["title"], json!("b first"));
    t.create(&deal(), json!({ "title": "a second" }), "").await;
    let data = socket.next_data("a").await;
    assert_eq!(data["dealChanged"]["record"]["title"], json!("a second"));
    // `complete` stops one subscription only.
    socket.send(json!({ "id": "a", "type": "complete" })).await;
    // The server may acknowledge with its own `complete` for "a"; nothing else may arrive.
    match socket.recv(LISTEN_WINDOW).await {
        WsEvent::Timeout => {}
        WsEvent::Message(m) if m == json!({ "id": "a", "type": "complete" }) => {}
        other => panic!("after completing \"a\": {other:?}"),
    }
    t.create(&deal(), json!({ "title": "a third" }), "").await;
    t.create(&deal(), json!({ "title": "b fourth" }), "").await;
    let data = socket.next_data("b").await;
    assert_eq!(data["dealChanged"]["record"]["title"], json!("b fourth"));
}

#[tokio::test]
async fn failing_connection_init_without_a_valid_token() {
    let t = tenant().await;
    let forged = format!("{}x", t.access_token);
    let payloads = [
        json!({}),
        json!({ "authorization": "Bearer garbage" }),
        json!({ "authorization": format!("Bearer {forged}") }),
        json!({ "authorization": t.access_token }),
    ];
    for payload in payloads {
        let mut socket = Ws::connect(server()).await;
        let event = socket.init(payload.clone()).await;
        let code = match event {
            WsEvent::Closed(code) => code,
            WsEvent::Message(m) => panic!("payload {payload}: expected a close, got {m}"),
            WsEvent::Timeout => panic!("payload {payload}: the server neither acked nor closed"),
        };
        assert_eq!(code, Some(4401), "payload {payload}");
    }
}

#[tokio::test]
async fn logout_closes_an_open_socket() {
    let t = crm_tenant().await;
    let mut socket = t.subscribe(DEAL_CHANGED, json!({})).await;
    let data = t.data("mutation { logout }", json!({})).await;
    assert_eq!(data["logout"], json!(true));
    assert_eq!(socket.expect_close(TIMEOUT).await, Some(4401));
    // A new socket with the revoked token is refused too.
    let mut again = Ws::connect(server()).await;
    match again.init(json!({ "authorization": format!("Bearer {}", t.access_token) })).await {
        WsEvent::Closed(code) => assert_eq!(code, Some(4401)),
        other => panic!("expected a 4401 close, got {other:?}"),
    }
}

#[tokio::test]
async fn definition_change_closes_the_socket_with_4205() {
    let t = crm_tenant().await;
    let mut socket = t.subscribe(DEAL_CHANGED, json!({})).await;
    t.add_field("deal", field("priority", "NUMBER", json!({}))).await;
    assert_eq!(socket.expect_close(TIMEOUT).await, Some(4205));
    // Reconnecting gives the new schema.
    let mut socket = t
        .subscribe("subscription { dealChanged { kind changedFields record { title priority } } }", json!({}))
        .await;
    t.create(&deal(), json!({ "title": "p", "priority": 3 }), "").await;
    let event = socket.next_data("1").await["dealChanged"].clone();
    assert_json_eq(&event["record"]["priority"], &json!(3), "priority");
    assert!(changed_fields(&event).contains(&"priority".to_owned()));
    // Another tenant's definition change does not close this socket.
    let other = tenant().await;
    other.define(entity("thing", "things", vec![field("name", "TEXT", json!({}))], json!({}))).await;
    t.create(&deal(), json!({ "title": "still open" }), "").await;
    let event = socket.next_data("1").await["dealChanged"].clone();
    assert_eq!(event["record"]["title"], json!("still open"));
}

/// Two server instances on one database (as behind a load balancer): a subscriber connected
/// to one hears of a change made through the other, and of every change, not some of them.
#[tokio::test]
async fn subscribers_hear_changes_made_through_another_instance() {
    let t = crm_tenant().await;
    let other = Api::new(short_ttl_server());
    let token = str_of(&login(&other, &t.slug, &t.email, &t.password).await.data()["login"]["accessToken"]);
    let mut ws = Ws::connect(other.server).await;
    ws.init(json!({ "authorization": format!("Bearer {token}") })).await.expect_ack();
    ws.subscribe("1", "subscription { dealChanged { kind record { title } } }", json!({})).await;
    ws.settle().await;
    for title in ["one", "two", "three"] {
        t.create(&deal(), json!({ "title": title }), "").await;
    }
    let mut titles = Vec::new();
    for _ in 0..3 {
        titles.push(str_of(&ws.next_data("1").await["dealChanged"]["record"]["title"]));
    }
    assert_eq!(titles, strings(&["one", "two", "three"]));
}

/// Logging out through one instance closes the session's socket on another instance.
#[tokio::test]
async fn logout_through_one_instance_closes_sockets_on_another() {
    let t = tenant().await;
    let other = Api::new(short_ttl_server());
    // A token from the shared server (15 minutes), used on the other instance's socket.
    let (token, _) = t.new_session().await;
    let mut ws = Ws::connect(other.server).await;
    ws.init(json!({ "authorization": format!("Bearer {token}") })).await.expect_ack();
    let started = std::time::Instant::now();
    t.api.graphql(&Auth::Bearer(token), "mutation { logout }", json!({})).await.data();
    assert_eq!(ws.expect_close(TIMEOUT).await, Some(4401));
    assert!(started.elapsed() < TIMEOUT);
}

/// `alphery_live_groups` and `alphery_live_subscriptions` of a server.
async fn live_counts(api: &Api) -> (f64, f64) {
    let text = api.get("/metrics", &[]).await.text;
    (
        crate::http::metric(&text, "alphery_live_groups"),
        crate::http::metric(&text, "alphery_live_subscriptions"),
    )
}

#[tokio::test]
async fn alike_subscriptions_share_a_group_and_a_subscriber_that_falls_behind_is_closed() {
    let server = tiny_buffer_server();
    let api = Api::new(server);
    let t = crate::harness::tenant_on(server).await;
    define_crm(&t).await;
    let (groups, subscriptions) = live_counts(&api).await;

    // Two sockets with one filter are one group; a third filter is a group of its own.
    let big = json!({ "f": { "amount": { "gt": 1000 } } });
    let mut first = t.subscribe(DEAL_CHANGED, big.clone()).await;
    let mut second = t.subscribe(DEAL_CHANGED, big).await;
    let mut other = t.subscribe(DEAL_CHANGED, json!({ "f": { "stage": { "eq": "won" } } })).await;
    assert_eq!(live_counts(&api).await, (groups + 2.0, subscriptions + 3.0));
    t.create(&deal(), json!({ "title": "Big", "amount": "5000.00" }), "").await;
    for ws in [&mut first, &mut second] {
        assert_eq!(ws.next_data("1").await["dealChanged"]["record"]["title"], json!("Big"));
    }
    other.expect_silence(SILENCE).await;

    // A group holds one change for its slowest member here: a burst of changes leaves a
    // member behind, and its socket closes with 4290 instead of skipping them silently.
    let mut slow = t.subscribe(DEAL_CHANGED, json!({})).await;
    let code = t.burst_until_closed(&deal(), &mut slow).await;
    assert_eq!(code, Some(4290));
    drop((first, second, other));
}

/// The code of the server's close, asserting its reason fits a close frame (123 bytes).
async fn close_code(socket: &mut Ws) -> (Option<u16>, String) {
    let code = socket.expect_close(TIMEOUT).await;
    let reason = socket.close_reason.clone().unwrap_or_default();
    assert!(reason.len() <= 123, "a close reason of {} bytes: {reason}", reason.len());
    (code, reason)
}

/// Expects operation `id` to be answered with `complete`.
async fn expect_complete(socket: &mut Ws, id: &str) {
    match socket.recv(TIMEOUT).await {
        WsEvent::Message(m) if m == json!({ "id": id, "type": "complete" }) => {}
        other => panic!("expected {id} to complete, got {other:?}"),
    }
}

/// graphql-ws's PROTOCOL.md: an operation before `connection_init` closes with 4401; a
/// message of a type or form the protocol does not have with 4400 and a reason that fits a
/// close frame (it was 1002 with serde's 178-byte text, an invalid frame); a `subscribe` with
/// the id of a live operation with 4409 (it was silently replaced). A ping before
/// `connection_init` is no breach, and an id is free again once its operation completed.
#[tokio::test]
async fn failing_protocol_breaches_close_with_the_protocols_codes() {
    let t = crm_tenant().await;
    let init = json!({ "authorization": format!("Bearer {}", t.access_token) });

    let mut socket = Ws::connect(server()).await;
    socket.subscribe("1", "{ me { email } }", json!({})).await;
    assert_eq!(close_code(&mut socket).await.0, Some(4401));

    let mut socket = Ws::connect(server()).await;
    socket.send(json!({ "type": "ping" })).await;
    socket.init(init.clone()).await.expect_ack();

    let long_type = json!({ "type": "x".repeat(300) }).to_string();
    let no_id = json!({ "type": "subscribe", "payload": { "query": "{ me { email } }" } }).to_string();
    let legacy_start = json!({ "id": "1", "type": "start", "payload": { "query": "{ me { email } }" } });
    let cases = [
        (false, long_type.clone()),
        (true, long_type),
        (false, "not json".to_owned()),
        (true, "not json".to_owned()),
        (true, no_id),
        (true, legacy_start.to_string()),
    ];
    for (initialised, message) in cases {
        let mut socket = Ws::connect(server()).await;
        if initialised {
            socket.init(init.clone()).await.expect_ack();
        }
        socket.send_text(&message).await;
        let (code, reason) = close_code(&mut socket).await;
        assert_eq!(code, Some(4400), "after {message:.60} (initialised: {initialised}): {reason}");
        assert!(!reason.is_empty(), "{message:.60}");
    }

    let mut socket = t.ws().await;
    for _ in 0..2 {
        socket.subscribe("q", "{ me { email } }", json!({})).await;
        assert_eq!(socket.next_data("q").await["me"]["email"], json!(t.email));
        expect_complete(&mut socket, "q").await;
    }
    socket.subscribe("s", DEAL_CHANGED, json!({})).await;
    socket.send(json!({ "id": "s", "type": "complete" })).await;
    expect_complete(&mut socket, "s").await;
    socket.subscribe("s", DEAL_CHANGED, json!({})).await;
    socket.subscribe("s", DEAL_CHANGED, json!({})).await;
    let (code, reason) = close_code(&mut socket).await;
    assert_eq!(code, Some(4409), "{reason}");
    assert_eq!(reason, "Subscriber for s already exists");
}

/// The legacy `graphql-ws` subprotocol (subscriptions-transport-ws) is refused unless
/// `LEGACY_GRAPHQL_WS` is set (it was always served); a client offering both gets
/// `graphql-transport-ws`.
#[tokio::test]
async fn the_legacy_graphql_ws_subprotocol_only_where_enabled() {
    let t = tenant().await;
    for offered in ["graphql-ws", "chat"] {
        assert_eq!(Ws::handshake(server(), offered).await.err(), Some(400), "{offered}");
    }
    let (_, agreed) = Ws::handshake(server(), "graphql-ws, graphql-transport-ws")
        .await
        .unwrap_or_else(|s| panic!("HTTP {s}"));
    assert_eq!(agreed.as_deref(), Some("graphql-transport-ws"));

    let (mut socket, agreed) =
        Ws::handshake(legacy_ws_server(), "graphql-ws").await.unwrap_or_else(|s| panic!("HTTP {s}"));
    assert_eq!(agreed.as_deref(), Some("graphql-ws"));
    socket.init(json!({ "authorization": format!("Bearer {}", t.access_token) })).await.expect_ack();
    socket.send(json!({ "id": "1", "type": "start", "payload": { "query": "{ me { email } }" } })).await;
    match socket.recv(TIMEOUT).await {
        WsEvent::Message(m) if m["type"] == "data" && m["id"] == "1" => {
            assert_eq!(m["payload"]["data"]["me"]["email"], json!(t.email), "{m}");
        }
        other => panic!("expected a legacy `data` message, got {other:?}"),
    }
}

/// The errors of operation `id` (its `next` message, then `complete`).
async fn socket_errors(socket: &mut Ws, id: &str) -> Vec<Value> {
    let errors = match socket.recv(TIMEOUT).await {
        WsEvent::Message(m) if m["type"] == "next" && m["id"] == id => m["payload"]["errors"].clone(),
        other => panic!("expected a `next` message for {id}, got {other:?}"),
    };
    expect_complete(socket, id).await;
    errors.as_array().cloned().unwrap_or_default()
}

/// An operation's errors over a socket carry the `extensions.code` (and message) they carry
/// over HTTP: the executor's own errors (syntax, validation, variables, limits) used to leave
/// a socket without a code, and a resolver's uncoded error unmasked.
#[tokio::test]
async fn errors_over_a_socket_are_coded_as_over_http() {
    let t = crm_tenant().await;
    let member = str_of(&t.invite("member").await["accessToken"]);
    let missing = uuid::Uuid::new_v4().to_string();
    let deep = format!("{{ __type(name: \"User\") {} {} }}", "{ ofType ".repeat(60), "}".repeat(60));
    let update = "mutation($id: ID!) { updateDeal(id: $id, input: {title: \"x\"}) { id } }";
    let cases = [
        (false, "{ me { id ", json!({}), "BAD_REQUEST"),
        (false, "{ nope }", json!({}), "BAD_REQUEST"),
        (false, "query($n: Int!) { deals(first: $n) { totalCount } }", json!({ "n": "x" }), "BAD_REQUEST"),
        (false, &deep, json!({}), "QUERY_TOO_COMPLEX"),
        (false, "{ deals(after: \"abc\") { totalCount } }", json!({}), "BAD_REQUEST"),
        (false, "{ deals(first: 100000) { totalCount } }", json!({}), "BAD_REQUEST"),
        (false, update, json!({ "id": missing }), "NOT_FOUND"),
        (false, "mutation { createDeal(input: {title: \"\"}) { id } }", json!({}), "VALIDATION_FAILED"),
        (true, "{ auditLog { totalCount } }", json!({}), "FORBIDDEN"),
    ];
    let mut owner_socket = t.ws().await;
    let mut member_socket = Ws::connect(server()).await;
    member_socket.init(json!({ "authorization": format!("Bearer {member}") })).await.expect_ack();
    for (i, (as_member, query, variables, code)) in cases.into_iter().enumerate() {
        let (auth, socket) = match as_member {
            true => (Auth::Bearer(member.clone()), &mut member_socket),
            false => (t.auth(), &mut owner_socket),
        };
        let over_http = t.api.graphql(&auth, query, variables.clone()).await;
        over_http.expect_code(code);
        let id = format!("e{i}");
        socket.subscribe(&id, query, variables).await;
        let over_ws = socket_errors(socket, &id).await;
        let public = |e: &Value| (e["message"].clone(), e["extensions"]["code"].clone());
        let expected: Vec<_> = over_http.errors().iter().map(public).collect();
        let actual: Vec<_> = over_ws.iter().map(public).collect();
        assert_eq!(actual, expected, "{query:.80}: over a socket {over_ws:?}, over HTTP {}", over_http.text);
    }
}

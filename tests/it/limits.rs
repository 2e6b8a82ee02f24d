//! GraphQL hardening at the shared server's defaults: query depth (15, through relation
//! fields), aliases (50, also when hidden in a fragment spread many times) → QUERY_TOO_COMPLEX;
//! batch size (10) and page size (500, of records and of every log) → BAD_REQUEST; request bodies over 1 MiB → HTTP 413;
//! websocket messages over 1 MiB close the socket; websocket upgrades from a foreign browser
//! `Origin` → 403; a socket whose access token expires closes with 4401. Every limit is checked
//! on both sides of its boundary, and every error carries a contract code. (Mutations over GET
//! → 405 and non-JSON bodies → 415 are covered by `http`.)

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::fixtures::{contact, crm_tenant, deal};
use crate::harness::{
    Api, Response, SHORT_TTL_SECS, Server, TIMEOUT, TestTenant, Ws, entity, field, server, short_ttl_server,
    tenant, tenant_on,
};

const MAX_DEPTH: usize = 15;
const MAX_ALIASES: usize = 50;
const MAX_BATCH: usize = 10;
const MAX_BODY_BYTES: usize = 1 << 20;

/// Asserts a limit error: the code, and a contract code on every error.
fn expect_limit(response: &Response, code: &str) {
    response.expect_code(code);
    response.assert_every_error_has_code();
}

/// A query exactly `depth` fields deep, walking `deals → nodes → contact → deals → …`.
fn deal_chain(depth: usize) -> String {
    const CYCLE: [&str; 3] = ["deals(first: 1)", "nodes", "contact"];
    let mut query = String::new();
    for level in 0..depth - 1 {
        query.push_str(CYCLE[level % 3]);
        query.push_str(" { ");
    }
    // The innermost object is a connection (`deals`) or a record (`nodes`, `contact`).
    query.push_str(if (depth - 2).is_multiple_of(3) { "totalCount" } else { "id" });
    query.push_str(&" }".repeat(depth - 1));
    format!("{{ {query} }}")
}

/// `{ a1: me { id } … aN: me { id } }`.
fn aliased_me(n: usize) -> String {
    let fields: Vec<String> = (1..=n).map(|i| format!("a{i}: me {{ id }}")).collect();
    format!("{{ {} }}", fields.join(" "))
}

/// One alias in a fragment, spread `n` times.
fn spread_fragment(n: usize) -> String {
    format!("{{ me {{ {} }} }} fragment F on User {{ userId: id }}", "...F ".repeat(n))
}

/// `POST /graphql` with a body of exactly `len` bytes: `{ me { id } }` padded with spaces.
async fn post_body_of(t: &TestTenant, len: usize) -> Response {
    let skeleton = json!({ "query": "{ me { id } }" }).to_string();
    let padding = len.checked_sub(skeleton.len()).expect("a body longer than the skeleton");
    let body = json!({ "query": format!("{{ me {{ id }}{} }}", " ".repeat(padding)) }).to_string();
    assert_eq!(body.len(), len);
    let request =
        t.api.http.post(t.api.url("/graphql")).header("content-type", "application/json").body(body);
    t.api.send(Api::with_auth(request, &t.auth())).await
}

type RawSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A `graphql-transport-ws` handshake with an optional `Origin`: the socket, or the HTTP status
/// the server refused the upgrade with.
async fn handshake(server: &Server, origin: Option<&str>) -> Result<RawSocket, u16> {
    let mut request = server.ws_url().into_client_request().expect("websocket request");
    let headers = request.headers_mut();
    headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_static("graphql-transport-ws"));
    if let Some(origin) = origin {
        headers.insert("Origin", HeaderValue::from_str(origin).expect("an ASCII origin"));
    }
    match tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request)).await {
        Err(_) => panic!("websocket handshake timed out"),
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(WsError::Http(response))) => Err(response.status().as_u16()),
        Ok(Err(other)) => panic!("websocket handshake failed without an HTTP status: {other}"),
    }
}

/// Sends `connection_init` with the owner's token and asserts `connection_ack`.
async fn init_raw(socket: &mut RawSocket, t: &TestTenant) {
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", t.access_token) } });
    socket.send(Message::text(init.to_string())).await.expect("send connection_init");
    let reply = tokio::time::timeout(TIMEOUT, socket.next()).await.expect("connection_ack in time");
    match reply {
        Some(Ok(Message::Text(text))) => {
            let message: Value = serde_json::from_str(text.as_str()).expect("JSON");
            assert_eq!(message["type"], json!("connection_ack"), "{message}");
        }
        other => panic!("expected connection_ack, got {other:?}"),
    }
}

/// Waits until the server ends the socket; the close code when it sent one.
async fn wait_closed(socket: &mut RawSocket) -> Option<u16> {
    // Not `eventually`: a receive with a time limit, each message taken as it comes, not a poll.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => panic!("the server did not close the socket within {TIMEOUT:?}"),
            Ok(None | Some(Err(_))) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// A `subscribe` message running `{ me { id } }` padded with spaces to `len` bytes in all.
fn padded_subscribe(len: usize) -> String {
    let message = |pad: usize| {
        json!({ "id": "1", "type": "subscribe", "payload": { "query": format!("{{ me {{ id }}{} }}", " ".repeat(pad)) } })
            .to_string()
    };
    let pad = len - message(0).len();
    let text = message(pad);
    assert_eq!(text.len(), len);
    text
}

/// A tenant on `server` with one entity: a schema without entities has no Subscription root,
/// and then the server refuses even queries over the socket ("Subscription root not found").
async fn socket_tenant(server: &'static Server) -> TestTenant {
    let t = tenant_on(server).await;
    t.define(entity("memo", "memos", vec![field("body", "TEXT", json!({}))], json!({}))).await;
    t
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn query_depth_is_limited() {
    let t = crm_tenant().await;
    let person = t.create(&contact(), json!({ "fullName": "Deep" }), "").await;
    let created = t.create(&deal(), json!({ "title": "Deep deal", "contact": person["id"] }), "").await;
    let ok = t.data(&deal_chain(MAX_DEPTH), json!({})).await;
    // Levels 1–12: four times deals → nodes → contact; then deals → nodes → id.
    let pointer = format!("{}/deals/nodes/0/id", "/deals/nodes/0/contact".repeat(4));
    assert_eq!(ok.pointer(&pointer), Some(&created["id"]), "{ok}");
    for depth in [MAX_DEPTH + 1, 40] {
        expect_limit(&t.request(&deal_chain(depth), json!({})).await, "QUERY_TOO_COMPLEX");
    }
}

#[tokio::test]
async fn aliases_are_limited_also_inside_fragments() {
    let t = tenant().await;
    let ok = t.data(&aliased_me(MAX_ALIASES), json!({})).await;
    assert_eq!(ok.as_object().expect("data").len(), MAX_ALIASES);
    assert_eq!(ok[format!("a{MAX_ALIASES}")]["id"], json!(t.user_id));
    expect_limit(&t.request(&aliased_me(MAX_ALIASES + 1), json!({})).await, "QUERY_TOO_COMPLEX");

    let few = t.data(&spread_fragment(10), json!({})).await;
    assert_eq!(few["me"]["userId"], json!(t.user_id));
    expect_limit(&t.request(&spread_fragment(60), json!({})).await, "QUERY_TOO_COMPLEX");
}

#[tokio::test]
async fn batches_are_limited() {
    let t = tenant().await;
    let batch = |n: usize| Value::Array(vec![json!({ "query": "{ me { id } }" }); n]);
    let ok = t.api.post_json(&t.auth(), &batch(MAX_BATCH)).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let results = ok.body.as_array().expect("a batch answers an array");
    assert_eq!(results.len(), MAX_BATCH);
    assert!(results.iter().all(|r| r["data"]["me"]["id"] == json!(t.user_id)), "{}", ok.text);

    let refused = t.api.post_json(&t.auth(), &batch(MAX_BATCH + 1)).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    expect_limit(&refused, "BAD_REQUEST");
}

#[tokio::test]
async fn page_size_is_limited() {
    let t = crm_tenant().await;
    t.create(&deal(), json!({ "title": "One" }), "").await;
    for args in ["first: 500", "last: 500"] {
        assert_eq!(t.list(&deal(), args, json!({}), "").await["totalCount"], json!(1), "{args}");
    }
    for args in ["first: 501", "last: 501"] {
        expect_limit(&t.list_raw(&deal(), args, json!({}), "").await, "BAD_REQUEST");
    }
}

/// The platform's logs take `first` too: out of bounds it is the client's error on each of
/// them, never INTERNAL (the approval log once answered INTERNAL).
#[tokio::test]
async fn log_page_size_is_limited() {
    let t = tenant().await;
    let logs = [
        "auditLog(first: $n) { edges { cursor } }",
        "emails(first: $n) { id }",
        "workflowRuns(first: $n) { id }",
        "deadJobs(first: $n) { id }",
        "notifications(first: $n) { id }",
        "approvalRequests(first: $n) { id }",
    ];
    for log in logs {
        let query = format!("query($n: Int) {{ {log} }}");
        for n in [0, 500] {
            let ok = t.request(&query, json!({ "n": n })).await;
            assert!(ok.errors().is_empty(), "{log} with first {n}: {}", ok.text);
        }
        for n in [-1, 501] {
            t.request(&query, json!({ "n": n })).await.expect_code("BAD_REQUEST");
        }
    }
}

#[tokio::test]
async fn request_bodies_over_one_mebibyte_are_refused() {
    let t = tenant().await;
    let at_limit = post_body_of(&t, MAX_BODY_BYTES).await;
    assert_eq!(at_limit.data()["me"]["id"], json!(t.user_id));
    let over = post_body_of(&t, MAX_BODY_BYTES + 1).await;
    assert_eq!(over.status, 413, "{}", over.text);
    over.assert_every_error_has_code();
}

#[tokio::test]
async fn websocket_messages_over_one_mebibyte_close_the_socket() {
    let t = socket_tenant(server()).await;
    // Just under the limit works.
    let mut ws = t.ws().await;
    ws.send(serde_json::from_str(&padded_subscribe(MAX_BODY_BYTES - 1024)).expect("JSON")).await;
    assert_eq!(ws.next_data("1").await["me"]["id"], json!(t.user_id));

    let mut socket = handshake(server(), None).await.expect("handshake");
    init_raw(&mut socket, &t).await;
    // The server may drop the connection while this is still being written.
    let _ = socket.send(Message::text(padded_subscribe(MAX_BODY_BYTES + 1))).await;
    let code = wait_closed(&mut socket).await;
    assert!(matches!(code, None | Some(1009)), "closed with {code:?}, expected 1009 or a dropped connection");
}

#[tokio::test]
async fn websocket_upgrades_from_foreign_origins_are_refused() {
    let t = tenant().await;
    for origin in ["https://evil.example", "null", &format!("http://{}.evil.example", server().addr)] {
        let refused = handshake(server(), Some(origin)).await;
        assert_eq!(refused.err(), Some(403), "Origin {origin}");
    }
    let same_origin = format!("http://{}", server().addr);
    let mut socket = handshake(server(), Some(&same_origin)).await.expect("a same-origin upgrade is allowed");
    init_raw(&mut socket, &t).await;
    let mut no_origin = handshake(server(), None).await.expect("a non-browser client (no Origin) is allowed");
    init_raw(&mut no_origin, &t).await;
}

#[tokio::test]
async fn websocket_closes_with_4401_when_the_access_token_expires() {
    let server = short_ttl_server();
    let t = tenant_on(server).await;
    let (token, _) = t.new_session().await;
    let mut ws = Ws::connect(server).await;
    // Accepted while the token is valid (SHORT_TTL_SECS from the login)…
    ws.init(json!({ "authorization": format!("Bearer {token}") })).await.expect_ack();
    // …and closed by the server, unprompted, when it expires.
    let code = ws.expect_close(Duration::from_secs(SHORT_TTL_SECS) + TIMEOUT).await;
    assert_eq!(code, Some(4401));
}

//! Subscriptions over `graphql-transport-ws`.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::*;

// ---------------------------------------------------------------------------------------------
// WebSocket (graphql-transport-ws)
// ---------------------------------------------------------------------------------------------

/// What a socket produced.
#[derive(Debug)]
pub enum WsEvent {
    Message(Value),
    /// The server closed the connection, with its close code when it sent one.
    Closed(Option<u16>),
    Timeout,
}

impl WsEvent {
    pub fn expect_ack(self) {
        match self {
            WsEvent::Message(m) if m["type"] == "connection_ack" => {}
            other => panic!("expected connection_ack, got {other:?}"),
        }
    }
}

/// A `graphql-transport-ws` client socket.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The reason of the server's close frame, once one came.
    pub close_reason: Option<String>,
    /// What arrived while `settle` waited for its `pong`, for the next reads.
    early: VecDeque<(WsEvent, Option<String>)>,
}

impl Ws {
    /// Opens the socket with the `graphql-transport-ws` subprotocol (not yet initialised).
    pub async fn connect(server: &Server) -> Ws {
        match Ws::handshake(server, "graphql-transport-ws").await {
            Ok((ws, agreed)) => {
                assert_eq!(agreed.as_deref(), Some("graphql-transport-ws"));
                ws
            }
            Err(status) => panic!("websocket handshake refused with HTTP {status}"),
        }
    }

    /// Opens the socket offering `protocols` (a `Sec-WebSocket-Protocol` value): the socket
    /// and the subprotocol the server agreed to, or the HTTP status it refused the upgrade with.
    pub async fn handshake(server: &Server, protocols: &str) -> Result<(Ws, Option<String>), u16> {
        use tokio_tungstenite::tungstenite::Error;
        let mut request = server.ws_url().into_client_request().expect("websocket request");
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(protocols).expect("a header value"));
        let connected = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request))
            .await
            .expect("websocket handshake timed out");
        match connected {
            Ok((stream, response)) => {
                let agreed = response
                    .headers()
                    .get("sec-websocket-protocol")
                    .map(|v| v.to_str().expect("ASCII").to_owned());
                Ok((Ws { stream, close_reason: None, early: VecDeque::new() }, agreed))
            }
            Err(Error::Http(response)) => Err(response.status().as_u16()),
            Err(e) => panic!("websocket handshake failed: {e}"),
        }
    }

    /// Sends a text frame as it is (not necessarily JSON, or a protocol message).
    pub async fn send_text(&mut self, text: &str) {
        self.stream.send(Message::text(text)).await.expect("websocket send");
    }

    pub async fn send(&mut self, message: Value) {
        self.stream.send(Message::text(message.to_string())).await.expect("websocket send");
    }

    /// Sends `connection_init` and returns what the server answered.
    pub async fn init(&mut self, payload: Value) -> WsEvent {
        self.send(json!({ "type": "connection_init", "payload": payload })).await;
        self.recv(TIMEOUT).await
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }))
        .await;
    }

    /// Waits until what was subscribed on this socket so far is listening: the server answers
    /// a `ping` once every operation subscribed before it has taken its place (the protocol
    /// has no "subscribed" acknowledgement). Messages arriving meanwhile are kept for the next
    /// reads.
    pub async fn settle(&mut self) {
        self.send(json!({ "type": "ping" })).await;
        loop {
            match self.recv_raw(TIMEOUT).await {
                (WsEvent::Message(m), _) if m["type"] == "pong" => return,
                (WsEvent::Timeout, _) => panic!("no pong within {TIMEOUT:?}"),
                (closed @ WsEvent::Closed(_), text) => {
                    self.early.push_back((closed, text));
                    return;
                }
                early => self.early.push_back(early),
            }
        }
    }

    /// The next protocol message (answering pings on the way), a close, or a timeout.
    pub async fn recv(&mut self, within: Duration) -> WsEvent {
        self.recv_with_text(within).await.0
    }

    /// `recv`, with a message's text as it came (its members in the server's order).
    pub async fn recv_with_text(&mut self, within: Duration) -> (WsEvent, Option<String>) {
        if let Some(early) = self.early.pop_front() {
            return early;
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match self.recv_raw(deadline.saturating_duration_since(tokio::time::Instant::now())).await {
                (WsEvent::Message(m), _) if m["type"] == "pong" => continue,
                other => return other,
            }
        }
    }

    /// The next message (pongs included, pings answered), a close, or a timeout.
    async fn recv_raw(&mut self, within: Duration) -> (WsEvent, Option<String>) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let next = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return (WsEvent::Timeout, None),
                Ok(next) => next,
            };
            match next {
                None | Some(Err(_)) => return (WsEvent::Closed(None), None),
                Some(Ok(Message::Close(frame))) => {
                    self.close_reason = frame.as_ref().map(|f| f.reason.as_str().to_owned());
                    return (WsEvent::Closed(frame.map(|f| u16::from(f.code))), None);
                }
                Some(Ok(Message::Text(text))) => {
                    let message: Value =
                        serde_json::from_str(text.as_str()).expect("a JSON websocket message");
                    if message["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return (WsEvent::Message(message), Some(text.as_str().to_owned()));
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The text of the next `next` message for operation `id`.
    pub async fn next_text(&mut self, id: &str) -> String {
        match self.recv_with_text(TIMEOUT).await {
            (WsEvent::Message(m), Some(text)) if m["type"] == "next" && m["id"] == id => text,
            (other, _) => panic!("expected a `next` message for {id}, got {other:?}"),
        }
    }

    /// The `data` of the next `next` message for subscription `id`.
    pub async fn next_data(&mut self, id: &str) -> Value {
        self.next_data_within(id, TIMEOUT).await
    }

    /// The `data` of the next `next` message for subscription `id`, waiting up to `within` (an
    /// effect of the job queue: `EFFECT_WAIT`).
    pub async fn next_data_within(&mut self, id: &str, within: Duration) -> Value {
        match self.recv(within).await {
            WsEvent::Message(m) if m["type"] == "next" && m["id"] == id => {
                let errors = &m["payload"]["errors"];
                assert!(
                    errors.is_null() || errors.as_array().is_some_and(Vec::is_empty),
                    "subscription event with errors: {m}"
                );
                m["payload"]["data"].clone()
            }
            other => panic!("expected a `next` message for {id}, got {other:?}"),
        }
    }

    /// Reads subscription `id`'s events of root field `field` until one has `key` equal to
    /// `last`; all the values seen (of every event, the last included). For events of the job
    /// queue: each may take up to `EFFECT_WAIT`.
    pub async fn until(&mut self, id: &str, field: &str, key: &str, last: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        while seen.last().is_none_or(|v: &Value| v[key] != json!(last)) {
            seen.push(self.next_data_within(id, EFFECT_WAIT).await[field].clone());
        }
        seen
    }

    /// Asserts that subscription `id` was refused with `code` (e.g. a member's subscription to
    /// what only administrators may read: `FORBIDDEN`), and that no event follows.
    pub async fn expect_refused(&mut self, id: &str, code: &str) {
        match self.recv(TIMEOUT).await {
            WsEvent::Message(m) if m["id"] == id && m["payload"]["data"].is_null() => {
                assert_eq!(m["payload"]["errors"][0]["extensions"]["code"], json!(code), "{m}");
            }
            other => panic!("expected subscription {id} refused, got {other:?}"),
        }
        // Whatever closes the refused operation, but no event.
        if let WsEvent::Message(m) = self.recv(SILENCE).await {
            assert_eq!(m["type"], json!("complete"), "{m}");
        }
    }

    /// Asserts that nothing arrives for `within`.
    pub async fn expect_silence(&mut self, within: Duration) {
        match self.recv(within).await {
            WsEvent::Timeout => {}
            other => panic!("expected no message, got {other:?}"),
        }
    }

    /// Waits for the server to close the socket, skipping other messages; returns the code.
    /// Reads (and drops) messages for up to `within`: `Some(close code)` when the server
    /// closed the socket meanwhile, `None` when it is still open.
    pub async fn closed_within(&mut self, within: Duration) -> Option<Option<u16>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv(left).await {
                WsEvent::Closed(code) => return Some(code),
                WsEvent::Timeout => return None,
                WsEvent::Message(_) => continue,
            }
        }
    }

    pub async fn expect_close(&mut self, within: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv(left).await {
                WsEvent::Closed(code) => return code,
                WsEvent::Timeout => panic!("the server did not close the socket within {within:?}"),
                WsEvent::Message(_) => continue,
            }
        }
    }
}

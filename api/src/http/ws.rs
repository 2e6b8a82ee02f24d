//! GraphQL over WebSocket (`graphql-transport-ws`) at `/graphql/ws`. One endpoint serves every
//! tenant, so the schema is known only after `connection_init`: we read that first message
//! ourselves (`ws_protocol`, which checks every client message against the protocol),
//! authenticate its payload, pick the tenant's schema, and hand the socket (with the init
//! message put back in front) to async-graphql. Every answer's errors come labelled as over
//! HTTP, by the schema's extension (`schema::errors`). The socket closes with 4401 when its session is revoked or its token
//! expires, and with 4205 when the tenant's definitions change (the client reconnects and gets
//! the new schema). The legacy `graphql-ws` subprotocol is served only when
//! `LEGACY_GRAPHQL_WS` is set.

use std::any::TypeId;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_graphql::dynamic::Schema;
use async_graphql::http::{ClientMessage, WebSocketProtocols, WsMessage};
use async_graphql::{Data, Executor, Request, Response as GraphqlResponse};
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use entity::runtime::outbox;
use futures_util::stream::BoxStream;
use futures_util::{SinkExt, StreamExt};
use jobs::BusEvent;
use serde_json::Value;

use super::observe::{self, Answered};
use super::request::{self, Credential};
use super::ws_protocol::{self, CLOSE_UNAUTHORIZED, Checked, LiveIds, OperationId, close};
use crate::error::ApiError;
use crate::http::state::AppState;
use crate::schema::ctx::{CLOSE_TOO_SLOW, Settles, SocketCloser};
use crate::schema::ctx::{ClientIp, RequestId};
use crate::schema::errors::{self, Operation};
use crate::schema::i18n::RequestLanguage;

/// Close code: not authenticated, or the session ended.
pub const CLOSE_UNAUTHENTICATED: u16 = CLOSE_UNAUTHORIZED;
/// Close code: the tenant's schema changed; reconnect.
pub const CLOSE_SCHEMA_CHANGED: u16 = 4205;
/// Close code: the server failed (WebSocket's own "internal error"); the cause is logged.
pub const CLOSE_INTERNAL: u16 = 1011;

/// Initial read and write buffer of a socket, bytes.
const SOCKET_BUFFER: usize = 8 * 1024;

/// Whether a browser may open a socket from `Origin`: no Origin (not a browser), the same
/// origin as the `Host`, or one on the configured allow-list. Blocks cross-site websocket
/// hijacking from pages the operator has not listed.
pub fn origin_ok(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let same = origin.split_once("://").is_some_and(|(_, rest)| rest.trim_end_matches('/') == host);
    same || state.config.origin_allowed(origin)
}

/// The subprotocol a client offers that this server speaks: `graphql-transport-ws`, or the
/// legacy `graphql-ws` (subscriptions-transport-ws) where `LEGACY_GRAPHQL_WS` allows it.
fn subprotocol(state: &AppState, headers: &HeaderMap) -> Option<WebSocketProtocols> {
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let offers =
        |p: WebSocketProtocols| offered.iter().any(|o| o.eq_ignore_ascii_case(p.sec_websocket_protocol()));
    if offers(WebSocketProtocols::GraphQLWS) {
        Some(WebSocketProtocols::GraphQLWS)
    } else if state.config.legacy_graphql_ws && offers(WebSocketProtocols::SubscriptionsTransportWS) {
        Some(WebSocketProtocols::SubscriptionsTransportWS)
    } else {
        None
    }
}

/// `GET /graphql/ws`.
pub async fn upgrade(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !origin_ok(&state, &headers) {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let Some(protocol) = subprotocol(&state, &headers) else {
        let refusal = "this endpoint speaks the graphql-transport-ws subprotocol (Sec-WebSocket-Protocol)";
        return (StatusCode::BAD_REQUEST, refusal).into_response();
    };
    let rid = RequestId::from_headers(&headers);
    let accept_language =
        headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let max = state.config.max_body_bytes;
    // Buffers start small: tungstenite's default is 128 KiB each way per socket, most of the
    // memory of 10,000 idle subscribers whose messages are a few hundred bytes. They grow for
    // a larger message (up to `max_message_size`).
    ws.protocols([protocol.sec_websocket_protocol()])
        .max_message_size(max)
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .on_upgrade(move |socket| serve(state, socket, protocol, rid, client, accept_language))
}

/// The `authorization` value of a `connection_init` payload (also accepts `Authorization`
/// and `headers.Authorization`, as some clients send).
fn credential_of(payload: &Value) -> Credential {
    let pick = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    let auth = pick(payload, "authorization").or_else(|| pick(payload, "Authorization")).or_else(|| {
        payload.get("headers").and_then(|h| pick(h, "authorization").or_else(|| pick(h, "Authorization")))
    });
    if let Some(a) = auth {
        return Credential::from_authorization(&a).unwrap_or(Credential::Bearer(String::new()));
    }
    match pick(payload, "x-api-key").or_else(|| pick(payload, "X-Api-Key")) {
        Some(k) => Credential::ApiKey(k),
        None => Credential::None,
    }
}

/// Counts an open socket for as long as it lives.
struct OpenSocket(AppState);

impl OpenSocket {
    fn new(state: &AppState) -> Self {
        state.metrics().ws_open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        OpenSocket(state.clone())
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.metrics().ws_open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A tenant's schema as a socket's operations see it: each operation's id held live while its
/// stream lives (`ws_protocol`), and each operation logged and timed when it ends
/// (`observe`).
#[derive(Clone)]
struct SocketSchema {
    schema: Schema,
    state: AppState,
    rid: RequestId,
    tenant: Arc<str>,
    live: LiveIds,
    /// The connection's language (`connection_init`, else the upgrade's `Accept-Language`).
    language: Option<Arc<str>>,
}

impl SocketSchema {
    /// Gives `request` a language of its own: its `extensions.lang` or the connection's, with
    /// the caller's locale read when its first label is shown — not once for the connection,
    /// so a later operation sees a locale changed since the socket opened.
    fn language(&self, request: &mut Request) {
        let language = RequestLanguage::for_operation(&request.extensions, self.language.as_deref());
        request.data.insert(language);
    }
}

/// One operation of a socket, from its `subscribe` until it ends (its last answer, the
/// client's `complete`, or the socket's close): logged and timed when dropped, with the
/// first error code its answers carried.
struct SocketOperation {
    socket: SocketSchema,
    operation: Arc<Operation>,
    started: Instant,
    code: Option<String>,
}

impl SocketOperation {
    fn new(socket: &SocketSchema, request: &mut Request) -> Self {
        let operation = Operation::of(request);
        SocketOperation { socket: socket.clone(), operation, started: Instant::now(), code: None }
    }

    /// Keeps the first code of an answer's (labelled) errors.
    fn answer(&mut self, response: &GraphqlResponse) {
        if self.code.is_none() && !response.errors.is_empty() {
            self.code = Some(observe::response_code(response).to_owned());
        }
    }
}

impl Drop for SocketOperation {
    fn drop(&mut self) {
        let answered = Answered {
            name: self.operation.logged_name(),
            kind: self.operation.kind(),
            tenant: Some(&self.socket.tenant),
            code: self.code.as_deref().unwrap_or("OK"),
            compiled: false,
        };
        observe::answered(&self.socket.state, &self.socket.rid, self.started, answered);
    }
}

impl Executor for SocketSchema {
    async fn execute(&self, mut request: Request) -> GraphqlResponse {
        let mut operation = SocketOperation::new(self, &mut request);
        self.language(&mut request);
        let (response, wrote) = outbox::tracked(self.schema.execute(request)).await;
        if wrote {
            self.state.dispatcher.wake();
        }
        operation.answer(&response);
        response
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session: Option<Arc<Data>>,
    ) -> BoxStream<'static, GraphqlResponse> {
        let mut operation = SocketOperation::new(self, &mut request);
        self.language(&mut request);
        let id = request.data.get(&TypeId::of::<OperationId>()).and_then(|d| d.downcast_ref::<OperationId>());
        let live = id.map(|id| self.live.hold(id.clone()));
        let settle = request
            .data
            .get(&TypeId::of::<Arc<dyn Settles>>())
            .and_then(|d| d.downcast_ref::<Arc<dyn Settles>>())
            .cloned();
        let answers = self.schema.execute_stream_with_session_data(request, session.unwrap_or_default());
        written_wakes(answers, self.state.dispatcher.clone())
            .map(move |response| {
                // The operation's id stays live as long as this stream does.
                let _held = &live;
                // Answered: it has taken its place (a subscription's first event, an error,
                // a query's answer).
                if let Some(s) = &settle {
                    s.settle();
                }
                operation.answer(&response);
                response
            })
            .boxed()
    }
}

/// `answers`, each polled in a scope that notes outbox writes: an answer that comes after a
/// write (a mutation's, once its transaction has ended) wakes the tailers first.
fn written_wakes(
    mut answers: BoxStream<'static, GraphqlResponse>,
    dispatcher: jobs::Dispatcher,
) -> BoxStream<'static, GraphqlResponse> {
    let wrote = Arc::new(AtomicBool::new(false));
    futures_util::stream::poll_fn(move |cx| {
        let polled = outbox::tracked_sync(&wrote, || answers.poll_next_unpin(cx));
        // Pending mid-write: the transaction may not have committed yet; wait for the answer.
        if polled.is_ready() && wrote.swap(false, Ordering::Relaxed) {
            dispatcher.wake();
        }
        polled
    })
    .boxed()
}

async fn serve(
    state: AppState,
    socket: WebSocket,
    protocol: WebSocketProtocols,
    rid: RequestId,
    client: ClientIp,
    accept_language: Option<String>,
) {
    let (mut sink, mut stream) = socket.split();
    let Some(payload) = ws_protocol::connection_init(&mut sink, &mut stream, protocol).await else {
        return;
    };
    let caller = match credential_of(&payload) {
        Credential::None => None,
        c => match request::resolve(&state, c).await {
            Ok(caller) => Some(caller),
            Err(ApiError::Internal(cause)) => {
                errors::log_internal(&rid, &Operation::none(), "", &cause);
                return close(&mut sink, CLOSE_INTERNAL, "internal error").await;
            }
            Err(e) => return close(&mut sink, CLOSE_UNAUTHENTICATED, &e.message()).await,
        },
    };
    // Subscriptions exist only in tenant schemas: an anonymous socket has nothing to do.
    let Some(caller) = caller else {
        return close(&mut sink, CLOSE_UNAUTHENTICATED, "authentication required").await;
    };
    let Some(principal) = caller.principal.clone() else {
        return close(&mut sink, CLOSE_UNAUTHENTICATED, "authentication required").await;
    };
    let mut data = request::request_data(&state, &caller, &rid, client, None);
    // The socket's language: its `connection_init` payload (a browser cannot set headers on a
    // WebSocket), else the upgrade request's `Accept-Language`. Each operation resolves its
    // own from it (`SocketSchema::language`).
    let language = RequestLanguage::from_payload(&payload);
    let language = if language.asks() { language } else { RequestLanguage::new(accept_language.as_deref()) };
    let language: Option<Arc<str>> = language.accept().map(Arc::from);
    let (closer, mut close_asked) = tokio::sync::mpsc::channel::<(u16, String)>(1);
    data.insert(SocketCloser(closer.clone()));
    let schema_version = caller.version;
    state.metrics().ws_connections_total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let _open = OpenSocket::new(&state);
    let live = LiveIds::default();
    let executor = SocketSchema {
        schema: caller.schema.clone(),
        state: state.clone(),
        rid: rid.clone(),
        tenant: Arc::from(principal.tenant_id.as_str()),
        live: live.clone(),
        language,
    };
    // async-graphql answers the init (acknowledging it) and runs the operations; this task
    // writes its messages to the socket, so it can still close the socket with its own codes.
    let init = ClientMessage::ConnectionInit { payload: Some(payload) };
    let messages = futures_util::stream::iter([Ok(init)]).chain(Checked::new(
        stream,
        protocol,
        live,
        SocketCloser(closer),
    ));
    let mut graphql = async_graphql::http::WebSocket::from_message_stream(executor, messages, protocol)
        .connection_data(data);
    let mut bus = state.live.control();
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let expiry = tokio::time::sleep(Duration::from_secs(principal.token_exp.saturating_sub(now)));
    tokio::pin!(expiry);
    loop {
        tokio::select! {
            msg = graphql.next() => match msg {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Some(WsMessage::Close(code, reason)) => return close(&mut sink, code, &reason).await,
                // The client left, or broke the protocol (`Checked` asked for the close).
                None => {
                    if let Ok((code, reason)) = close_asked.try_recv() {
                        close(&mut sink, code, &reason).await;
                    }
                    return;
                }
            },
            ev = bus.recv() => match ev {
                Ok(BusEvent::SessionRevoked { session_id }) if session_id == principal.session_id => {
                    return close(&mut sink, CLOSE_UNAUTHENTICATED, "session revoked").await;
                }
                // A change the socket's schema already includes (published late by this
                // instance) is not a reason to reconnect.
                Ok(BusEvent::MetadataChanged { tenant_id, version })
                    if tenant_id == principal.tenant_id && version > schema_version =>
                {
                    return close(&mut sink, CLOSE_SCHEMA_CHANGED, "schema changed; reconnect").await;
                }
                Ok(BusEvent::AccessChanged { tenant_id, role_id, user_id })
                    if tenant_id == principal.tenant_id
                        && (role_id.as_deref() == Some(&principal.role_id)
                            || user_id.as_deref() == Some(&principal.user_id)) =>
                {
                    return close(&mut sink, CLOSE_SCHEMA_CHANGED, "access changed; reconnect").await;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                // The socket fell behind its control events: one it missed may have been its
                // session's revoke or its tenant's new definitions, which it must not outlive.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a socket missed control events; closing it");
                    let reason = format!("{missed} control events missed; reconnect");
                    return close(&mut sink, CLOSE_TOO_SLOW, &reason).await;
                }
                _ => {}
            },
            () = &mut expiry => return close(&mut sink, CLOSE_UNAUTHENTICATED, "access token expired").await,
            Some((code, reason)) = close_asked.recv() => return close(&mut sink, code, &reason).await,
        }
    }
}

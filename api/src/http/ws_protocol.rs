//! What `graphql-transport-ws` (graphql-ws's PROTOCOL.md) allows a client, checked before
//! async-graphql sees a message: only the protocol's message types, well formed (else close
//! `4400`); `connection_init` before any operation (else `4401`), within `INIT_TIMEOUT` (else
//! `4408`); an operation id live once at a time (else `4409`). async-graphql's own handling
//! closed with `1002` and serde's text (past the 123 bytes a close frame carries, an invalid
//! frame) and let a second `subscribe` replace a live one. Close reasons are cut to fit a
//! frame. The legacy `graphql-ws` subprotocol (subscriptions-transport-ws), served only when
//! `LEGACY_GRAPHQL_WS` is set, keeps async-graphql's handling.
//!
//! The protocol has no "subscribed" acknowledgement, so a client cannot know when a change it
//! causes will reach a subscription it just started. Here a `ping` is answered once every
//! operation subscribed before it has taken its place (`Settling`: a subscription listening
//! to its changes, any other operation answered or ended), at most `PING_HOLD` later: its
//! `pong` tells the client that what it subscribed to is listening.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use async_graphql::http::{ClientMessage, WebSocketProtocols};
use axum::extract::ws::{CloseFrame, Message};
use futures_util::task::AtomicWaker;
use futures_util::{FutureExt, SinkExt, Stream, StreamExt};
use serde_json::Value;

use crate::schema::ctx::{Settles, SocketCloser};

/// Close code: a message the protocol does not know, or a malformed one.
pub const CLOSE_BAD_REQUEST: u16 = 4400;
/// Close code: not authenticated (an operation before `connection_init`, a rejected
/// credential, or a session that ended).
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// Close code: no `connection_init` in time.
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// Close code: a `subscribe` with the id of an operation still live.
pub const CLOSE_SUBSCRIBER_EXISTS: u16 = 4409;

/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a `ping` waits for the operations subscribed before it to take their place.
const PING_HOLD: Duration = Duration::from_secs(10);
/// The longest close reason a frame carries: a control frame's 125 bytes, less the code's 2.
pub const MAX_REASON: usize = 123;

/// Closes the socket with `code` and `reason` (cut to `MAX_REASON` bytes).
pub async fn close(sink: &mut (impl SinkExt<Message> + Unpin), code: u16, reason: &str) {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame { code, reason: reason[..end].into() };
    let _ = sink.send(Message::Close(Some(frame))).await;
}

/// A breach of the protocol: the code and reason the socket closes with.
pub struct Violation {
    pub code: u16,
    pub reason: String,
}

fn bad(reason: String) -> Violation {
    Violation { code: CLOSE_BAD_REQUEST, reason }
}

/// The message types a client of `graphql-transport-ws` sends.
const CLIENT_TYPES: [&str; 5] = ["connection_init", "ping", "pong", "subscribe", "complete"];

/// A client message of `graphql-transport-ws`, or the violation it is.
fn read(bytes: &[u8]) -> Result<ClientMessage, Violation> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|_| bad("invalid message: not JSON".to_owned()))?;
    let ty = value.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
    if !CLIENT_TYPES.contains(&ty.as_str()) {
        return Err(bad(format!("invalid message: unknown type {ty:?}")));
    }
    serde_json::from_value(value).map_err(|e| bad(format!("invalid {ty} message: {e}")))
}

/// Waits for the client's `connection_init` and returns its payload, answering pings and
/// ignoring what needs no answer meanwhile. Anything else closes the socket as the protocol
/// says (then `None`), as does the client leaving.
pub async fn connection_init<S>(
    sink: &mut (impl SinkExt<Message> + Unpin),
    stream: &mut S,
    protocol: WebSocketProtocols,
) -> Option<Value>
where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + INIT_TIMEOUT;
    loop {
        let message = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                close(sink, CLOSE_INIT_TIMEOUT, "Connection initialisation timeout").await;
                return None;
            }
            Ok(None | Some(Err(_))) => return None,
            Ok(Some(Ok(m))) => m,
        };
        let bytes = match &message {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
            _ => continue,
        };
        let read = match protocol {
            WebSocketProtocols::GraphQLWS => read(bytes),
            // The legacy protocol keeps async-graphql's rules: connection_init first.
            WebSocketProtocols::SubscriptionsTransportWS => ClientMessage::from_bytes(bytes).map_err(|_| {
                Violation { code: CLOSE_INIT_TIMEOUT, reason: "connection_init expected".into() }
            }),
        };
        match read {
            Ok(ClientMessage::ConnectionInit { payload }) => return Some(payload.unwrap_or_default()),
            Ok(ClientMessage::Ping { .. }) => {
                if sink.send(Message::Text(r#"{"type":"pong"}"#.into())).await.is_err() {
                    return None;
                }
            }
            Ok(ClientMessage::Pong { .. } | ClientMessage::Stop { .. })
                if protocol == WebSocketProtocols::GraphQLWS => {}
            Ok(_) => {
                close(sink, CLOSE_UNAUTHORIZED, "Unauthorized").await;
                return None;
            }
            Err(v) => {
                close(sink, v.code, &v.reason).await;
                return None;
            }
        }
    }
}

/// The ids of a socket's live operations.
#[derive(Clone, Default)]
pub struct LiveIds(Arc<Mutex<HashSet<String>>>);

impl LiveIds {
    /// Marks `id` live; false when it already is.
    fn claim(&self, id: &str) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(id.to_owned())
    }

    /// Holds `id` live for as long as the returned value lives (an operation's stream keeps
    /// it: async-graphql drops the stream when the operation completes or the client
    /// completes it).
    pub fn hold(&self, id: OperationId) -> LiveId {
        LiveId { ids: self.clone(), id: id.0 }
    }
}

/// An operation id held live (see `LiveIds::hold`).
pub struct LiveId {
    ids: LiveIds,
    id: String,
}

impl Drop for LiveId {
    fn drop(&mut self) {
        self.ids.0.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.id);
    }
}

/// The id a `subscribe` message gave its operation, put into the operation's request data
/// for the executor (which holds it live while the operation's stream lives).
#[derive(Clone)]
pub struct OperationId(pub String);

/// A socket's operations that have been subscribed but have not taken their place yet.
#[derive(Clone, Default)]
pub struct Settling(Arc<SettlingInner>);

#[derive(Default)]
struct SettlingInner {
    pending: AtomicUsize,
    /// The socket's reader, waiting to pass a held `ping` on.
    waker: AtomicWaker,
}

impl Settling {
    /// An operation starting; it settles through the returned value.
    fn start(&self) -> Arc<Settle> {
        self.0.pending.fetch_add(1, Ordering::AcqRel);
        Arc::new(Settle { settling: self.clone(), done: AtomicBool::new(false) })
    }

    fn settled(&self) -> bool {
        self.0.pending.load(Ordering::Acquire) == 0
    }
}

/// One operation's place in `Settling`, put into its request data: a subscription resolver
/// settles it once it listens (`schema::ctx::listening`), the socket's executor when the
/// operation answers, and dropping it (the operation ended or was completed) settles it too.
pub struct Settle {
    settling: Settling,
    done: AtomicBool,
}

impl Settle {
    pub fn settle(&self) {
        if !self.done.swap(true, Ordering::AcqRel) {
            self.settling.0.pending.fetch_sub(1, Ordering::AcqRel);
            self.settling.0.waker.wake();
        }
    }
}

impl Settles for Settle {
    fn settle(&self) {
        Settle::settle(self)
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        self.settle();
    }
}

/// The client's messages after `connection_init`, each checked before async-graphql reads
/// it. A violation asks the socket to close (`SocketCloser`, read when this stream ends) and
/// ends the stream.
pub struct Checked<S> {
    inner: S,
    protocol: WebSocketProtocols,
    live: LiveIds,
    closer: SocketCloser,
    settling: Settling,
    /// A `ping` waiting for the operations before it to settle, with its deadline.
    held: Option<(ClientMessage, Pin<Box<tokio::time::Sleep>>)>,
    ended: bool,
}

impl<S> Checked<S> {
    pub fn new(inner: S, protocol: WebSocketProtocols, live: LiveIds, closer: SocketCloser) -> Self {
        Checked { inner, protocol, live, closer, settling: Settling::default(), held: None, ended: false }
    }

    fn admit(&self, bytes: &[u8]) -> Result<ClientMessage, Violation> {
        let mut message = read(bytes)?;
        if let ClientMessage::Start { id, payload } = &mut message {
            if !self.live.claim(id) {
                return Err(Violation {
                    code: CLOSE_SUBSCRIBER_EXISTS,
                    reason: format!("Subscriber for {id} already exists"),
                });
            }
            payload.data.insert(OperationId(id.clone()));
            payload.data.insert(self.settling.start() as Arc<dyn Settles>);
        }
        Ok(message)
    }

    /// The held `ping`, once the operations before it settled or its deadline passed.
    fn release(&mut self, cx: &mut Context<'_>) -> Poll<ClientMessage> {
        let Some((_, deadline)) = &mut self.held else { return Poll::Pending };
        self.settling.0.waker.register(cx.waker());
        if (self.settling.settled() || deadline.poll_unpin(cx).is_ready())
            && let Some((ping, _)) = self.held.take()
        {
            return Poll::Ready(ping);
        }
        Poll::Pending
    }
}

impl<S> Stream for Checked<S>
where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    type Item = serde_json::Result<ClientMessage>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.held.is_some() {
            return this.release(cx).map(|ping| Some(Ok(ping)));
        }
        while !this.ended {
            let message = match this.inner.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(m))) => m,
                Poll::Ready(None | Some(Err(_))) => break,
            };
            let bytes = match &message {
                Message::Text(t) => t.as_bytes(),
                Message::Binary(b) => b,
                // Ping, pong and close frames are the socket's business, not the protocol's.
                _ => continue,
            };
            if this.protocol == WebSocketProtocols::SubscriptionsTransportWS {
                return Poll::Ready(Some(ClientMessage::from_bytes(bytes)));
            }
            match this.admit(bytes) {
                Ok(ping @ ClientMessage::Ping { .. }) if !this.settling.settled() => {
                    this.held = Some((ping, Box::pin(tokio::time::sleep(PING_HOLD))));
                    return this.release(cx).map(|ping| Some(Ok(ping)));
                }
                Ok(m) => return Poll::Ready(Some(Ok(m))),
                Err(v) => {
                    this.closer.close(v.code, &v.reason);
                    break;
                }
            }
        }
        this.ended = true;
        Poll::Ready(None)
    }
}

//! How the instances of one deployment hear of each other's commits. The database outbox is
//! the source of truth: every `serve` instance tails it (`outbox`) and every job relay claims
//! from it (`relay`), each on a poll. `Peers` wakes them sooner:
//! - in one process, a commit wakes that process's tailer and relay at once (`committed`);
//! - with Redis (`REDIS_URL`), a commit is also published on a pub/sub channel, and every
//!   other instance wakes its own tailer and relay on it — a change made through one instance
//!   reaches subscribers on another in milliseconds, not at the next poll. Access signals
//!   (`signals::Announcement`: a revoked session, a tenant whose access or definitions changed)
//!   travel in the message itself, so the other instances drop cached credentials and close
//!   revoked sockets without waiting for their tailer's next read; `flush` publishes them
//!   before the response of the request that made them leaves.
//! - The message is a hint that arrives when the receiver's subscriber gets to it. For the
//!   guarantee that the caller's very next request sees the change whichever instance it
//!   reaches, each announced tenant also gets a new *stamp* in Redis (set in the same
//!   pipeline, before that response leaves), and an instance reads the caller's tenant's stamp
//!   on every request (`tenant_moved`): a stamp it has not seen means a change it may not
//!   have heard of yet, so it re-reads the caller's credentials instead of trusting its cache.
//!
//! Redis only carries hints. A message lost (Redis restarted, a reconnect, a slow subscriber)
//! costs time, not events: the tailer still reads every committed row from the outbox, on a
//! slower safety poll while the link is up and on its own interval while it is down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use entity::runtime::signals::{self, Announcement};
use futures_util::StreamExt;
use tokio::sync::{Notify, watch};

use crate::bus::{BusEvent, EventBus};
use crate::redis_conn::{RECONNECT, RedisConn};

/// How long a publish or the subscriber's connect may take before it is given up: a hint that
/// cannot be sent must not hold a response.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// The outbox poll while the Redis link is up (it only catches lost messages).
pub const SAFETY_POLL: Duration = Duration::from_secs(2);
/// How long a tenant's stamp stays in Redis, far beyond any credential cache's life: an
/// instance that finds it gone only re-reads the tenant once.
const STAMP_TTL_SECS: u64 = 7 * 24 * 3600;
/// Most tenants whose stamp an instance remembers; past it, it forgets them all (each then
/// costs one credential re-read).
const MAX_SEEN: usize = 100_000;

/// A message on the channel: `<instance> outbox`, `<instance> session <id>`, `<instance> tenant <id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Signal {
    Outbox,
    Announced(Announcement),
}

impl Signal {
    fn encode(&self, instance: &str) -> String {
        match self {
            Signal::Outbox => format!("{instance} outbox"),
            Signal::Announced(Announcement::Session(id)) => format!("{instance} session {id}"),
            Signal::Announced(Announcement::Tenant(id)) => format!("{instance} tenant {id}"),
        }
    }

    /// The sender and the signal of a message (`None`: not one of ours).
    fn decode(text: &str) -> Option<(&str, Signal)> {
        let mut parts = text.splitn(3, ' ');
        let (from, kind, arg) = (parts.next()?, parts.next()?, parts.next());
        let signal = match (kind, arg) {
            ("outbox", None) => Signal::Outbox,
            ("session", Some(id)) => Signal::Announced(Announcement::Session(id.to_owned())),
            ("tenant", Some(id)) => Signal::Announced(Announcement::Tenant(id.to_owned())),
            _ => return None,
        };
        Some((from, signal))
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct PeerStats {
    /// Messages from other instances acted on.
    pub received: AtomicU64,
    /// Messages published.
    pub sent: AtomicU64,
}

/// The commit signal of this process, and its Redis link when configured. Cheap to clone.
#[derive(Clone)]
pub struct Peers {
    inner: Arc<Inner>,
}

struct Inner {
    /// Bumped on every commit heard of (here or, through Redis, elsewhere).
    commits: watch::Sender<u64>,
    redis: Option<Link>,
}

struct Link {
    client: redis::Client,
    channel: String,
    /// This process, so it skips its own messages.
    instance: String,
    /// The subscriber is connected and subscribed.
    up: AtomicBool,
    /// Asks the publisher task to publish `outbox`.
    publish: Notify,
    /// The publishing connection (also reads stamps).
    conn: Arc<RedisConn>,
    /// Held while announcements are taken and sent, so that `flush` can wait for those the
    /// publisher task took.
    sending: tokio::sync::Mutex<()>,
    /// Key prefix of the tenants' stamps.
    stamps: String,
    /// Makes each stamp this instance sets unique.
    stamp_seq: AtomicU64,
    /// The stamp last seen per tenant.
    seen: Mutex<HashMap<String, String>>,
    stats: PeerStats,
}

impl Peers {
    /// One process on its own: commits wake only this process.
    pub fn local() -> Peers {
        Peers { inner: Arc::new(Inner { commits: watch::channel(0).0, redis: None }) }
    }

    /// Linked through Redis at `url`, on the channel of deployment `name`. Nothing connects
    /// until `start`.
    pub fn redis(url: &str, name: &str) -> Result<Peers, String> {
        let client = redis::Client::open(url).map_err(|e| format!("REDIS_URL: {e}"))?;
        let link = Link {
            conn: RedisConn::new(client.clone(), "the instances poll the outbox for each other's commits"),
            client,
            channel: format!("alphery:{name}:commits"),
            sending: tokio::sync::Mutex::new(()),
            stamps: format!("alphery:{name}:stamp:"),
            stamp_seq: AtomicU64::new(0),
            seen: Mutex::new(HashMap::new()),
            instance: uuid::Uuid::new_v4().simple().to_string(),
            up: AtomicBool::new(false),
            publish: Notify::new(),
            stats: PeerStats::default(),
        };
        Ok(Peers { inner: Arc::new(Inner { commits: watch::channel(0).0, redis: Some(link) }) })
    }

    /// Starts the Redis tasks (nothing without Redis): the subscriber, which wakes this
    /// process on other instances' commits and publishes their access signals on `bus` (a
    /// `serve` instance's; a worker has none), and the publisher of this process's commits.
    pub fn start(&self, bus: Option<EventBus>) {
        if self.inner.redis.is_none() {
            return;
        }
        signals::keep_announcements();
        let me = self.clone();
        tokio::spawn(async move { me.subscribe(bus).await });
        let me = self.clone();
        tokio::spawn(async move { me.publish_commits().await });
    }

    /// A transaction that wrote to the outbox committed: this process's tailer and relay look
    /// now, and (with Redis) every other instance's soon after.
    pub fn committed(&self) {
        self.inner.commits.send_modify(|n| *n = n.wrapping_add(1));
        if let Some(link) = &self.inner.redis {
            link.publish.notify_one();
        }
    }

    /// A receiver that changes on every commit heard of.
    pub fn commits(&self) -> watch::Receiver<u64> {
        self.inner.commits.subscribe()
    }

    /// Publishes the access signals queued by committed changes now (with their tenants'
    /// stamps), and returns once Redis has them or gave up — also those the publisher task
    /// took and is still sending: called before a response leaves, so that the next request,
    /// whichever instance it reaches, is answered with the change in force.
    pub async fn flush(&self) {
        let Some(link) = &self.inner.redis else { return };
        if !signals::announcements_outstanding() {
            return;
        }
        let _sending = link.sending.lock().await;
        let announced = signals::take_announcements();
        if !announced.is_empty() {
            link.announce(false, announced).await;
        }
    }

    /// Whether `tenant_id`'s access or definitions changed, through any instance, since this
    /// instance last looked: its stamp in Redis differs from the one seen (or none was seen
    /// yet). Without Redis, or while it is unreachable, `false` at once: changes then reach
    /// this instance through its subscriber or its outbox tailer, a moment later.
    pub async fn tenant_moved(&self, tenant_id: &str) -> bool {
        let Some(link) = &self.inner.redis else { return false };
        let Some(mut conn) = link.conn.get() else { return false };
        let mut get = redis::cmd("GET");
        get.arg(link.stamp_key(tenant_id));
        let read = get.query_async::<Option<String>>(&mut conn);
        let Some(stamp) = link.conn.within("reading a stamp", REDIS_TIMEOUT, read).await else {
            return false;
        };
        let stamp = stamp.unwrap_or_default();
        let Ok(mut seen) = link.seen.lock() else { return false };
        if seen.get(tenant_id) == Some(&stamp) {
            return false;
        }
        if seen.len() >= MAX_SEEN {
            seen.clear();
        }
        seen.insert(tenant_id.to_owned(), stamp);
        true
    }

    /// Whether the Redis link is up (no Redis: false). While it is, polls can be slow.
    pub fn linked(&self) -> bool {
        self.inner.redis.as_ref().is_some_and(|l| l.up.load(Ordering::Relaxed))
    }

    /// How long a poller of the outbox waits when nothing wakes it: `own` unless linked.
    pub fn poll(&self, own: Duration) -> Duration {
        if self.linked() { SAFETY_POLL.max(own) } else { own }
    }

    /// The loop of a poller of the outbox (the tailer, the job relay), run forever: `pass`
    /// again at once while it returns a full `batch` (more is waiting), else `between` and then
    /// a wait for the next commit heard of or `poll` (`Peers::poll`). Passes start at least
    /// `min_gap` apart: under a steady write load a wake per commit would cost one pass (a
    /// query, a claiming transaction) per write, where one pass per gap takes them together.
    /// A failed pass is logged as `"{what} failed"` and retried on the next wake.
    pub async fn drive<E, P, B>(
        &self,
        what: &str,
        (batch, poll, min_gap): (usize, Duration, Duration),
        mut pass: impl FnMut() -> P,
        mut between: impl FnMut() -> B,
    ) where
        E: std::fmt::Display,
        P: Future<Output = Result<usize, E>>,
        B: Future<Output = ()>,
    {
        let mut commits = self.commits();
        loop {
            let started = tokio::time::Instant::now();
            match pass().await {
                Ok(n) if n == batch => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "{what} failed"),
            }
            between().await;
            tokio::select! {
                _ = commits.changed() => {}
                () = tokio::time::sleep(self.poll(poll)) => {}
            }
            tokio::time::sleep_until(started + min_gap).await;
        }
    }

    /// Message counters (`None` without Redis).
    pub fn stats(&self) -> Option<&PeerStats> {
        self.inner.redis.as_ref().map(|l| &l.stats)
    }

    /// Publishes `outbox` (and any queued announcement) after commits, coalescing: commits that
    /// happen while one message is in flight share the next.
    async fn publish_commits(&self) {
        let Some(link) = &self.inner.redis else { return };
        loop {
            link.publish.notified().await;
            let _sending = link.sending.lock().await;
            link.announce(true, signals::take_announcements()).await;
        }
    }

    /// Listens on the channel for as long as the process runs, reconnecting while Redis is
    /// unreachable (the outbox poll covers the gap).
    async fn subscribe(&self, bus: Option<EventBus>) {
        let Some(link) = &self.inner.redis else { return };
        loop {
            match tokio::time::timeout(REDIS_TIMEOUT, link.client.get_async_pubsub()).await {
                Ok(Ok(mut pubsub)) => match pubsub.subscribe(&link.channel).await {
                    Ok(()) => {
                        link.up.store(true, Ordering::Relaxed);
                        tracing::info!(channel = %link.channel, "linked to the other instances through Redis");
                        // Commits made while the link was down: look at the outbox once now.
                        self.inner.commits.send_modify(|n| *n = n.wrapping_add(1));
                        let mut messages = pubsub.into_on_message();
                        while let Some(msg) = messages.next().await {
                            if let Ok(text) = msg.get_payload::<String>() {
                                self.heard(link, &text, bus.as_ref());
                            }
                        }
                        link.up.store(false, Ordering::Relaxed);
                        tracing::warn!("the Redis link is down: polling the outbox until it is back");
                    }
                    Err(e) => tracing::debug!(error = %e, "Redis subscribe failed"),
                },
                Ok(Err(e)) => tracing::debug!(error = %e, "Redis unreachable"),
                Err(_) => tracing::debug!("Redis connect timed out"),
            }
            tokio::time::sleep(RECONNECT).await;
        }
    }

    /// Acts on one message of another instance.
    fn heard(&self, link: &Link, text: &str, bus: Option<&EventBus>) {
        let Some((from, signal)) = Signal::decode(text) else { return };
        if from == link.instance {
            return;
        }
        link.stats.received.fetch_add(1, Ordering::Relaxed);
        match signal {
            Signal::Outbox => self.inner.commits.send_modify(|n| *n = n.wrapping_add(1)),
            Signal::Announced(a) => {
                let Some(bus) = bus else { return };
                bus.publish(match a {
                    Announcement::Session(session_id) => BusEvent::SessionRevoked { session_id },
                    // Drops the tenant's cached credentials (and with them the metadata
                    // version they carry); sockets wait for the outbox event, which says what
                    // changed.
                    Announcement::Tenant(tenant_id) => {
                        BusEvent::AccessChanged { tenant_id, role_id: None, user_id: None }
                    }
                });
            }
        }
    }
}

impl Link {
    fn stamp_key(&self, tenant_id: &str) -> String {
        format!("{}{tenant_id}", self.stamps)
    }

    /// Sends `outbox` (when asked) and `announced` in one pipeline: first a new stamp for each
    /// announced tenant, then the messages. Failures are logged and dropped (see the module
    /// doc: the outbox covers them).
    async fn announce(&self, outbox: bool, announced: Vec<Announcement>) {
        let stamps: Vec<(&str, String)> = announced
            .iter()
            .filter_map(|a| match a {
                Announcement::Tenant(id) => Some(id.as_str()),
                Announcement::Session(_) => None,
            })
            .map(|id| (id, format!("{}-{}", self.instance, self.stamp_seq.fetch_add(1, Ordering::Relaxed))))
            .collect();
        let mut pipe = redis::pipe();
        for (id, stamp) in &stamps {
            pipe.cmd("SET").arg(self.stamp_key(id)).arg(stamp).arg("EX").arg(STAMP_TTL_SECS).ignore();
        }
        let signals = outbox
            .then_some(Signal::Outbox)
            .into_iter()
            .chain(announced.iter().cloned().map(Signal::Announced));
        let mut messages = 0;
        for signal in signals {
            pipe.publish(&self.channel, signal.encode(&self.instance)).ignore();
            messages += 1;
        }
        if self.send(&pipe).await {
            self.stats.sent.fetch_add(messages, Ordering::Relaxed);
            // This instance made the changes and has dropped what they concern already.
            if let Ok(mut seen) = self.seen.lock() {
                for (id, stamp) in stamps {
                    seen.insert(id.to_owned(), stamp);
                }
            }
        }
        signals::announcements_done(announced.len());
    }

    /// Runs `pipe`; whether Redis took it. A connection made before Redis restarted fails its
    /// first command, so a failed send is tried once more on a fresh connection (the messages
    /// are hints and the stamps the same values: a repeat is harmless).
    async fn send(&self, pipe: &redis::Pipeline) -> bool {
        for _ in 0..2 {
            let Some(mut conn) = self.conn.get_or_connect().await else { return false };
            let sent = self.conn.within("publishing", REDIS_TIMEOUT, pipe.query_async::<()>(&mut conn));
            if sent.await.is_some() {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_foreign_ones_are_ignored() {
        let cases = [
            Signal::Outbox,
            Signal::Announced(Announcement::Session("s-1".into())),
            Signal::Announced(Announcement::Tenant("t-1".into())),
        ];
        for s in cases {
            let text = s.encode("me");
            assert_eq!(Signal::decode(&text), Some(("me", s)), "{text}");
        }
        for bad in ["", "me", "me outbox extra", "me session", "me tenant", "me other x"] {
            assert_eq!(Signal::decode(bad), None, "{bad}");
        }
    }
}

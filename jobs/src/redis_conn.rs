//! A Redis connection for work that must never wait on Redis (the instances' commit signals,
//! `peers`; the rate-limit counters, `api::rate`): while it is up, callers share one
//! multiplexed connection; once a command fails, the connection is dropped, callers get
//! `None` at once (and fall back to what they do without Redis), and a reconnect is tried in
//! the background at most once per `RECONNECT`. Falling back and coming back are logged once
//! each, saying what the fallback is.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

/// The longest a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// The least time between two connection attempts while Redis is unreachable.
pub const RECONNECT: Duration = Duration::from_secs(1);

/// See the module doc. Cheap to share (`Arc`).
pub struct RedisConn {
    client: redis::Client,
    /// What the callers do without Redis, for the log ("rate-limit counters are kept in memory").
    fallback: &'static str,
    /// The connection in use; `None` while Redis is unreachable.
    conn: RwLock<Option<MultiplexedConnection>>,
    /// A connection attempt is under way.
    connecting: AtomicBool,
    /// When the last connection attempt started.
    attempted: Mutex<Option<Instant>>,
    /// Woken when a connection attempt ends, for callers waiting on another's attempt.
    attempt_done: tokio::sync::Notify,
    /// The fallback is in force (logged once until Redis is back).
    degraded: AtomicBool,
}

impl RedisConn {
    /// Not connected yet: the first `get` starts an attempt (or call `connect` to wait for one).
    pub fn new(client: redis::Client, fallback: &'static str) -> Arc<RedisConn> {
        Arc::new(RedisConn {
            client,
            fallback,
            conn: RwLock::new(None),
            connecting: AtomicBool::new(false),
            attempted: Mutex::new(None),
            attempt_done: tokio::sync::Notify::new(),
            degraded: AtomicBool::new(false),
        })
    }

    /// The connection, or `None` at once while Redis is unreachable (a reconnect is started
    /// unless one is under way or was tried within `RECONNECT`).
    pub fn get(self: &Arc<Self>) -> Option<MultiplexedConnection> {
        let conn = self.conn.read().unwrap_or_else(PoisonError::into_inner).clone();
        if conn.is_none() {
            self.reconnect_soon();
        }
        conn
    }

    /// The connection, connecting first (awaited, at most `CONNECT_TIMEOUT`) when there is none,
    /// or waiting for the attempt under way: for callers that may wait a moment (the
    /// instances' publisher, one coalescing task), so that the first command after Redis
    /// returns is not lost. Such a caller does not wait out `RECONNECT` after a failed attempt:
    /// the spacing keeps the per-request `get` from hammering an unreachable Redis, and a
    /// request's `get` may well have just started (and failed, or be making) the attempt this
    /// caller needs.
    pub async fn get_or_connect(self: &Arc<Self>) -> Option<MultiplexedConnection> {
        if !self.up() {
            // Registered before looking, so an attempt that ends in between still wakes it.
            let done = self.attempt_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if self.claim(false) {
                self.clone().connect().await;
            } else {
                let _ = tokio::time::timeout(CONNECT_TIMEOUT, done).await;
            }
        }
        self.conn.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether a connection is held.
    pub fn up(&self) -> bool {
        self.conn.read().unwrap_or_else(PoisonError::into_inner).is_some()
    }

    /// A command on the connection failed (`why`): drops it, so callers fall back until a
    /// reconnect succeeds.
    pub fn lost(self: &Arc<Self>, why: &str) {
        *self.conn.write().unwrap_or_else(PoisonError::into_inner) = None;
        self.degrade("failed", why);
        self.reconnect_soon();
    }

    /// `command` (a command or pipeline run on one of this connection's handles) within
    /// `timeout`; on an error or a timeout the connection is dropped as `lost` (`what` says
    /// which command, in the log) and `None` is returned, so the caller falls back.
    pub async fn within<T>(
        self: &Arc<Self>,
        what: &str,
        timeout: Duration,
        command: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        match tokio::time::timeout(timeout, command).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                self.lost(&format!("{what}: {e}"));
                None
            }
            Err(_) => {
                self.lost(&format!("{what} timed out"));
                None
            }
        }
    }

    /// One connection attempt, awaited.
    pub async fn connect(self: Arc<Self>) {
        self.connecting.store(true, Ordering::Relaxed);
        *self.attempted.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        match tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_multiplexed_async_connection()).await {
            Ok(Ok(conn)) => {
                *self.conn.write().unwrap_or_else(PoisonError::into_inner) = Some(conn);
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!(fallback = self.fallback, "Redis is back");
                }
            }
            Ok(Err(e)) => self.degrade("unreachable", &e.to_string()),
            Err(_) => self.degrade("unreachable", "connect timed out"),
        }
        self.connecting.store(false, Ordering::Relaxed);
        self.attempt_done.notify_waiters();
    }

    /// Starts a connection attempt in the background, unless one is under way or the last one
    /// was less than `RECONNECT` ago.
    fn reconnect_soon(self: &Arc<Self>) {
        if self.claim(true) {
            let me = self.clone();
            tokio::spawn(async move { me.connect().await });
        }
    }

    /// Whether a connection attempt may start now (none under way and, when `spaced`, none
    /// within `RECONNECT`); if so, it is marked as started.
    fn claim(&self, spaced: bool) -> bool {
        let mut attempted = self.attempted.lock().unwrap_or_else(PoisonError::into_inner);
        if (spaced && attempted.is_some_and(|at| at.elapsed() < RECONNECT))
            || self.connecting.swap(true, Ordering::Relaxed)
        {
            return false;
        }
        *attempted = Some(Instant::now());
        true
    }

    fn degrade(&self, how: &str, why: &str) {
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %why, "Redis {how}: {} until it is back", self.fallback);
        }
    }
}

//! Authenticated credentials kept in memory, so a request does not pay a database round trip
//! (a transaction, on PostgreSQL) to learn who is calling. An entry is the principal a session
//! or API key resolved to, with the session's expiry.
//!
//! Freshness, in order of speed:
//! - a change of this instance (logout, key revoked, user deactivated, role or definitions
//!   changed) marks its tenant while it is written (`signals::touch`); an entry read before
//!   that mark settles is not trusted, so the very next request reads the database again;
//! - every instance's outbox tailer publishes the same changes to its bus after they commit,
//!   and `listen` evicts the entries they concern (sessions, or the whole tenant);
//! - an entry is re-read after `AUTH_CACHE_SECS` whatever happens, bounding what a lost
//!   signal could leave; a session's own expiry is checked on every hit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use entity::runtime::signals;
use jobs::{BusEvent, EventBus};
use tokio::sync::broadcast::error::RecvError;

use super::principal::Principal;

/// Most entries kept; past it, expired entries go first, then everything.
const MAX_ENTRIES: usize = 100_000;

struct Entry {
    principal: Principal,
    /// When the session expires (API keys: never).
    expires_at: Option<DateTime<Utc>>,
    /// When the database read behind this entry started.
    read_at: Instant,
}

/// The cache (`ttl` zero: disabled).
pub struct AuthCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

/// The cache key of a session (by id) or an API key (by its stored hash).
pub enum CredentialKey<'a> {
    Session(&'a str),
    ApiKey(&'a str),
}

impl CredentialKey<'_> {
    fn text(&self) -> String {
        match self {
            CredentialKey::Session(id) => format!("s:{id}"),
            CredentialKey::ApiKey(hash) => format!("k:{hash}"),
        }
    }
}

impl AuthCache {
    pub fn new(ttl: Duration) -> Self {
        AuthCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// The cached principal of a credential, if it is still to be trusted.
    pub fn get(&self, key: &CredentialKey<'_>) -> Option<Principal> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        let e = entries.get(&key.text())?;
        let fresh = e.read_at.elapsed() < self.ttl
            && e.expires_at.is_none_or(|t| t > Utc::now())
            && signals::settled(&e.principal.tenant_id, e.read_at);
        fresh.then(|| e.principal.clone())
    }

    /// Remembers what a credential resolved to, read from the database from `read_at` on.
    pub fn put(
        &self,
        key: &CredentialKey<'_>,
        principal: &Principal,
        expires_at: Option<DateTime<Utc>>,
        read_at: Instant,
    ) {
        if self.ttl.is_zero() || !signals::settled(&principal.tenant_id, read_at) {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                let ttl = self.ttl;
                entries.retain(|_, e| e.read_at.elapsed() < ttl);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(key.text(), Entry { principal: principal.clone(), expires_at, read_at });
        }
    }

    fn evict(&self, keep: impl Fn(&Entry) -> bool) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, e| keep(e));
        }
    }

    /// Evicts on every access signal the bus carries (this instance's and, through the
    /// outbox, every other's) until the bus closes. A listener that fell behind has missed
    /// signals: it forgets everything.
    pub async fn listen(&self, bus: &EventBus) {
        let mut rx = bus.subscribe();
        loop {
            match rx.recv().await {
                Ok(BusEvent::SessionRevoked { session_id }) => {
                    self.evict(|e| e.principal.session_id != session_id);
                }
                Ok(
                    BusEvent::AccessChanged { tenant_id, .. } | BusEvent::MetadataChanged { tenant_id, .. },
                ) => {
                    self.evict(|e| e.principal.tenant_id != tenant_id);
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => self.evict(|_| false),
                Err(RecvError::Closed) => return,
            }
        }
    }
}

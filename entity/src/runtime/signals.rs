//! Access signals that every server instance must hear (they close sockets and evict cached
//! credentials): a session or API key revoked, a role's permissions or a user's role changed,
//! a tenant's definitions changed (`metadata_changed`, which also bumps the tenant's metadata
//! version: the definition changes and the index slot jobs both announce through it). Written to
//! the outbox in the transaction of the change, so every instance's tailer publishes them after
//! commit.
//!
//! This process also remembers when it last wrote one for each tenant (`touch`), before the
//! change commits: a credential cache must not trust what it read around that moment, and
//! cannot wait for the tailer to learn of its own instance's changes.
//!
//! Each signal is also queued as an `Announcement` for the other instances: when Redis links
//! them (`jobs::peers`), they hear of it as soon as the change commits instead of at their
//! tailer's next look at the outbox; `jobs::peers` also stamps each announced tenant in Redis,
//! and an instance that finds a new stamp `mark`s the tenant as this process's own changes are
//! marked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;

use super::outbox::{self, AccessChanged, MetadataChanged, SessionRevoked};
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, Result};

/// Longest a change is expected to take from writing its signal to committing: a credential
/// read this long after the last signal of its tenant is trusted again.
pub const SETTLE: Duration = Duration::from_secs(2);

fn touched_map() -> &'static Mutex<HashMap<String, Instant>> {
    static TOUCHED: OnceLock<Mutex<HashMap<String, Instant>>> = OnceLock::new();
    TOUCHED.get_or_init(Default::default)
}

/// What the other instances are told once the change that queued it has committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// A session or API key (by id) was revoked.
    Session(String),
    /// A tenant's access or definitions changed.
    Tenant(String),
}

/// Most announcements kept while nothing takes them (peers unreachable): the oldest go first.
const MAX_PENDING: usize = 1024;

/// Whether anything takes the announcements (set once peers are linked): without, none are kept.
static ANNOUNCING: AtomicBool = AtomicBool::new(false);

/// Starts keeping announcements for `take_announcements`.
pub fn keep_announcements() {
    ANNOUNCING.store(true, Ordering::Relaxed);
}

fn pending_map() -> &'static Mutex<Vec<Announcement>> {
    static PENDING: OnceLock<Mutex<Vec<Announcement>>> = OnceLock::new();
    PENDING.get_or_init(Default::default)
}

/// Announcements queued, and those sent (or given up): while they differ, some announcement
/// is queued or on its way, and a response that must not overtake it waits (`jobs::peers`).
static QUEUED: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);

fn queue(a: Announcement) {
    if !ANNOUNCING.load(Ordering::Relaxed) {
        return;
    }
    if let Ok(mut q) = pending_map().lock() {
        if q.len() >= MAX_PENDING {
            q.remove(0);
            DONE.fetch_add(1, Ordering::Relaxed);
        }
        if !q.contains(&a) {
            q.push(a);
            QUEUED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether an announcement is queued or taken but not yet sent.
pub fn announcements_outstanding() -> bool {
    QUEUED.load(Ordering::Relaxed) != DONE.load(Ordering::Relaxed)
}

/// `n` announcements taken by `take_announcements` were sent (or given up).
pub fn announcements_done(n: usize) {
    DONE.fetch_add(n as u64, Ordering::Relaxed);
}

/// The announcements queued since the last call (in the order they were queued).
pub fn take_announcements() -> Vec<Announcement> {
    pending_map().lock().map(|mut q| std::mem::take(&mut *q)).unwrap_or_default()
}

/// Records that an access or definition change of `tenant_id` is being written now.
pub fn touch(tenant_id: &str) {
    queue(Announcement::Tenant(tenant_id.to_owned()));
    mark(tenant_id);
}

/// Records that an access or definition change of `tenant_id` may be committing now, here or
/// on another instance: what was read about the tenant before this is not trusted until the
/// change settles.
pub fn mark(tenant_id: &str) {
    if let Ok(mut m) = touched_map().lock() {
        let now = Instant::now();
        // Entries older than SETTLE no longer matter: keep the map small.
        if m.len() > 4096 {
            m.retain(|_, at| now.duration_since(*at) < SETTLE);
        }
        m.insert(tenant_id.to_owned(), now);
    }
}

/// Whether something read about `tenant_id` at `read_at` may be trusted: no access or
/// definition change of the tenant was being written by this process at or shortly before.
pub fn settled(tenant_id: &str, read_at: Instant) -> bool {
    match touched_map().lock() {
        Ok(m) => m.get(tenant_id).is_none_or(|at| read_at >= *at + SETTLE),
        Err(_) => false,
    }
}

pub async fn session_revoked(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    session_id: &str,
) -> Result<()> {
    touch(tenant_id);
    queue(Announcement::Session(session_id.to_owned()));
    let event = SessionRevoked { session_id: session_id.to_owned() };
    outbox::write(txn, d, tenant_id, &event).await
}

pub async fn access_changed(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    role_id: Option<&str>,
    user_id: Option<&str>,
) -> Result<()> {
    touch(tenant_id);
    let event = AccessChanged { role_id: role_id.map(str::to_owned), user_id: user_id.map(str::to_owned) };
    outbox::write(txn, d, tenant_id, &event).await
}

/// Bumps the tenant's metadata version and records the change for every instance (the
/// change event that drops cached definitions and schemas).
pub async fn metadata_changed(conn: &impl ConnectionTrait, d: Dialect, tenant_id: &str) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE tenants SET metadata_version = metadata_version + 1 WHERE id = ");
    buf.bind(tenant_id.to_owned()).push(" RETURNING metadata_version");
    let version: i64 = conn
        .query_one_raw(buf.into_statement())
        .await?
        .ok_or_else(|| Error::NotFound("tenant".into()))?
        .try_get("", "metadata_version")?;
    touch(tenant_id);
    let event = MetadataChanged { tenant_id: tenant_id.to_owned(), version };
    outbox::write(conn, d, tenant_id, &event).await
}

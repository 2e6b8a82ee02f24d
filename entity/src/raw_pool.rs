//! The connections requests read and write through on PostgreSQL (`db::ReadScope`,
//! `pipeline::Pipeline`). They are kept apart from SeaORM's pool because that pool checks every
//! connection it takes back with a round trip of its own (a Sync), which for a read request
//! that otherwise costs one round trip doubled the count. A connection carries no state from
//! one request to the next: each read is one simple-protocol message whose tenant setting ends
//! with the message, and a write transaction ends with the message that commits it. So a
//! connection whose last message ran to its end, outside a transaction, goes straight back to
//! the idle list, and one whose message failed or was abandoned midway (a cancelled request),
//! or that a transaction still holds, is closed instead, as its state is unknown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sea_orm::sqlx::{Connection, Either, Error};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// An idle connection older than this is pinged before use: the server or a proxy may have
/// dropped it meanwhile.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(30);
/// How long a read or write waits for a connection when all are busy.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Statements a connection keeps prepared (`Lease::prepared`), least recently used dropped.
const PREPARED_PER_CONNECTION: usize = 128;

/// The raw connections: at most `max` open, idle ones reused newest first.
pub struct RawPool {
    options: PgConnectOptions,
    idle: Mutex<Vec<(RawConnection, Instant)>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for RawPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawPool")
            .field("available", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

/// A connection and the statements it has prepared.
struct RawConnection {
    conn: PgConnection,
    prepared: PreparedNames,
}

/// The names of the statements one connection has prepared, at most `capacity`.
#[derive(Debug)]
struct PreparedNames {
    /// Statement text -> its parameter types, name number and last use.
    names: HashMap<String, Entry>,
    /// The last name number handed out, also the use clock.
    clock: u64,
    capacity: usize,
}

/// A statement's name on a connection, and what the message running it must do first.
#[derive(Debug)]
pub struct Prepared {
    pub name: String,
    /// Not prepared on this connection yet: the message must PREPARE it.
    pub new: bool,
    /// A statement to DEALLOCATE to make room.
    pub evicted: Option<String>,
}

#[derive(Debug)]
struct Entry {
    types: String,
    number: u64,
    used: u64,
}

fn statement_name(n: u64) -> String {
    format!("alphery_s_{n}")
}

/// A connection taken from the pool for one request or one write transaction.
pub struct Lease {
    conn: Option<RawConnection>,
    pool: Arc<RawPool>,
    /// False from the start of a message until it has run to its end, and while held (`hold`).
    clean: bool,
    _permit: OwnedSemaphorePermit,
}

impl RawPool {
    /// A pool connecting with `options` (the main pool's: same user, role and settings).
    pub fn new(options: PgConnectOptions, max: usize) -> Arc<RawPool> {
        Arc::new(RawPool { options, idle: Mutex::new(Vec::new()), permits: Arc::new(Semaphore::new(max)) })
    }

    /// A connection: an idle one (pinged first if it idled long) or a new one.
    pub async fn acquire(self: &Arc<Self>) -> Result<Lease, Error> {
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Error::PoolTimedOut)?
            .map_err(|_| Error::PoolClosed)?;
        loop {
            let idle = self.idle.lock().map_err(|_| Error::PoolClosed)?.pop();
            let conn = match idle {
                Some((mut conn, since)) => {
                    if since.elapsed() > CHECK_AFTER_IDLE && conn.conn.ping().await.is_err() {
                        continue;
                    }
                    conn
                }
                None => RawConnection {
                    conn: PgConnection::connect_with(&self.options).await?,
                    prepared: PreparedNames::new(PREPARED_PER_CONNECTION),
                },
            };
            return Ok(Lease { conn: Some(conn), pool: self.clone(), clean: true, _permit: permit });
        }
    }
}

impl PreparedNames {
    fn new(capacity: usize) -> Self {
        PreparedNames { names: HashMap::new(), clock: 0, capacity }
    }

    /// The name of statement `sql` with parameter `types`, recording its use. A new statement
    /// (or the same text with other types) takes a new name and, when the connection is full,
    /// the least recently used statement's place.
    fn name_for(&mut self, sql: &str, types: &str) -> Prepared {
        self.clock += 1;
        let clock = self.clock;
        let full = self.names.len() >= self.capacity;
        let mut evicted = None;
        match self.names.get_mut(sql) {
            Some(e) if e.types == types => {
                e.used = clock;
                return Prepared { name: statement_name(e.number), new: false, evicted: None };
            }
            Some(e) => evicted = Some(statement_name(e.number)),
            None if full => {
                let oldest = self.names.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone());
                if let Some(e) = oldest.and_then(|k| self.names.remove(&k)) {
                    evicted = Some(statement_name(e.number));
                }
            }
            None => {}
        }
        self.names.insert(sql.to_owned(), Entry { types: types.to_owned(), number: clock, used: clock });
        Prepared { name: statement_name(clock), new: true, evicted }
    }
}

impl Lease {
    /// The name statement `sql` with parameter `types` has on this connection. The caller's message must prepare it
    /// when `new` and deallocate `evicted` first. What this records holds once such a message
    /// has run to its end: until then the connection counts as unclean, so if the message is
    /// never sent or fails, the connection is closed, and with it what was recorded.
    pub fn prepared(&mut self, sql: &str, types: &str) -> Result<Prepared, Error> {
        let prepared = self.conn.as_mut().ok_or(Error::PoolClosed)?.prepared.name_for(sql, types);
        if prepared.new || prepared.evicted.is_some() {
            self.clean = false;
        }
        Ok(prepared)
    }

    /// Marks the connection as held in a state only its holder can end (an open transaction):
    /// given back before a later message ends that state, it is closed.
    pub fn hold(&mut self) {
        self.clean = false;
    }

    /// Runs `message` (several statements, simple protocol) and returns the rows of its last
    /// statement.
    pub async fn run(&mut self, message: String) -> Result<Vec<PgRow>, Error> {
        use futures_util::TryStreamExt;

        let conn = &mut self.conn.as_mut().ok_or(Error::PoolClosed)?.conn;
        self.clean = false;
        let mut results = sea_orm::sqlx::raw_sql(sea_orm::sqlx::AssertSqlSafe(message)).fetch_many(conn);
        // The stream yields each statement's rows, then its result.
        let (mut last, mut current) = (Vec::new(), Vec::new());
        while let Some(item) = results.try_next().await? {
            match item {
                Either::Left(_) => last = std::mem::take(&mut current),
                Either::Right(row) => current.push(row),
            }
        }
        drop(results);
        self.clean = true;
        Ok(last)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take().filter(|_| self.clean)
            && let Ok(mut idle) = self.pool.idle.lock()
        {
            idle.push((conn, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_connection_deallocates_its_least_recently_used_statement() {
        let mut names = PreparedNames::new(2);
        let a = names.name_for("a", "text");
        assert!(a.new && a.evicted.is_none());
        let b = names.name_for("b", "text");
        assert!(b.new && b.evicted.is_none() && b.name != a.name);
        let again = names.name_for("a", "text");
        assert!(!again.new && again.name == a.name && again.evicted.is_none());
        // "b" is now the least recently used.
        let c = names.name_for("c", "text");
        assert!(c.new && c.evicted.as_deref() == Some(b.name.as_str()));
        let b2 = names.name_for("b", "text");
        assert!(b2.new && b2.name != b.name && b2.evicted.as_deref() == Some(a.name.as_str()));
        // The same text with other parameter types replaces its own entry.
        let c2 = names.name_for("c", "int8");
        assert!(c2.new && c2.name != c.name && c2.evicted.as_deref() == Some(c.name.as_str()));
    }
}

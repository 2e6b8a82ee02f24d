//! Rate limiting (`RATE_LIMITED`, HTTP 429 with `Retry-After`). Three kinds of budget:
//! - a tenant's GraphQL operations, and a user's (an API key's: its own), each operation
//!   costing its complexity (one point per selected field, as `MAX_QUERY_COMPLEXITY` counts),
//!   so a client asking for much uses its budget faster than one asking for little;
//! - attempts of a public sign-in operation (`signup`, `login`, `refreshToken`,
//!   `acceptInvite`, `requestPasswordReset`, `resetPassword`) on one account from one client address, which stops password guessing
//!   and token probing without letting one address lock everybody out;
//! - deliveries to one inbound webhook from one client address.
//!
//! The algorithm is a fixed window of one minute per budget: a counter per budget and minute,
//! checked and increased together. It is exact, costs one small counter per budget, and maps
//! onto one atomic Redis script (several instances share the same counters). Its known flaw —
//! a client may spend one budget at the end of a minute and another at the start of the next
//! — at most doubles a burst, which a limit of this kind tolerates. A refused request is not
//! charged, so a heavy operation refused does not stop lighter ones that still fit, and a
//! client retrying early does not push its own reset further out. `Retry-After` is the time
//! left in the minute.
//!
//! Counters live in Redis when `REDIS_URL` is set (one Lua script per request: check every
//! budget, then add to all), else in this process: a hash map sharded by mutex, keyed by a
//! 64-bit keyed hash of the budget (no allocation or string on the hot path: one hash and one
//! lock per budget), swept of past minutes as it goes and bounded in size. When Redis fails or
//! times out, counting falls back to memory at once (logged once), and the connection is
//! retried in the background: no request fails or waits because Redis is down.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jobs::redis_conn::RedisConn;
use sha2::{Digest, Sha256};

use crate::auth::principal::Principal;
use crate::config::Config;
use crate::error::ApiError;

/// The length of a window, seconds.
pub const WINDOW_SECS: u64 = 60;
/// Shards of the in-memory counters (locks taken by different budgets rarely collide).
const SHARDS: usize = 32;
/// Counters one shard holds at most (262,144 in all, a few MiB): beyond, the least used of
/// the minute makes room, so a flood of new budgets cannot grow memory nor evict a budget
/// that is actually being spent.
const SHARD_CAPACITY: usize = 8192;
/// How long a Redis call may take before counting falls back to memory.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// The public operations limited per client address and account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Signup,
    Login,
    RefreshToken,
    AcceptInvite,
    /// `requestPasswordReset` (on a tenant and email) and `resetPassword` (on a token).
    PasswordReset,
    /// A delivery to an inbound webhook (`POST /hooks/workflows/{id}`).
    Webhook,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Signup => "signup",
            Action::Login => "login",
            Action::RefreshToken => "refreshToken",
            Action::AcceptInvite => "acceptInvite",
            Action::PasswordReset => "passwordReset",
            Action::Webhook => "webhook",
        }
    }
}

/// One budget.
#[derive(Debug, Clone, Copy, Hash)]
enum Bucket<'a> {
    /// A tenant's GraphQL operations.
    Tenant(&'a str),
    /// A user's (or an API key's) GraphQL operations.
    Caller(&'a str),
    /// Attempts of `action` on `account` from `ip`.
    Attempt { action: Action, ip: IpAddr, account: &'a str },
}

impl Bucket<'_> {
    /// The Redis key of this budget in `window`. Accounts are hashed: emails and tokens are
    /// not written to Redis.
    fn redis_key(&self, prefix: &str, window: u64) -> String {
        match self {
            Bucket::Tenant(id) => format!("{prefix}:tenant:{id}:{window}"),
            Bucket::Caller(id) => format!("{prefix}:caller:{id}:{window}"),
            Bucket::Attempt { action, ip, account } => {
                let digest = Sha256::digest(account.as_bytes());
                let account = entity::hex::encode(&digest[..16]);
                format!("{prefix}:{}:{ip}:{account}:{window}", action.name())
            }
        }
    }

    /// What a refused client is told.
    fn refusal(&self, limit: u64, retry_after: u64) -> ApiError {
        let message = match self {
            Bucket::Tenant(_) => format!(
                "rate limit: this tenant's operations have spent their {limit} complexity points of this minute; retry in {retry_after} s"
            ),
            Bucket::Caller(_) => format!(
                "rate limit: your operations have spent their {limit} complexity points of this minute; retry in {retry_after} s"
            ),
            Bucket::Attempt { action: Action::Webhook, .. } => format!(
                "rate limit: more than {limit} deliveries to this webhook from your address this minute; retry in {retry_after} s"
            ),
            Bucket::Attempt { action, .. } => format!(
                "rate limit: more than {limit} {} attempts for this account from your address this minute; retry in {retry_after} s",
                action.name()
            ),
        };
        ApiError::RateLimited { message, retry_after }
    }
}

/// In a request's data: its operation is charged already (its compiled plan was, then
/// declined to answer), so the executor does not charge it again.
pub struct Prepaid;

/// In a request's data: where the executor leaves the complexity it measured, so the plan
/// learnt from this request is charged the same.
#[derive(Debug, Default)]
pub struct Measured(AtomicU64);

impl Measured {
    pub fn set(&self, cost: u64) {
        self.0.store(cost, Ordering::Relaxed);
    }

    /// The measured complexity (at least 1).
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed).max(1)
    }
}

/// The account part of an attempt's budget: its identifying inputs, trimmed and lower-cased
/// (as sign-in compares them), one per line.
pub fn account(parts: &[&str]) -> String {
    parts.iter().map(|p| p.trim().to_lowercase()).collect::<Vec<_>>().join("\n")
}

/// The budget a client address belongs to: itself, or for IPv6 its /64 (one host usually
/// holds a whole /64, so per-address budgets would be free to multiply).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

/// The rate limiter of this process (see the module doc).
pub struct Limiter {
    enabled: bool,
    tenant_limit: u64,
    caller_limit: u64,
    auth_limit: u64,
    webhook_limit: u64,
    memory: Memory,
    redis: Option<RedisCounters>,
}

impl Limiter {
    /// The limiter `config` asks for. With Redis configured, the first connection is attempted
    /// here (briefly), so a server that starts with Redis up counts there from its first request.
    pub async fn start(config: &Config) -> Result<Limiter, ApiError> {
        let redis = match config.redis_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) if config.rate_limit => {
                let client =
                    redis::Client::open(url).map_err(|e| ApiError::BadRequest(format!("REDIS_URL: {e}")))?;
                let counters = RedisCounters::new(client, &config.queue_name);
                counters.conn.clone().connect().await;
                Some(counters)
            }
            _ => None,
        };
        Ok(Limiter {
            enabled: config.rate_limit,
            tenant_limit: config.rate_limit_tenant,
            caller_limit: config.rate_limit_user,
            auth_limit: config.rate_limit_auth,
            webhook_limit: config.rate_limit_webhook,
            memory: Memory::new(),
            redis,
        })
    }

    /// Charges a GraphQL operation of `cost` complexity points to the caller and its tenant.
    pub async fn operation(&self, p: &Principal, cost: u64) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        let caller = p.api_key_id.as_deref().unwrap_or(&p.user_id);
        let buckets =
            [(Bucket::Caller(caller), self.caller_limit), (Bucket::Tenant(&p.tenant_id), self.tenant_limit)];
        self.charge(&buckets, cost.max(1)).await
    }

    /// Charges one attempt of `action` from `ip` on each of `accounts` (`account`); refused
    /// when any of them has no attempt left this minute.
    pub async fn attempt(&self, action: Action, ip: IpAddr, accounts: &[&str]) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        let limit = if action == Action::Webhook { self.webhook_limit } else { self.auth_limit };
        let ip = client_key(ip);
        let buckets: Vec<(Bucket<'_>, u64)> =
            accounts.iter().map(|&account| (Bucket::Attempt { action, ip, account }, limit)).collect();
        self.charge(&buckets, 1).await
    }

    /// Whether counting is in Redis right now (`None`: Redis is not configured).
    pub fn redis_up(&self) -> Option<bool> {
        self.redis.as_ref().map(|r| r.conn.up())
    }

    async fn charge(&self, buckets: &[(Bucket<'_>, u64)], cost: u64) -> Result<(), ApiError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let window = now / WINDOW_SECS;
        let from_redis = match &self.redis {
            Some(r) => r.charge(buckets, cost, window).await,
            None => None,
        };
        let outcome = match from_redis {
            Some(outcome) => outcome,
            None => self.memory.charge(buckets, cost, window),
        };
        outcome.map_err(|i| {
            let (bucket, limit) = buckets[i];
            bucket.refusal(limit, WINDOW_SECS - now % WINDOW_SECS)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------------------------

/// A map keyed by hashes already computed (with a secret key, so clients cannot aim at
/// collisions): hashing them again would be wasted work.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A budget's spending in one window.
struct Slot {
    window: u64,
    used: u64,
}

#[derive(Default)]
struct Shard {
    slots: HashMap<u64, Slot, BuildHasherDefault<Prehashed>>,
    /// The window whose past counters were last dropped.
    swept: u64,
}

impl Shard {
    /// Adds `cost` to `key` unless that passes `limit`.
    fn try_add(&mut self, key: u64, window: u64, cost: u64, limit: u64) -> bool {
        if self.swept != window {
            self.slots.retain(|_, s| s.window == window);
            self.swept = window;
        }
        if let Some(slot) = self.slots.get_mut(&key) {
            if slot.window != window {
                *slot = Slot { window, used: 0 };
            }
            if slot.used.saturating_add(cost) > limit {
                return false;
            }
            slot.used += cost;
            return true;
        }
        if cost > limit {
            return false;
        }
        if self.slots.len() >= SHARD_CAPACITY
            && let Some(least) = self.slots.iter().min_by_key(|(_, s)| s.used).map(|(k, _)| *k)
        {
            self.slots.remove(&least);
        }
        self.slots.insert(key, Slot { window, used: cost });
        true
    }

    /// Takes back a charge (another budget of the same request refused it).
    fn refund(&mut self, key: u64, window: u64, cost: u64) {
        if let Some(slot) = self.slots.get_mut(&key).filter(|s| s.window == window) {
            slot.used = slot.used.saturating_sub(cost);
        }
    }
}

struct Memory {
    shards: Box<[Mutex<Shard>]>,
    /// Keyed per process: which budget lands in which slot cannot be predicted from outside.
    hasher: RandomState,
}

impl Memory {
    fn new() -> Memory {
        Memory { shards: (0..SHARDS).map(|_| Mutex::default()).collect(), hasher: RandomState::new() }
    }

    fn shard(&self, key: u64) -> std::sync::MutexGuard<'_, Shard> {
        // Bits the map inside does not use pick the shard: it places entries by the low bits
        // and tells them apart by the top seven, which must stay as varied as the keys.
        self.shards[(key >> 32) as usize % SHARDS].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Charges `cost` to every budget, or to none: `Err(i)` names the first that refused.
    fn charge(&self, buckets: &[(Bucket<'_>, u64)], cost: u64, window: u64) -> Result<(), usize> {
        for (i, (bucket, limit)) in buckets.iter().enumerate() {
            let key = self.hasher.hash_one(bucket);
            if !self.shard(key).try_add(key, window, cost, *limit) {
                for (earlier, _) in &buckets[..i] {
                    let key = self.hasher.hash_one(earlier);
                    self.shard(key).refund(key, window, cost);
                }
                return Err(i);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// In Redis
// ---------------------------------------------------------------------------------------------

/// Checks every budget, then charges all of them, atomically. KEYS: the budgets' counters;
/// ARGV: the cost, the counters' lifetime (seconds), then each budget's limit. Returns 0, or
/// the 1-based index of the first budget that refused (nothing charged then).
const CHARGE: &str = r"
local cost = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  if used + cost > tonumber(ARGV[i + 2]) then return i end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCRBY', key, cost) == cost then redis.call('EXPIRE', key, ARGV[2]) end
end
return 0
";

struct RedisCounters {
    /// `alphery:<QUEUE_NAME>:rate`: deployments sharing one Redis keep apart.
    prefix: String,
    script: redis::Script,
    /// `None` while Redis is unreachable: counting is in memory then.
    conn: Arc<RedisConn>,
}

impl RedisCounters {
    fn new(client: redis::Client, name: &str) -> RedisCounters {
        RedisCounters {
            prefix: format!("alphery:{name}:rate"),
            script: redis::Script::new(CHARGE),
            conn: RedisConn::new(client, "rate-limit counters are kept in memory"),
        }
    }

    /// The outcome from Redis, or `None` when Redis cannot answer now (count in memory).
    async fn charge(
        &self,
        buckets: &[(Bucket<'_>, u64)],
        cost: u64,
        window: u64,
    ) -> Option<Result<(), usize>> {
        let mut conn = self.conn.get()?;
        let mut call = self.script.prepare_invoke();
        for (bucket, _) in buckets {
            call.key(bucket.redis_key(&self.prefix, window));
        }
        call.arg(cost).arg(2 * WINDOW_SECS);
        for (_, limit) in buckets {
            call.arg(*limit);
        }
        match self.conn.within("charging", REDIS_TIMEOUT, call.invoke_async::<i64>(&mut conn)).await? {
            0 => Some(Ok(())),
            i => Some(Err(usize::try_from(i - 1).unwrap_or(0).min(buckets.len().saturating_sub(1)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn config(redis_url: Option<&str>) -> Config {
        let mut c = Config::for_tests("sqlite::memory:");
        c.redis_url = redis_url.map(str::to_owned);
        c.rate_limit_auth = 3;
        c
    }

    fn code_and_wait(r: Result<(), ApiError>) -> Option<u64> {
        match r {
            Ok(()) => None,
            Err(ApiError::RateLimited { retry_after, .. }) => Some(retry_after),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn memory_counts_attempts_per_account_and_refuses_beyond_the_limit() {
        let limiter = Limiter::start(&config(None)).await.expect("limiter");
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        for _ in 0..3 {
            assert_eq!(code_and_wait(limiter.attempt(Action::Login, ip, &["a"]).await), None);
        }
        let wait = code_and_wait(limiter.attempt(Action::Login, ip, &["a"]).await).expect("refused");
        assert!((1..=WINDOW_SECS).contains(&wait), "{wait}");
        // Another account, another action, another address: budgets of their own.
        assert!(limiter.attempt(Action::Login, ip, &["b"]).await.is_ok());
        assert!(limiter.attempt(Action::Signup, ip, &["a"]).await.is_ok());
        assert!(limiter.attempt(Action::Login, "192.0.2.8".parse().expect("ip"), &["a"]).await.is_ok());
    }

    #[tokio::test]
    async fn a_refused_budget_charges_none_of_the_others() {
        let limiter = Limiter::start(&config(None)).await.expect("limiter");
        let ip: IpAddr = "192.0.2.9".parse().expect("ip");
        for _ in 0..3 {
            assert!(limiter.attempt(Action::Signup, ip, &["slug"]).await.is_ok());
        }
        // "email" fits, "slug" does not: "email" keeps its three attempts.
        assert!(limiter.attempt(Action::Signup, ip, &["email", "slug"]).await.is_err());
        for _ in 0..3 {
            assert!(limiter.attempt(Action::Signup, ip, &["email"]).await.is_ok());
        }
        assert!(limiter.attempt(Action::Signup, ip, &["email"]).await.is_err());
    }

    #[tokio::test]
    async fn a_redis_that_does_not_answer_leaves_counting_to_memory_without_waiting() {
        // A "Redis" that accepts connections and never answers: the first connection attempt
        // (at start) times out, and requests count in memory meanwhile instead of waiting.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("redis://{}/", silent.local_addr().expect("addr"));
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                open.push(socket);
            }
        });
        let limiter = Limiter::start(&config(Some(&url))).await.expect("limiter");
        assert_eq!(limiter.redis_up(), Some(false));
        let ip: IpAddr = "192.0.2.10".parse().expect("ip");
        let started = Instant::now();
        for _ in 0..3 {
            assert!(limiter.attempt(Action::Login, ip, &["a"]).await.is_ok());
        }
        assert!(limiter.attempt(Action::Login, ip, &["a"]).await.is_err(), "memory still limits");
        // Four requests that each waited for Redis would take 4 × REDIS_TIMEOUT.
        assert!(started.elapsed() < 4 * REDIS_TIMEOUT, "requests waited for Redis: {:?}", started.elapsed());
        held.abort();
    }

    #[test]
    fn ipv6_clients_share_their_64_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert_eq!(client_key(mapped), "192.0.2.1".parse::<IpAddr>().expect("ip"));
    }

    #[test]
    fn a_full_shard_evicts_its_least_used_counter() {
        let mut shard = Shard::default();
        assert!(shard.try_add(u64::MAX, 1, 5, 10));
        for key in 0..SHARD_CAPACITY as u64 {
            assert!(shard.try_add(key, 1, 1, 10));
        }
        assert_eq!(shard.slots.len(), SHARD_CAPACITY);
        assert!(shard.slots.contains_key(&u64::MAX), "the most used counter stays");
        // A new window drops the last one's counters.
        assert!(shard.try_add(7, 2, 1, 10));
        assert_eq!(shard.slots.len(), 1);
    }
}

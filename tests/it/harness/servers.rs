//! The test database (SQLite file or a PostgreSQL database per process), the servers of this
//! process, the SMTP sink they send to, and the `alphery` processes a test starts (`Proc`).

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};

use super::eventually;

// ---------------------------------------------------------------------------------------------
// Database and server
// ---------------------------------------------------------------------------------------------

/// The database the shared server (and any extra server of this process) runs on.
pub struct TestDatabase {
    pub url: String,
}

static DATABASE: OnceLock<TestDatabase> = OnceLock::new();
static SERVER: OnceLock<Server> = OnceLock::new();
static SHORT_TTL_SERVER: OnceLock<Server> = OnceLock::new();
static SMALL_CACHE_SERVER: OnceLock<Server> = OnceLock::new();
static TINY_BUFFER_SERVER: OnceLock<Server> = OnceLock::new();
static RATE_LIMITED_SERVER: OnceLock<Server> = OnceLock::new();
static REDIS_RATE_SERVERS: OnceLock<(Server, Server)> = OnceLock::new();
static LEGACY_WS_SERVER: OnceLock<Server> = OnceLock::new();
static PUBLIC_NETWORK_SERVER: OnceLock<Server> = OnceLock::new();

/// Access-token lifetime of [`short_ttl_server`].
pub const SHORT_TTL_SECS: u64 = 2;

/// Schema cache budget of [`small_cache_server`], MiB: room for a few shapes of the test's
/// tenants (a shape weighs about 1.2 MB with every platform feature), so that more tenants than
/// that force evictions.
pub const SMALL_CACHE_MB: usize = 5;

/// A running server, reachable over real TCP.
pub struct Server {
    pub addr: SocketAddr,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/graphql/ws", self.addr)
    }
}

/// The database of this test process, created on first use.
pub fn database() -> &'static TestDatabase {
    // Preparation needs async I/O, and callers are usually inside a test's runtime, where
    // blocking on another runtime is not allowed: do it on a plain thread.
    DATABASE.get_or_init(|| {
        std::thread::spawn(prepare_database).join().expect("preparing the test database panicked (see above)")
    })
}

/// The shared server's pool size, smaller than production's
/// (`DEFAULT_POOL`, 20: with the raw pools and both roles up to 72 connections) so that it and
/// the dedicated servers, whose pools keep what they opened, stay within PostgreSQL's 100
/// connections together: with 20, a full PostgreSQL run under load held all 100 (every one
/// idle in the shared database), and the next connection any server asked for failed.
const SHARED_POOL: u32 = 8;

/// The `PUBLIC_URL` of the shared server (links in its emails start with it).
pub const PUBLIC_URL: &str = "https://app.example.test";

/// The server shared by every test of this binary.
pub fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        start_server(|c| {
            c.database_pool = SHARED_POOL;
            c.public_url = Some(PUBLIC_URL.into());
        })
    })
}

/// A second server on the same database whose access tokens and password reset tokens expire
/// after [`SHORT_TTL_SECS`].
pub fn short_ttl_server() -> &'static Server {
    // Start (and so migrate) the shared server first: two servers must not migrate one
    // database at the same time.
    server();
    SHORT_TTL_SERVER.get_or_init(|| {
        start_server(|c| {
            c.access_token_ttl_secs = SHORT_TTL_SECS;
            c.password_reset_ttl_secs = SHORT_TTL_SECS;
        })
    })
}

/// A server on the same database whose schema cache holds [`SMALL_CACHE_MB`], for the one
/// test that reads its cache counters (no other test's requests reach it).
pub fn small_cache_server() -> &'static Server {
    server();
    SMALL_CACHE_SERVER.get_or_init(|| start_server(|c| c.schema_cache_mb = SMALL_CACHE_MB))
}

/// A server on the same database whose subscription groups hold one change
/// (`LIVE_BUFFER=1`), for the one test that reads its fan-out counters and makes a subscriber
/// fall behind.
pub fn tiny_buffer_server() -> &'static Server {
    server();
    TINY_BUFFER_SERVER.get_or_init(|| start_server(|c| c.live_buffer = 1))
}

/// The budgets of [`rate_limited_server`] and [`redis_rate_servers`]: complexity points per
/// minute of one user or API key, and of one tenant.
pub const RATE_USER: u64 = 100;
pub const RATE_TENANT: u64 = 160;
/// Attempts per minute of a sign-in operation on one account, and deliveries to one inbound
/// webhook, from one address.
pub const RATE_AUTH: u64 = 5;
pub const RATE_WEBHOOK: u64 = 5;

/// Low rate limits on a server of their own (the shared server keeps the defaults, which no
/// test reaches), counted in memory. Runs no job workers: the shared server's take the jobs.
fn low_rate_limits(c: &mut alphery_api::config::Config) {
    c.rate_limit_user = RATE_USER;
    c.rate_limit_tenant = RATE_TENANT;
    c.rate_limit_auth = RATE_AUTH;
    c.rate_limit_webhook = RATE_WEBHOOK;
    c.workers = false;
}

/// A server with [`low_rate_limits`], counted in its own memory.
pub fn rate_limited_server() -> &'static Server {
    server();
    RATE_LIMITED_SERVER.get_or_init(|| start_server(low_rate_limits))
}

/// Two servers with [`low_rate_limits`] counted in one Redis (`redis://127.0.0.1:6379`,
/// under a name of this test process, so parallel runs keep apart), which trust
/// `X-Forwarded-For` (as behind a proxy).
pub fn redis_rate_servers() -> &'static (Server, Server) {
    server();
    REDIS_RATE_SERVERS.get_or_init(|| {
        let name = format!("alphery.it-rate-{}", uuid::Uuid::new_v4().simple());
        let tweak = move |c: &mut alphery_api::config::Config| {
            low_rate_limits(c);
            c.redis_url = Some("redis://127.0.0.1:6379".into());
            c.queue_name = name;
            c.trust_forwarded_for = true;
        };
        (start_server(tweak.clone()), start_server(tweak))
    })
}

/// A server on the same database that also speaks the legacy `graphql-ws` websocket
/// subprotocol (`LEGACY_GRAPHQL_WS=true`), which the others refuse.
pub fn legacy_ws_server() -> &'static Server {
    server();
    LEGACY_WS_SERVER.get_or_init(|| start_server(|c| c.legacy_graphql_ws = true))
}

/// A server on the same database with the production default for OpenID Connect providers:
/// only public addresses (`OIDC_ALLOW_PRIVATE_NETWORK` off). No job workers, small pools.
pub fn public_network_server() -> &'static Server {
    server();
    PUBLIC_NETWORK_SERVER.get_or_init(|| {
        start_server(|c| {
            c.oidc_allow_private_network = false;
            c.workers = false;
            c.database_pool = 2;
        })
    })
}

/// A server of its own on the PostgreSQL database `url` (`scratch_postgres_database`), which it
/// migrates, with small pools and no job workers: for a test that changes that database's
/// schema between requests. It stops, closing its connections, when the handle is dropped —
/// unlike the other servers, which live as long as the process — so that the connections it
/// held go back to the other tests (PostgreSQL's `max_connections` is shared).
pub struct OwnServer {
    pub server: &'static Server,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub fn own_server(url: &str) -> OwnServer {
    let tweak = |c: &mut alphery_api::config::Config| {
        c.database_pool = 2;
        c.workers = false;
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = start_server_on(url.to_owned(), tweak, Some(stopped));
    // The address only: a few bytes, and what `TestTenant`'s API client wants.
    OwnServer { server: Box::leak(Box::new(server)), _stop: stop }
}

/// A server of its own on this process's database, configured by `tweak` (a test module that
/// needs a setting no other server has keeps it in a `OnceLock` of its own).
pub fn start_server(tweak: impl FnOnce(&mut alphery_api::config::Config) + Send + 'static) -> Server {
    start_server_on(database().url.clone(), tweak, None)
}

/// A server on `database_url`, running until `stop` fires or its sender is dropped (`None`: as
/// long as the process).
fn start_server_on(
    database_url: String,
    tweak: impl FnOnce(&mut alphery_api::config::Config) + Send + 'static,
    stop: Option<tokio::sync::oneshot::Receiver<()>>,
) -> Server {
    let smtp_port = smtp_sink().port;
    let (tx, rx) = std::sync::mpsc::channel::<Result<SocketAddr, String>>();
    std::thread::Builder::new()
        .name("alphery-it-server".into())
        .spawn(move || {
            // Each #[tokio::test] has its own short-lived runtime; the server must outlive all of
            // them, so it gets a runtime of its own, which ends (and with it every task and
            // connection of the server) when the server stops.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("build the server runtime");
            runtime.block_on(async move {
                let mut config = alphery_api::config::Config::for_tests(&database_url);
                config.smtp_url = Some(format!("smtp://127.0.0.1:{smtp_port}"));
                // A dedicated server runs a few tests: small pools keep this binary's servers
                // (each with four pools) within PostgreSQL's 100 connections, beside the
                // shared server's (`SHARED_POOL`).
                config.database_pool = 4;
                // The tests' OpenID Connect providers run on 127.0.0.1
                // (`public_network_server` shows the refusal without this).
                config.oidc_allow_private_network = true;
                tweak(&mut config);
                match alphery_api::server::start(config).await {
                    Ok(running) => {
                        let _ = tx.send(Ok(running.addr));
                        // Keep the handle (and whatever it owns) alive until the server stops.
                        let _running = running;
                        match stop {
                            Some(stop) => {
                                let _ = stop.await;
                            }
                            None => std::future::pending::<()>().await,
                        }
                    }
                    Err(err) => {
                        let _ = tx.send(Err(format!("{err:?}")));
                    }
                }
            });
        })
        .expect("spawn the server thread");
    let addr = rx
        .recv_timeout(Duration::from_secs(180))
        .expect("the server did not start within 180 s")
        .unwrap_or_else(|err| panic!("the server failed to start: {err}"));
    Server { addr }
}

/// The SMTP server every test server sends its email to (`tests/support/smtp_sink.py`, a real
/// aiosmtpd server): it records each message as a JSON line in `out`.
pub struct SmtpSink {
    pub port: u16,
    pub out: std::path::PathBuf,
    /// Lives as long as the test process (the sink exits by itself when its parent does).
    _process: std::sync::Mutex<std::process::Child>,
}

static SMTP_SINK: OnceLock<SmtpSink> = OnceLock::new();

pub fn smtp_sink() -> &'static SmtpSink {
    SMTP_SINK.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port for the SMTP sink")
            .port();
        let out = std::env::temp_dir().join(format!("alphery-it-smtp-{}-{port}.jsonl", std::process::id()));
        let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("support/smtp_sink.py");
        let process = std::process::Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start the SMTP sink (python3 with aiosmtpd; tests/run.sh installs it)");
        // Blocking: this runs inside `OnceLock::get_or_init`, from code that cannot await.
        eventually("the SMTP sink to listen (is aiosmtpd installed?)", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .blocking();
        SmtpSink { port, out, _process: std::sync::Mutex::new(process) }
    })
}

impl SmtpSink {
    /// Every message received so far.
    pub fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line from the SMTP sink"))
            .collect()
    }

    /// The messages to `address` received so far, without waiting: what a test reads to show
    /// that no more arrived.
    pub fn messages_to(&self, address: &str) -> Vec<Value> {
        self.messages()
            .into_iter()
            .filter(|m| m["to"].as_array().is_some_and(|t| t.contains(&json!(address))))
            .collect()
    }

    /// The messages to `address` once there are at least `n` of them (waits up to `within`).
    #[track_caller]
    pub fn wait_for<'a>(
        &'a self,
        address: &'a str,
        n: usize,
        within: Duration,
    ) -> impl Future<Output = Vec<Value>> + 'a {
        eventually(format!("{n} message(s) to {address}"), within, async move || {
            let got = self.messages_to(address);
            if got.len() >= n { Ok(got) } else { Err(got) }
        })
        .into_future()
    }
}

fn prepare_database() -> TestDatabase {
    match std::env::var("ALPHERY_TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            prepare_postgres(&url)
        }
        Ok(url) if !url.trim().is_empty() => {
            panic!("ALPHERY_TEST_DATABASE_URL must be a postgres:// URL or unset, got {url:?}")
        }
        _ => prepare_sqlite(),
    }
}

fn prepare_sqlite() -> TestDatabase {
    remove_leftover_sqlite_dirs();
    let dir = std::env::temp_dir().join(format!(
        "alphery-it-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("create the SQLite temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.join("it.db").display());
    eprintln!("alphery-tests: backend = SQLite ({url})");
    TestDatabase { url }
}

fn prepare_postgres(admin_url: &str) -> TestDatabase {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build the database setup runtime");
    runtime.block_on(async {
        let admin = sea_orm::Database::connect(admin_url).await.unwrap_or_else(|err| {
            panic!(
                "PostgreSQL was requested (ALPHERY_TEST_DATABASE_URL={admin_url}) but is \
                 unreachable: {err}. Refusing to fall back to SQLite."
            )
        });
        let rows = admin
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT datname FROM pg_database WHERE datname LIKE 'alphery\\_it\\_%'",
            ))
            .await
            .expect("list leftover test databases");
        for row in rows {
            let name: String = row.try_get("", "datname").expect("datname");
            if owner_process_alive(&name) {
                // Another test process on this machine is still using it.
                continue;
            }
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await
                .unwrap_or_else(|err| panic!("drop leftover database {name}: {err}"));
        }
        let name = format!("alphery_it_{}_{}", since_epoch().as_secs(), std::process::id());
        create_database(admin, &name, "test").await;
        let url = with_database_name(admin_url, &name);
        eprintln!("alphery-tests: backend = PostgreSQL (database {name})");
        TestDatabase { url }
    })
}

/// A new, empty PostgreSQL database beside the suite's (same server and user), for a test that
/// needs a database of its own; its URL. Named like the suite's, so a later run drops it once
/// this process is gone.
pub async fn scratch_postgres_database() -> String {
    let suite = &database().url;
    let admin = sea_orm::Database::connect(suite.as_str()).await.expect("connect to the test database");
    let name = format!("alphery_it_s{}_{}", since_epoch().as_nanos(), std::process::id());
    create_database(admin, &name, "scratch").await;
    with_database_name(suite, &name)
}

/// The time since 1970, for database names no earlier run used.
fn since_epoch() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970")
}

/// Creates the database `name` through the connection `admin`, then closes it; `what` kind of
/// database it is says a failure.
async fn create_database(admin: sea_orm::DatabaseConnection, name: &str, what: &str) {
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap_or_else(|err| panic!("create {what} database {name}: {err}"));
    let _ = admin.close().await;
}

/// Drops a database of `scratch_postgres_database` (FORCE: whatever connection of its stopped
/// servers is still closing ends too).
pub async fn drop_scratch_database(url: &str) {
    let name = url.rsplit('/').next().and_then(|tail| tail.split('?').next()).expect("a database name");
    assert!(name.starts_with("alphery_it_s"), "not a scratch database: {url}");
    let admin =
        sea_orm::Database::connect(database().url.as_str()).await.expect("connect to the test database");
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .unwrap_or_else(|err| panic!("drop scratch database {name}: {err}"));
    let _ = admin.close().await;
}

/// SQLite test databases live in `<tmp>/alphery-it-<pid>-<uuid>/`; remove those whose process is
/// gone (a test process cannot clean up after itself: statics are never dropped).
fn remove_leftover_sqlite_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("alphery-it-") else { continue };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !pid_alive(pid)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Test databases are named `alphery_it_<secs>_<pid>`; one is a leftover when its process is gone.
fn owner_process_alive(database_name: &str) -> bool {
    database_name.rsplit('_').next().and_then(|p| p.parse::<u32>().ok()).is_some_and(pid_alive)
}

/// `postgres://u@h:5432/test?x=y` with the database name replaced.
fn with_database_name(url: &str, database: &str) -> String {
    let scheme_end = url.find("://").expect("a URL with a scheme") + 3;
    let (scheme, rest) = url.split_at(scheme_end);
    let query = rest.find('?').map_or("", |i| &rest[i..]);
    let authority = rest[..rest.len() - query.len()].split('/').next().unwrap_or_default();
    format!("{scheme}{authority}/{database}{query}")
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// A started `alphery` process, killed when dropped (a failing assertion must not leave it
/// running). Its stdout and stderr go to a file, which failure messages quote.
pub struct Proc(pub std::process::Child, pub std::path::PathBuf);

impl Proc {
    /// What the process printed so far (the last 4,000 characters).
    pub fn output(&self) -> String {
        let text = std::fs::read_to_string(&self.1).unwrap_or_default();
        let tail = text.char_indices().rev().nth(4000).map_or(0, |(i, _)| i);
        format!("--- {} ---\n{}", self.1.display(), &text[tail..])
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A test failing while the process runs shows what it printed beside the panic.
        if std::thread::panicking() {
            eprintln!("{}", self.output());
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

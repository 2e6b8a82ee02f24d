//! Shared test harness: the database (a fresh SQLite file, or a fresh PostgreSQL database when
//! `ALPHERY_TEST_DATABASE_URL` is set), one server per test binary on its own runtime, HTTP and
//! `graphql-transport-ws` clients, a fresh tenant per test, and JSON assertion helpers.
//!
//! Every test module goes through these helpers so that no request, login or socket code is
//! repeated across files.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::header::HeaderMap;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a response, a websocket message or a close frame.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a test waits after `subscribe` before it causes events: the protocol has no
/// "subscribed" acknowledgement, so this gives the server time to register the stream.
pub const SUBSCRIBE_SETTLE: Duration = Duration::from_millis(600);
/// How long a test listens to prove that an event is *not* delivered.
pub const SILENCE: Duration = Duration::from_millis(1500);

/// Every `extensions.code` the contract allows.
pub const ERROR_CODES: &[&str] = &[
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "VALIDATION_FAILED",
    "CONFLICT",
    "RATE_LIMITED",
    "QUERY_TOO_COMPLEX",
    "BAD_REQUEST",
    "INTERNAL",
];

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

/// Access-token lifetime of [`short_ttl_server`].
pub const SHORT_TTL_SECS: u64 = 2;

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

/// The server shared by every test of this binary.
pub fn server() -> &'static Server {
    SERVER.get_or_init(|| start_server(None))
}

/// A second server on the same database whose access tokens expire after [`SHORT_TTL_SECS`].
pub fn short_ttl_server() -> &'static Server {
    // Start (and so migrate) the shared server first: two servers must not migrate one
    // database at the same time.
    server();
    SHORT_TTL_SERVER.get_or_init(|| start_server(Some(SHORT_TTL_SECS)))
}

fn start_server(access_token_ttl_secs: Option<u64>) -> Server {
    let database_url = database().url.clone();
    let smtp_port = smtp_sink().port;
    let (tx, rx) = std::sync::mpsc::channel::<Result<SocketAddr, String>>();
    std::thread::Builder::new()
        .name("alphery-it-server".into())
        .spawn(move || {
            // Each #[tokio::test] has its own short-lived runtime; the server must outlive all of
            // them, so it gets a runtime of its own that lives as long as the process.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("build the server runtime");
            runtime.block_on(async move {
                let mut config = alphery_api::config::Config::for_tests(&database_url);
                config.smtp_url = Some(format!("smtp://127.0.0.1:{smtp_port}"));
                if let Some(ttl) = access_token_ttl_secs {
                    config.access_token_ttl_secs = ttl;
                }
                match alphery_api::server::start(config).await {
                    Ok(running) => {
                        let _ = tx.send(Ok(running.addr));
                        // Keep the handle (and whatever it owns) alive for the whole process.
                        let _running = running;
                        std::future::pending::<()>().await;
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
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the SMTP sink did not start (is aiosmtpd installed?)"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
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

    /// The messages to `address`, waiting up to `within` for at least `n` of them.
    pub async fn wait_for(&self, address: &str, n: usize, within: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got: Vec<Value> = self
                .messages()
                .into_iter()
                .filter(|m| m["to"].as_array().is_some_and(|t| t.contains(&json!(address))))
                .collect();
            if got.len() >= n || tokio::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let name = format!("alphery_it_{secs}_{}", std::process::id());
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|err| panic!("create test database {name}: {err}"));
        let _ = admin.close().await;
        let url = with_database_name(admin_url, &name);
        eprintln!("alphery-tests: backend = PostgreSQL (database {name})");
        TestDatabase { url }
    })
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
// HTTP
// ---------------------------------------------------------------------------------------------

/// A credential to send with a request.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Bearer(String),
    ApiKey(String),
}

/// An HTTP response with its body parsed as JSON when it is JSON (`Value::Null` otherwise).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII header").to_owned())
    }

    pub fn errors(&self) -> Vec<Value> {
        self.body["errors"].as_array().cloned().unwrap_or_default()
    }

    /// `data`, after asserting there is no error.
    pub fn data(&self) -> Value {
        assert!(
            self.errors().is_empty() && self.status == 200,
            "expected success, got HTTP {}: {}",
            self.status,
            self.text
        );
        self.body["data"].clone()
    }

    /// The first error's `extensions.code` (asserting there is an error).
    pub fn code(&self) -> String {
        let errors = self.errors();
        assert!(!errors.is_empty(), "expected an error, got: {}", self.text);
        errors[0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("error without extensions.code: {}", self.text))
            .to_owned()
    }

    pub fn expect_code(&self, code: &str) -> &Self {
        assert_eq!(self.code(), code, "unexpected error code in {}", self.text);
        self
    }

    /// `extensions.fields[].field` of a `VALIDATION_FAILED` error.
    pub fn field_errors(&self) -> Vec<String> {
        self.expect_code("VALIDATION_FAILED");
        let fields = self.errors()[0]["extensions"]["fields"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("VALIDATION_FAILED without extensions.fields: {}", self.text));
        fields
            .iter()
            .map(|f| {
                assert!(
                    f["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "field error without a message: {}",
                    self.text
                );
                f["field"].as_str().expect("field error without `field`").to_owned()
            })
            .collect()
    }

    /// Asserts `VALIDATION_FAILED` whose field list has an entry mentioning `needle`
    /// (input-definition errors may name a path such as `fields.1.key`).
    pub fn expect_field_error_mentioning(&self, needle: &str) -> &Self {
        let fields = self.field_errors();
        assert!(
            fields.iter().any(|f| f.contains(needle)),
            "expected a field error mentioning {needle:?}, got {fields:?} in {}",
            self.text
        );
        self
    }

    /// Asserts `VALIDATION_FAILED` listing exactly these fields (in any order).
    pub fn expect_field_errors(&self, expected: &[&str]) -> &Self {
        let mut fields = self.field_errors();
        fields.sort();
        fields.dedup();
        let mut expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        expected.sort();
        assert_eq!(fields, expected, "field errors of {}", self.text);
        self
    }

    /// Asserts that every error carries one of the contract's codes.
    pub fn assert_every_error_has_code(&self) {
        let errors = self.errors();
        assert!(!errors.is_empty(), "expected errors, got {}", self.text);
        for error in errors {
            let code = error["extensions"]["code"].as_str().unwrap_or_default();
            assert!(ERROR_CODES.contains(&code), "error without a contract code: {error} in {}", self.text);
        }
    }
}

/// A small HTTP client bound to one server. Create it inside the test that uses it: pooled
/// connections belong to the runtime that opened them.
#[derive(Clone)]
pub struct Api {
    pub server: &'static Server,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(server: &'static Server) -> Api {
        Api {
            server,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("build the HTTP client"),
        }
    }

    /// The shared server.
    pub fn shared() -> Api {
        Api::new(server())
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Sends a request built by the caller and collects the response.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Response {
        let response = request.send().await.expect("HTTP request failed");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("read the response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Response { status, headers, text, body }
    }

    pub fn with_auth(request: reqwest::RequestBuilder, auth: &Auth) -> reqwest::RequestBuilder {
        match auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::ApiKey(key) => request.header("x-api-key", key),
        }
    }

    /// `POST /graphql` with a JSON body.
    pub async fn post_json(&self, auth: &Auth, body: &Value) -> Response {
        let request = self.http.post(self.url("/graphql")).json(body);
        self.send(Self::with_auth(request, auth)).await
    }

    /// A GraphQL operation over `POST /graphql`.
    pub async fn graphql(&self, auth: &Auth, query: &str, variables: Value) -> Response {
        self.post_json(auth, &json!({ "query": query, "variables": variables })).await
    }

    /// `GET <path>` with extra headers.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }
}

// ---------------------------------------------------------------------------------------------
// Auth operations and tenants
// ---------------------------------------------------------------------------------------------

/// Selection of an `AuthPayload`.
pub const AUTH_PAYLOAD: &str = "accessToken refreshToken \
    user { id email name role createdAt } tenant { id name slug timeZone createdAt }";

pub const PASSWORD: &str = "correct horse battery staple";

/// A slug no other test uses.
pub fn unique_slug() -> String {
    format!("it-{}", &uuid::Uuid::new_v4().simple().to_string()[..20])
}

pub async fn signup(api: &Api, name: &str, slug: &str, email: &str, password: &str) -> Response {
    let query = format!(
        "mutation($n: String!, $s: String!, $e: String!, $p: String!) {{
            signup(input: {{tenantName: $n, tenantSlug: $s, email: $e, password: $p}}) {{ {AUTH_PAYLOAD} }}
        }}"
    );
    api.graphql(&Auth::None, &query, json!({ "n": name, "s": slug, "e": email, "p": password })).await
}

pub async fn login(api: &Api, tenant: &str, email: &str, password: &str) -> Response {
    let query = format!(
        "mutation($t: String!, $e: String!, $p: String!) {{
            login(input: {{tenant: $t, email: $e, password: $p}}) {{ {AUTH_PAYLOAD} }}
        }}"
    );
    api.graphql(&Auth::None, &query, json!({ "t": tenant, "e": email, "p": password })).await
}

pub async fn refresh(api: &Api, refresh_token: &str) -> Response {
    let query = format!("mutation($t: String!) {{ refreshToken(token: $t) {{ {AUTH_PAYLOAD} }} }}");
    api.graphql(&Auth::None, &query, json!({ "t": refresh_token })).await
}

/// A freshly signed-up tenant and its owner, with a client for its API.
pub struct TestTenant {
    pub api: Api,
    pub access_token: String,
    pub refresh_token: String,
    pub slug: String,
    pub name: String,
    pub email: String,
    pub password: String,
    pub user_id: String,
    pub tenant_id: String,
}

/// Signs up a new tenant on the shared server.
pub async fn tenant() -> TestTenant {
    tenant_on(server()).await
}

/// Signs up a new tenant on the given server.
pub async fn tenant_on(server: &'static Server) -> TestTenant {
    let api = Api::new(server);
    let slug = unique_slug();
    let name = format!("Tenant {slug}");
    let email = format!("owner@{slug}.example.com");
    let data = signup(&api, &name, &slug, &email, PASSWORD).await.data();
    let payload = &data["signup"];
    TestTenant {
        api,
        access_token: str_of(&payload["accessToken"]),
        refresh_token: str_of(&payload["refreshToken"]),
        slug,
        name,
        email,
        password: PASSWORD.to_owned(),
        user_id: str_of(&payload["user"]["id"]),
        tenant_id: str_of(&payload["tenant"]["id"]),
    }
}

/// The selection of an `EntityDefinition`.
pub const ENTITY_DEFINITION: &str = "id nameSingular namePlural labelSingular labelPlural icon \
    recordNumberPrefix typeName createdAt updatedAt fields { id key graphqlName label type \
    required unique indexed options relatedEntity relationKind default validation labels position }";

impl TestTenant {
    pub fn auth(&self) -> Auth {
        Auth::Bearer(self.access_token.clone())
    }

    /// The full response of an operation run as this tenant's owner.
    pub async fn request(&self, query: &str, variables: Value) -> Response {
        self.api.graphql(&self.auth(), query, variables).await
    }

    /// The full response body.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.request(query, variables).await.body
    }

    /// `data`, asserting there is no error.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        self.request(query, variables).await.data()
    }

    /// The first error's code, asserting there is an error.
    pub async fn error_code(&self, query: &str, variables: Value) -> String {
        self.request(query, variables).await.code()
    }

    /// Logs in again (a new session) and returns the access token.
    pub async fn new_session(&self) -> (String, String) {
        let data = login(&self.api, &self.slug, &self.email, &self.password).await.data();
        (str_of(&data["login"]["accessToken"]), str_of(&data["login"]["refreshToken"]))
    }

    /// The id of this tenant's role called `name` (`owner`, `admin`, `member`).
    pub async fn role_id(&self, name: &str) -> String {
        let data = self.data("{ roles { id name } }", json!({})).await;
        let role = data["roles"].as_array().expect("roles").iter().find(|r| r["name"] == name).cloned();
        str_of(&role.unwrap_or_else(|| panic!("no role {name:?} in {data}"))["id"])
    }

    /// Invites a new user with role `role` and accepts the invite; returns the accepted
    /// `AuthPayload` (the new user's tokens, user and tenant).
    pub async fn invite(&self, role: &str) -> Value {
        let email =
            format!("{role}-{}@{}.example.com", &uuid::Uuid::new_v4().simple().to_string()[..8], self.slug);
        let invite = self
            .data(
                "mutation($e: String!, $r: ID!) { inviteUser(email: $e, roleId: $r) { token user { email role } } }",
                json!({ "e": email, "r": self.role_id(role).await }),
            )
            .await;
        assert_eq!(invite["inviteUser"]["user"]["email"], json!(email));
        let query = format!(
            "mutation($t: String!, $p: String!) {{ acceptInvite(token: $t, password: $p) {{ {AUTH_PAYLOAD} }} }}"
        );
        let accepted = self
            .api
            .graphql(&Auth::None, &query, json!({ "t": invite["inviteUser"]["token"], "p": PASSWORD }))
            .await
            .data();
        accepted["acceptInvite"].clone()
    }

    /// An API key with role `role`.
    pub async fn api_key(&self, role: &str) -> Auth {
        let data = self
            .data(
                "mutation($r: ID!) { createApiKey(name: \"test key\", roleId: $r) { key } }",
                json!({ "r": self.role_id(role).await }),
            )
            .await;
        Auth::ApiKey(str_of(&data["createApiKey"]["key"]))
    }

    pub async fn define_raw(&self, input: Value) -> Response {
        let query = format!(
            "mutation($input: EntityInput!) {{ defineEntity(input: $input) {{ {ENTITY_DEFINITION} }} }}"
        );
        self.request(&query, json!({ "input": input })).await
    }

    /// Defines an entity, asserting success; returns the `EntityDefinition`.
    pub async fn define(&self, input: Value) -> Value {
        self.define_raw(input).await.data()["defineEntity"].clone()
    }

    pub async fn add_field_raw(&self, entity: &str, field: Value) -> Response {
        let query = format!(
            "mutation($e: String!, $f: FieldInput!) {{ addField(entity: $e, field: $f) {{ {ENTITY_DEFINITION} }} }}"
        );
        self.request(&query, json!({ "e": entity, "f": field })).await
    }

    pub async fn add_field(&self, entity: &str, field: Value) -> Value {
        self.add_field_raw(entity, field).await.data()["addField"].clone()
    }

    /// `entities { nameSingular }`, sorted.
    pub async fn entity_names(&self) -> Vec<String> {
        let data = self.data("{ entities { nameSingular } }", json!({})).await;
        let mut names = pluck_str(&data["entities"], "nameSingular");
        names.sort();
        names
    }

    /// Field names of a type per introspection, `None` when the type does not exist.
    pub async fn type_fields(&self, type_name: &str) -> Option<Vec<String>> {
        let data = self
            .data(
                "query($n: String!) { __type(name: $n) { fields { name } inputFields { name } } }",
                json!({ "n": type_name }),
            )
            .await;
        let ty = &data["__type"];
        if ty.is_null() {
            return None;
        }
        let list = if ty["fields"].is_array() { &ty["fields"] } else { &ty["inputFields"] };
        Some(pluck_str(list, "name"))
    }

    pub async fn create_raw(&self, entity: &Names, input: Value, selection: &str) -> Response {
        let query = format!(
            "mutation($input: Create{t}Input!) {{ create{t}(input: $input) {{ id {selection} }} }}",
            t = entity.type_name
        );
        self.request(&query, json!({ "input": input })).await
    }

    /// Creates a record, asserting success; returns it with `id` and `selection`.
    pub async fn create(&self, entity: &Names, input: Value, selection: &str) -> Value {
        let data = self.create_raw(entity, input, selection).await.data();
        data[format!("create{}", entity.type_name)].clone()
    }

    pub async fn update_raw(&self, entity: &Names, id: &str, input: Value, selection: &str) -> Response {
        let query = format!(
            "mutation($id: ID!, $input: Update{t}Input!) {{ update{t}(id: $id, input: $input) {{ id {selection} }} }}",
            t = entity.type_name
        );
        self.request(&query, json!({ "id": id, "input": input })).await
    }

    pub async fn update(&self, entity: &Names, id: &str, input: Value, selection: &str) -> Value {
        let data = self.update_raw(entity, id, input, selection).await.data();
        data[format!("update{}", entity.type_name)].clone()
    }

    /// `delete<T>` / `restore<T>` (`op` is `"delete"` or `"restore"`).
    pub async fn lifecycle_raw(&self, op: &str, entity: &Names, id: &str) -> Response {
        let query = format!("mutation($id: ID!) {{ {op}{t}(id: $id) {{ id }} }}", t = entity.type_name);
        self.request(&query, json!({ "id": id })).await
    }

    pub async fn delete(&self, entity: &Names, id: &str) {
        let data = self.lifecycle_raw("delete", entity, id).await.data();
        assert_eq!(data[format!("delete{}", entity.type_name)]["id"], json!(id));
    }

    pub async fn restore(&self, entity: &Names, id: &str) {
        let data = self.lifecycle_raw("restore", entity, id).await.data();
        assert_eq!(data[format!("restore{}", entity.type_name)]["id"], json!(id));
    }

    pub async fn get_raw(&self, entity: &Names, id: &str, selection: &str) -> Response {
        let query = format!("query($id: ID!) {{ {s}(id: $id) {{ id {selection} }} }}", s = entity.singular);
        self.request(&query, json!({ "id": id })).await
    }

    /// The record by id (`Value::Null` when it does not exist), asserting no error.
    pub async fn get(&self, entity: &Names, id: &str, selection: &str) -> Value {
        self.get_raw(entity, id, selection).await.data()[&entity.singular].clone()
    }

    pub async fn list_raw(&self, entity: &Names, args: &str, vars: Value, selection: &str) -> Response {
        let query = format!(
            "query{args} {{ {p}{call} {{ totalCount nodes {{ id {selection} }} }} }}",
            args = var_decls(&vars, entity),
            p = entity.plural,
            call = if args.is_empty() { String::new() } else { format!("({args})") },
        );
        self.request(&query, vars).await
    }

    /// `<plural>(args) { totalCount nodes { id selection } }`. `vars` may hold `filter`,
    /// `orderBy`, `first`, `after`, `last`, `before`, `search`; `args` passes them on,
    /// e.g. `"filter: $filter, first: 500"`.
    pub async fn list(&self, entity: &Names, args: &str, vars: Value, selection: &str) -> Value {
        let data = self.list_raw(entity, args, vars, selection).await.data();
        data[&entity.plural].clone()
    }

    /// `<plural>(…) { body }` where every standard variable present in `vars` is passed as the
    /// argument of the same name; asserts success and returns the connection.
    pub async fn connection(&self, entity: &Names, vars: Value, body: &str) -> Value {
        let args: Vec<String> =
            list_vars(&vars, entity).iter().map(|(name, _)| format!("{name}: ${name}")).collect();
        let call = if args.is_empty() { String::new() } else { format!("({})", args.join(", ")) };
        let query = format!("query{} {{ {}{call} {{ {body} }} }}", var_decls(&vars, entity), entity.plural);
        self.data(&query, vars).await[&entity.plural].clone()
    }

    /// Opens `/graphql/ws` and completes `connection_init` with this owner's token.
    pub async fn ws(&self) -> Ws {
        let mut ws = Ws::connect(self.api.server).await;
        ws.init(json!({ "authorization": format!("Bearer {}", self.access_token) })).await.expect_ack();
        ws
    }

    /// A socket with one subscription (id `"1"`) registered and settled.
    pub async fn subscribe(&self, query: &str, variables: Value) -> Ws {
        let mut ws = self.ws().await;
        ws.subscribe("1", query, variables).await;
        tokio::time::sleep(SUBSCRIBE_SETTLE).await;
        ws
    }
}

/// The standard connection variables that `vars` contains, with their GraphQL types.
fn list_vars(vars: &Value, entity: &Names) -> Vec<(&'static str, String)> {
    let types = [
        ("filter", format!("{}Filter", entity.type_name)),
        ("orderBy", format!("[{}OrderBy!]", entity.type_name)),
        ("first", "Int".to_owned()),
        ("last", "Int".to_owned()),
        ("after", "String".to_owned()),
        ("before", "String".to_owned()),
        ("search", "String".to_owned()),
    ];
    types.into_iter().filter(|(name, _)| vars.get(*name).is_some()).collect()
}

/// Declares the standard list variables that `vars` contains, e.g. `($filter: DealFilter)`.
fn var_decls(vars: &Value, entity: &Names) -> String {
    let decls: Vec<String> =
        list_vars(vars, entity).iter().map(|(name, ty)| format!("${name}: {ty}")).collect();
    if decls.is_empty() { String::new() } else { format!("({})", decls.join(", ")) }
}

// ---------------------------------------------------------------------------------------------
// Generated names
// ---------------------------------------------------------------------------------------------

/// The GraphQL names generated for an entity.
#[derive(Clone, Debug)]
pub struct Names {
    /// `deal`: the get-by-id root field.
    pub singular: String,
    /// `deals`: the connection root field.
    pub plural: String,
    /// `Deal`.
    pub type_name: String,
}

impl Names {
    pub fn new(name_singular: &str, name_plural: &str) -> Names {
        let singular = camel(name_singular);
        Names { type_name: pascal(&singular), plural: camel(name_plural), singular }
    }
}

/// `full_name` → `fullName` (camelCase input stays as it is).
pub fn camel(key: &str) -> String {
    let mut out = String::new();
    for (i, part) in key.split('_').filter(|p| !p.is_empty()).enumerate() {
        if i == 0 {
            out.push_str(part);
        } else {
            out.push_str(&pascal(part));
        }
    }
    out
}

/// `fullName` → `FullName`.
pub fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Entity input builders
// ---------------------------------------------------------------------------------------------

/// A `FieldInput`: `key`, a derived `label`, `type`, plus the members of `extra`.
pub fn field(key: &str, ty: &str, extra: Value) -> Value {
    let mut label = key.replace('_', " ");
    if let Some(first) = label.get(..1) {
        label = first.to_uppercase() + &label[1..];
    }
    let mut out = json!({ "key": key, "label": label, "type": ty });
    merge(&mut out, extra);
    out
}

/// An `EntityInput` with derived labels and the given fields.
pub fn entity(name_singular: &str, name_plural: &str, fields: Vec<Value>, extra: Value) -> Value {
    let label = |s: &str| pascal(&s.replace('_', " "));
    let mut out = json!({
        "nameSingular": name_singular,
        "namePlural": name_plural,
        "labelSingular": label(name_singular),
        "labelPlural": label(name_plural),
        "fields": fields,
    });
    merge(&mut out, extra);
    out
}

/// Shallow-merges the members of object `extra` into object `target`.
pub fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        target.extend(extra);
    }
}

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
}

impl Ws {
    /// Opens the socket with the `graphql-transport-ws` subprotocol (not yet initialised).
    pub async fn connect(server: &Server) -> Ws {
        let mut request = server.ws_url().into_client_request().expect("websocket request");
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("graphql-transport-ws"));
        let (stream, response) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request))
            .await
            .expect("websocket handshake timed out")
            .expect("websocket handshake failed");
        assert_eq!(
            response.headers().get("sec-websocket-protocol").map(|v| v.to_str().expect("ASCII")),
            Some("graphql-transport-ws")
        );
        Ws { stream }
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

    /// The next protocol message (answering pings on the way), a close, or a timeout.
    pub async fn recv(&mut self, within: Duration) -> WsEvent {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let next = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return WsEvent::Timeout,
                Ok(next) => next,
            };
            match next {
                None | Some(Err(_)) => return WsEvent::Closed(None),
                Some(Ok(Message::Close(frame))) => {
                    return WsEvent::Closed(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(Message::Text(text))) => {
                    let message: Value =
                        serde_json::from_str(text.as_str()).expect("a JSON websocket message");
                    if message["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    if message["type"] == "pong" {
                        continue;
                    }
                    return WsEvent::Message(message);
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The `data` of the next `next` message for subscription `id`.
    pub async fn next_data(&mut self, id: &str) -> Value {
        match self.recv(TIMEOUT).await {
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

    /// Asserts that nothing arrives for `within`.
    pub async fn expect_silence(&mut self, within: Duration) {
        match self.recv(within).await {
            WsEvent::Timeout => {}
            other => panic!("expected no message, got {other:?}"),
        }
    }

    /// Waits for the server to close the socket, skipping other messages; returns the code.
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

// ---------------------------------------------------------------------------------------------
// JSON helpers
// ---------------------------------------------------------------------------------------------

pub fn str_of(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("expected a string, got {value}")).to_owned()
}

/// `key` of every element of an array, as strings (`"<null>"` for null).
pub fn pluck_str(array: &Value, key: &str) -> Vec<String> {
    array
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {array}"))
        .iter()
        .map(|item| item[key].as_str().map_or_else(|| "<null>".to_owned(), str::to_owned))
        .collect()
}

pub fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// JSON equality where numbers compare by value (`42` equals `42.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

pub fn assert_json_eq(actual: &Value, expected: &Value, context: &str) {
    assert!(json_eq(actual, expected), "{context}:\n  expected {expected}\n  actual   {actual}");
}

/// An RFC 3339 UTC timestamp with milliseconds, as the `DateTime` scalar promises.
pub fn assert_utc_millis(value: &Value) {
    let s = str_of(value);
    let bytes = s.as_bytes();
    assert!(
        s.len() == 24
            && s.ends_with('Z')
            && bytes[4] == b'-'
            && bytes[10] == b'T'
            && bytes[19] == b'.'
            && s[20..23].chars().all(|c| c.is_ascii_digit()),
        "not a UTC millisecond timestamp: {s}"
    );
}

//! Server configuration, from flags and environment (see the README's configuration table).

use std::path::PathBuf;

use clap::Args;

/// What kind of deployment this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal only).
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Settings shared by every subcommand that touches the database. Each is a flag (given before
/// or after the subcommand: `alphery serve --bind …`, listed by `alphery serve --help`) or an
/// environment variable.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database URL: `sqlite://path?mode=rwc` or `postgres://user@host/db`.
    /// Default: a SQLite file under the data directory.
    #[arg(long, global = true, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Address to listen on.
    #[arg(long, global = true, env = "BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Secret for signing access tokens (HS256). When unset, one is generated and kept in the
    /// data directory (development only: set it in production).
    #[arg(long, global = true, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// PostgreSQL only: the role tenant traffic runs as (`SET ROLE` at connect), so row-level
    /// security applies. Created by the migrations; empty disables it (not recommended).
    #[arg(long, global = true, env = "DATABASE_APP_ROLE", default_value = migration::APP_ROLE)]
    pub database_app_role: String,

    /// Where the embedded database and generated secrets live.
    #[arg(long, global = true, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Seed a demo tenant on first start with an empty database. Defaults to on for the
    /// embedded SQLite database and off when DATABASE_URL is set.
    #[arg(long, global = true, env = "SEED_DEMO")]
    pub seed_demo: Option<bool>,

    /// Access token lifetime, seconds.
    #[arg(long, global = true, env = "ACCESS_TOKEN_TTL", default_value_t = 900)]
    pub access_token_ttl_secs: u64,

    /// Refresh token (session) lifetime, seconds.
    #[arg(long, global = true, env = "REFRESH_TOKEN_TTL", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl_secs: u64,

    /// Default page size of connections.
    #[arg(long, global = true, env = "DEFAULT_PAGE_SIZE", default_value_t = 50)]
    pub default_page_size: u64,

    /// Largest `first`/`last` a client may ask for.
    #[arg(long, global = true, env = "MAX_PAGE_SIZE", default_value_t = 500)]
    pub max_page_size: u64,

    /// Most records one bulk write (`createDeals`, `updateDeals`, `deleteDeals`) may touch;
    /// beyond it the write is refused whole with BAD_REQUEST.
    #[arg(long, global = true, env = "MAX_BULK_SIZE", default_value_t = 1000)]
    pub max_bulk_size: usize,

    /// Memory the schema cache may hold, MiB: compiled schemas (one per distinct shape of
    /// definitions and permissions, about 1.5 MB for ten entities) and each cached tenant's own
    /// definitions (tens of KB). Least recently used tenants go first.
    #[arg(long, global = true, env = "SCHEMA_CACHE_MB", default_value_t = 1024)]
    pub schema_cache_mb: usize,

    /// Largest request body accepted, bytes.
    #[arg(long, global = true, env = "MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,

    /// Largest file one upload may carry (`uploadFile` over the GraphQL multipart request
    /// spec, `POST /files`), bytes. A larger one is refused with VALIDATION_FAILED.
    #[arg(long, global = true, env = "UPLOAD_MAX_BYTES", default_value_t = 25 << 20)]
    pub upload_max_bytes: u64,

    /// Content types an upload may declare (comma-separated; `image/*` allows every image
    /// type, `*/*` any). Anything else is refused with VALIDATION_FAILED.
    #[arg(long, global = true, env = "UPLOAD_ALLOWED_TYPES", value_delimiter = ',', default_value = DEFAULT_UPLOAD_TYPES)]
    pub upload_allowed_types: Vec<String>,

    /// An S3-compatible object store for uploaded files: its endpoint (`https://s3.eu-west-1.amazonaws.com`,
    /// `http://127.0.0.1:9000`), addressed path-style. Used when `S3_BUCKET` is set; otherwise
    /// files are kept under the data directory (`files/`).
    #[arg(long, global = true, env = "S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// The bucket uploaded files go to (setting it selects the S3 store).
    #[arg(long, global = true, env = "S3_BUCKET")]
    pub s3_bucket: Option<String>,

    /// The bucket's region (part of every request's signature).
    #[arg(long, global = true, env = "S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,

    /// Access key id requests to the bucket are signed with (AWS Signature Version 4).
    #[arg(long, global = true, env = "S3_ACCESS_KEY", hide_env_values = true)]
    pub s3_access_key: Option<String>,

    /// Secret access key requests to the bucket are signed with.
    #[arg(long, global = true, env = "S3_SECRET_KEY", hide_env_values = true)]
    pub s3_secret_key: Option<String>,

    /// Rows of a CSV import written per transaction (each batch commits with the import's
    /// resume cursor).
    #[arg(long, global = true, env = "IMPORT_BATCH_ROWS", default_value_t = 500)]
    pub import_batch_rows: usize,

    /// Deepest query accepted (nesting levels).
    #[arg(long, global = true, env = "MAX_QUERY_DEPTH", default_value_t = 15)]
    pub max_query_depth: usize,

    /// Largest query complexity accepted (roughly: fields selected, lists counted once).
    #[arg(long, global = true, env = "MAX_QUERY_COMPLEXITY", default_value_t = 5000)]
    pub max_query_complexity: usize,

    /// Most aliased fields one request may use.
    #[arg(long, global = true, env = "MAX_ALIASES", default_value_t = 50)]
    pub max_aliases: usize,

    /// Most operations one batched HTTP request may carry.
    #[arg(long, global = true, env = "MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,

    /// `development` or `production`. Production turns introspection and field suggestions
    /// off unless they are set explicitly, and refuses to start without a strong `JWT_SECRET`.
    #[arg(long = "env", global = true, env = "ALPHERY_ENV", value_enum, default_value_t = Environment::Development)]
    pub environment: Environment,

    /// Answer introspection queries (GraphiQL and code generators need it). Default: on, off in
    /// production.
    #[arg(long, global = true, env = "INTROSPECTION", action = clap::ArgAction::Set)]
    pub introspection: Option<bool>,

    /// Suggest field names in validation errors ("did you mean …"). Default: on, off in
    /// production.
    #[arg(long, global = true, env = "FIELD_SUGGESTIONS", action = clap::ArgAction::Set)]
    pub field_suggestions: Option<bool>,

    /// Browser origins allowed to open the websocket and call the API cross-origin
    /// (comma-separated, e.g. `https://app.example.com`). Same-origin and non-browser clients
    /// are always allowed; `*` allows any origin.
    #[arg(long, global = true, env = "ALLOWED_ORIGINS", value_delimiter = ',', default_value = "")]
    pub allowed_origins: Vec<String>,

    /// Redis: links the instances of a deployment (commits, revoked sessions and access
    /// changes reach the others at once over pub/sub; the outbox stays the source of truth),
    /// and holds the job queue when `QUEUE_STORAGE=redis`. Checked by `/readyz`.
    #[arg(long, global = true, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Where jobs are stored: `database` (the same SQLite or PostgreSQL database, the default)
    /// or `redis` (needs `REDIS_URL`).
    #[arg(long, global = true, env = "QUEUE_STORAGE", default_value = "database")]
    pub queue_storage: String,

    /// The queue's name (deployments sharing one Redis or database use different names).
    #[arg(long, global = true, env = "QUEUE_NAME", default_value = "alphery.jobs")]
    pub queue_name: String,

    /// SMTP relay for outgoing email (`smtp://host:25`, `smtp://user:pass@host:587?tls=required`,
    /// `smtps://…`). Unset: emails are kept in the outbox (`held`) and logged, never dropped.
    #[arg(long, global = true, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The address this deployment is reached at by people (`https://app.example.com`): links
    /// in emails (a password reset's) are built on it. Unset: emails carry the token alone.
    #[arg(long, global = true, env = "PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Seconds a password reset token (`requestPasswordReset`) stays valid.
    #[arg(long, global = true, env = "PASSWORD_RESET_TTL", default_value_t = 3600)]
    pub password_reset_ttl_secs: u64,

    /// The sender of outgoing email.
    #[arg(long, global = true, env = "SMTP_FROM", default_value = "Alphery OS <no-reply@alphery.local>")]
    pub smtp_from: String,

    /// Run job workers inside `serve` (set false when separate `alphery worker` processes run).
    #[arg(long, global = true, env = "WORKERS", default_value_t = true, action = clap::ArgAction::Set)]
    pub workers: bool,

    /// `alphery worker` only: serve `GET /metrics` (the queue's depth and how long this
    /// worker's jobs ran) on this address. Unset: the worker listens on nothing.
    #[arg(long, global = true, env = "METRICS_BIND")]
    pub metrics_bind: Option<String>,

    /// Delivery attempts before an email is dead.
    #[arg(long, global = true, env = "EMAIL_MAX_ATTEMPTS", default_value_t = 5)]
    pub email_max_attempts: i32,

    /// Base of the exponential retry backoff, milliseconds (attempt n waits base × 2^(n-1) + jitter).
    #[arg(long, global = true, env = "RETRY_BASE_MS", default_value_t = 2000)]
    pub retry_base_ms: u64,

    /// Milliseconds an email may stay claimed by a worker before it is taken back (the worker
    /// died mid-delivery). Must exceed the SMTP timeout (30 s) in production.
    #[arg(long, global = true, env = "EMAIL_LEASE_MS", default_value_t = 120_000)]
    pub email_lease_ms: u64,

    /// A directory of extra industry templates (`<slug>.json`), read on each use: new
    /// templates, or newer versions of built-in ones for `upgradeTemplate`.
    #[arg(long, global = true, env = "TEMPLATES_DIR")]
    pub templates_dir: Option<PathBuf>,

    /// How long a tenant's deletion (`deleteTenant`) waits before it runs, during which the tenant
    /// is read-only and the owner may cancel it: a number with a unit, `s`, `m`, `h` or `d`
    /// (`30d`, `12h`, `90s`).
    #[arg(
        long = "tenant-deletion-grace",
        global = true,
        env = "TENANT_DELETION_GRACE",
        default_value = "30d",
        value_parser = parse_duration_secs
    )]
    pub tenant_deletion_grace_secs: u64,

    /// How often time-based triggers, SLA escalations and email leases are scanned, milliseconds.
    #[arg(long, global = true, env = "DATE_SCAN_MS", default_value_t = 1000)]
    pub date_scan_ms: u64,

    /// Internal hosts outgoing webhooks may reach anyway (names, addresses or CIDRs,
    /// comma-separated). Loopback, private and link-local addresses are refused otherwise.
    #[arg(long, global = true, env = "WEBHOOK_ALLOW_HOSTS", value_delimiter = ',', default_value = "")]
    pub webhook_allow_hosts: Vec<String>,

    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `alphery_api=debug`.
    #[arg(long, global = true, env = "LOG", default_value = "info")]
    pub log: String,

    /// Log line format: `text` or `json` (one JSON object per line, the event's fields at its
    /// top level). Anything else refuses to start.
    #[arg(long, global = true, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Seconds an authenticated credential (session or API key) is served from memory before
    /// it is checked against the database again. Revocations, role and definition changes
    /// evict entries at once on the instance that made them and, through the outbox, on every
    /// other instance; this bounds what a lost signal could leave. 0 disables the cache.
    #[arg(long, global = true, env = "AUTH_CACHE_SECS", default_value_t = 60)]
    pub auth_cache_secs: u64,

    /// Changes a group of alike subscriptions holds for its slowest member; one that falls
    /// further behind has its socket closed with 4290 (`live`).
    #[arg(long, global = true, env = "LIVE_BUFFER", default_value_t = 256)]
    pub live_buffer: usize,

    /// Rate limiting: GraphQL operations per tenant and per user (or API key), weighted by
    /// complexity, and attempts of `signup`, `login`, `refreshToken`, `acceptInvite` and
    /// inbound webhooks per client address and account. Beyond a budget: `RATE_LIMITED`
    /// (HTTP 429 with `Retry-After`) until the minute ends. Counted in Redis when `REDIS_URL` is
    /// set (every instance shares the budgets), else in this process.
    #[arg(long, global = true, env = "RATE_LIMIT", default_value_t = true, action = clap::ArgAction::Set)]
    pub rate_limit: bool,

    /// Complexity points a tenant's GraphQL operations may spend per minute, all its users and
    /// API keys together (an operation costs its complexity: about one point per field).
    #[arg(long, global = true, env = "RATE_LIMIT_TENANT", default_value_t = 1_200_000)]
    pub rate_limit_tenant: u64,

    /// Complexity points one user's (or one API key's) GraphQL operations may spend per minute.
    #[arg(long, global = true, env = "RATE_LIMIT_USER", default_value_t = 120_000)]
    pub rate_limit_user: u64,

    /// Attempts of `signup`, `login`, `refreshToken`, `acceptInvite`, `requestPasswordReset` or
    /// `resetPassword` per minute from one client address on one account (tenant and email,
    /// refresh token, invitation, reset token).
    #[arg(long, global = true, env = "RATE_LIMIT_AUTH", default_value_t = 10)]
    pub rate_limit_auth: u64,

    /// Deliveries per minute from one client address to one inbound webhook.
    #[arg(long, global = true, env = "RATE_LIMIT_WEBHOOK", default_value_t = 600)]
    pub rate_limit_webhook: u64,

    /// Take the client address from the last `X-Forwarded-For` entry (the one the proxy in
    /// front of this server appended) instead of the connection's peer. Only behind a proxy
    /// that sets it: otherwise any client can pick its address.
    #[arg(long, global = true, env = "TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_forwarded_for: bool,
    /// Also serve GraphQL over the legacy `graphql-ws` websocket subprotocol
    /// (subscriptions-transport-ws, unmaintained) beside `graphql-transport-ws`. Off: an
    /// upgrade offering only `graphql-ws` is refused (HTTP 400).
    #[arg(long, global = true, env = "LEGACY_GRAPHQL_WS", default_value_t = false, action = clap::ArgAction::Set)]
    pub legacy_graphql_ws: bool,

    /// Lets OpenID Connect providers live at private, loopback and link-local addresses
    /// (`OIDC_ALLOW_PRIVATE_NETWORK=true`: a provider inside the operator's network, or a test's
    /// on 127.0.0.1). Off, the issuer, token and key URLs must resolve to public addresses only,
    /// so an administrator of one tenant cannot make the server fetch from the server's own
    /// network (SSRF).
    #[arg(long, global = true, env = "OIDC_ALLOW_PRIVATE_NETWORK", default_value_t = false, action = clap::ArgAction::Set)]
    pub oidc_allow_private_network: bool,

    /// Connections each database pool may open (PostgreSQL). A `serve` process keeps two
    /// pools (system work, and tenant traffic as `DATABASE_APP_ROLE`), each with a raw pool
    /// of four fifths of this beside it: keep the sum of all processes under the server's
    /// `max_connections`.
    #[arg(long, global = true, env = "DATABASE_POOL", default_value_t = entity::db::DEFAULT_POOL)]
    pub database_pool: u32,

    /// Adds `x-sql-statements: N` to every GraphQL response over HTTP: the database round
    /// trips the request cost (statements, and each transaction's BEGIN and COMMIT).
    #[arg(long, global = true, env = "SQL_STATS_HEADER", default_value_t = false)]
    pub sql_stats_header: bool,
}

/// The content types uploads may declare by default: documents, spreadsheets, images, text.
pub const DEFAULT_UPLOAD_TYPES: &str = "application/pdf,image/*,text/plain,text/csv,application/json,\
application/zip,application/msword,application/vnd.ms-excel,application/vnd.openxmlformats-officedocument.*,\
application/vnd.oasis.opendocument.*";

/// The issuer and audience every access token carries and every check requires.
pub const JWT_ISSUER: &str = "alphery";
pub const JWT_AUDIENCE: &str = "alphery-api";

impl Config {
    /// A configuration for tests: an ephemeral port, no demo seed, a fixed secret.
    pub fn for_tests(database_url: &str) -> Config {
        Config {
            database_url: Some(database_url.to_owned()),
            bind: "127.0.0.1:0".into(),
            jwt_secret: Some("test-secret-test-secret-test-secret!".into()),
            database_app_role: migration::APP_ROLE.into(),
            data_dir: std::env::temp_dir().join("alphery-test-data"),
            seed_demo: Some(false),
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 3600,
            default_page_size: 50,
            max_page_size: 500,
            max_bulk_size: 1000,
            schema_cache_mb: 1024,
            max_body_bytes: 1 << 20,
            upload_max_bytes: 256 << 10,
            upload_allowed_types: DEFAULT_UPLOAD_TYPES.split(',').map(str::to_owned).collect(),
            s3_endpoint: None,
            s3_bucket: None,
            s3_region: "us-east-1".into(),
            s3_access_key: None,
            s3_secret_key: None,
            import_batch_rows: 500,
            max_query_depth: 15,
            max_query_complexity: 5000,
            max_aliases: 50,
            max_batch: 10,
            environment: Environment::Development,
            introspection: None,
            field_suggestions: None,
            allowed_origins: Vec::new(),
            smtp_url: None,
            smtp_from: "Alphery OS <no-reply@alphery.local>".into(),
            public_url: None,
            password_reset_ttl_secs: 3600,
            workers: true,
            metrics_bind: None,
            email_max_attempts: 5,
            email_lease_ms: 120_000,
            redis_url: None,
            queue_storage: "database".into(),
            queue_name: jobs::queue::QUEUE.into(),
            templates_dir: Some(
                std::env::temp_dir().join(format!("alphery-it-templates-{}", std::process::id())),
            ),
            retry_base_ms: 200,
            date_scan_ms: 250,
            tenant_deletion_grace_secs: 30 * 86_400,
            webhook_allow_hosts: vec!["127.0.0.1/32".into()],
            log: "warn".into(),
            log_format: LogFormat::Text,
            auth_cache_secs: 60,
            live_buffer: 256,
            legacy_graphql_ws: false,
            oidc_allow_private_network: false,
            sql_stats_header: true,
            database_pool: entity::db::DEFAULT_POOL,
            rate_limit: true,
            rate_limit_tenant: 1_200_000,
            rate_limit_user: 120_000,
            rate_limit_auth: 10,
            rate_limit_webhook: 600,
            trust_forwarded_for: false,
        }
    }

    /// The database URL in force (the embedded default when none is configured).
    /// Where the job queue lives: the database, or Redis when `QUEUE_STORAGE=redis`.
    pub fn queue_url(&self) -> Result<String, crate::error::ApiError> {
        match self.queue_storage.as_str() {
            "database" => Ok(self.database_url()),
            "redis" => self.redis_url.clone().filter(|u| !u.is_empty()).ok_or_else(|| {
                crate::error::ApiError::BadRequest("QUEUE_STORAGE=redis needs REDIS_URL".into())
            }),
            other => Err(crate::error::ApiError::BadRequest(format!(
                "QUEUE_STORAGE must be `database` or `redis`, not `{other}`"
            ))),
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("alphery.db").display()),
        }
    }

    /// The limits and switches every schema is built with.
    pub fn schema_options(&self) -> crate::schema::SchemaOptions {
        crate::schema::SchemaOptions {
            max_depth: self.max_query_depth,
            max_complexity: self.max_query_complexity,
            max_aliases: self.max_aliases,
            introspection: self.introspection.unwrap_or(!self.production()),
            suggestions: self.field_suggestions.unwrap_or(!self.production()),
        }
    }

    /// Whether a browser `Origin` may call the API (same-origin is checked by the caller).
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| o == "*" || o.trim_end_matches('/') == origin.trim_end_matches('/'))
    }

    /// Whether this is a production deployment (`ALPHERY_ENV=production`).
    pub fn production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// Whether to seed the demo tenant on an empty database.
    pub fn should_seed_demo(&self) -> bool {
        self.seed_demo.unwrap_or(self.database_url.is_none())
    }
}

/// Seconds of a duration written as a number and a unit (`30d`, `12h`, `15m`, `90s`).
fn parse_duration_secs(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("`{s}` is not a duration such as 30d, 12h, 15m or 90s"))?;
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{s}`: the unit must be s, m, h or d (30d, 12h, 15m, 90s)")),
    };
    n.checked_mul(per).ok_or_else(|| format!("`{s}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration_secs;

    #[test]
    fn a_grace_period_reads_as_a_number_and_a_unit() {
        assert_eq!(parse_duration_secs("30d"), Ok(30 * 86_400));
        assert_eq!(parse_duration_secs("12h"), Ok(12 * 3600));
        assert_eq!(parse_duration_secs("15m"), Ok(900));
        assert_eq!(parse_duration_secs("90s"), Ok(90));
        assert!(parse_duration_secs("30").is_err());
        assert!(parse_duration_secs("d").is_err());
        assert!(parse_duration_secs("3w").is_err());
    }
}

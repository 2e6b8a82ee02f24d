//! Starting the server: connect, migrate, assemble the shared state, start the outbox
//! dispatcher, seed the demo tenant when asked, and serve HTTP/WS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use entity::Db;
use jobs::{Dispatcher, EventBus, Peers};
use migration::{Migrator, MigratorTrait};
use tokio::net::TcpListener;

use crate::auth::tokens::{JwtKeys, random_bytes};
use crate::config::Config;
use crate::error::ApiError;
use crate::http::registry::Registry;
use crate::http::state::{AppState, Inner};
use crate::schema::build_public_schema;
use crate::seed::{self, DemoLogin};
use crate::services::{Inner as ServicesInner, Services};

/// A server serving in background tasks of the current runtime.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    /// The demo login, while the demo user still has its seeded password.
    pub demo: Option<DemoLogin>,
}

impl RunningServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Connects to the configured database as the migrating user and applies pending migrations.
pub async fn connect_and_migrate(config: &Config) -> Result<Db, ApiError> {
    let url = config.database_url();
    if url.starts_with("sqlite") {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            ApiError::BadRequest(format!(
                "cannot create the data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
    }
    let db = Db::connect_pooled(&url, None, config.database_pool).await.map_err(ApiError::from)?;
    match db.dialect {
        entity::Dialect::Sqlite => entity::db::sqlite_migration(|| Migrator::up(&db.conn, None)).await?,
        entity::Dialect::Postgres => Migrator::up(&db.conn, None).await?,
    }
    Ok(db)
}

/// Connects and migrates (`connect_and_migrate`), and returns that system connection with the
/// one tenant traffic runs on: as `DATABASE_APP_ROLE` on PostgreSQL (row-level security), the
/// same on SQLite. Both seal personal data with the server key (`entity::runtime::personal`),
/// so a worker writing records seals as the server does.
pub async fn connect(config: &Config) -> Result<(Db, Db), ApiError> {
    let sealer = Arc::new(entity::sealed::Sealer::new(&jwt_secret(config)?)?);
    let system = connect_and_migrate(config).await?.with_sealer(sealer.clone());
    let app = match system.dialect {
        entity::Dialect::Postgres => {
            Db::connect_pooled(&config.database_url(), Some(&config.database_app_role), config.database_pool)
                .await
                .map_err(ApiError::from)?
                .with_sealer(sealer)
        }
        entity::Dialect::Sqlite => system.clone(),
    };
    Ok((system, app))
}

/// The signing secret: configured, or generated once and kept in the data directory.
fn jwt_secret(config: &Config) -> Result<Vec<u8>, ApiError> {
    if let Some(s) = &config.jwt_secret {
        if s.len() < 32 {
            return Err(ApiError::BadRequest("JWT_SECRET must be at least 32 bytes".into()));
        }
        if config.production() && weak_secret(s) {
            return Err(ApiError::BadRequest(
                "JWT_SECRET is a published or low-entropy value: in production set a random one (openssl rand -hex 32)"
                    .into(),
            ));
        }
        return Ok(s.as_bytes().to_vec());
    }
    if config.production() {
        return Err(ApiError::BadRequest(
            "JWT_SECRET is not set: in production it must be (openssl rand -hex 32); a generated development secret is not used"
                .into(),
        ));
    }
    let path = config.data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && existing.trim().len() >= 32
    {
        return Ok(existing.trim().as_bytes().to_vec());
    }
    tracing::warn!(path = %path.display(), "JWT_SECRET is not set: generated one for development; set JWT_SECRET in production");
    std::fs::create_dir_all(&config.data_dir).map_err(|e| ApiError::Internal(format!("data dir: {e}")))?;
    let secret = entity::hex::encode(&random_bytes(32)?);
    std::fs::write(&path, &secret)
        .map_err(|e| ApiError::Internal(format!("write {}: {e}", path.display())))?;
    Ok(secret.into_bytes())
}

/// Secrets anyone can read in this repository (its tests, benchmarks and examples), and the
/// monotonous: never acceptable in production.
fn weak_secret(s: &str) -> bool {
    const PUBLISHED: [&str; 4] = [
        "test-secret-test-secret-test-secret!",
        "crash-test-secret-crash-test-secret-0123",
        "alphery-load-secret-0123456789abcdef0123456789",
        "flags-test-secret-flags-test-secret-0123",
    ];
    let distinct: std::collections::BTreeSet<char> = s.chars().collect();
    PUBLISHED.contains(&s) || distinct.len() < 10
}

/// How this process hears of the other instances' commits: through Redis when `REDIS_URL` is
/// set (started here), else on its own. `bus`: where a `serve` instance publishes the access
/// signals it hears.
pub fn start_peers(config: &Config, bus: Option<EventBus>) -> Result<Peers, ApiError> {
    let peers = match config.redis_url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => Peers::redis(url, &config.queue_name).map_err(ApiError::BadRequest)?,
        None => Peers::local(),
    };
    peers.start(bus);
    Ok(peers)
}

/// Starts the job relay and a worker in this process (`serve` by default, `alphery worker`).
/// `metrics`: where the worker records how long its jobs take.
pub async fn start_workers(
    config: &Config,
    db: &Db,
    system_db: &Db,
    peers: &Peers,
    metrics: Arc<jobs::metrics::JobMetrics>,
) -> Result<(), ApiError> {
    let queue = jobs::queue::Queue::connect(&config.queue_url()?, &config.queue_name)
        .await
        .map_err(|e| ApiError::Internal(format!("job queue: {e}")))?;
    tracing::info!(storage = queue.storage(), name = %config.queue_name, "job queue");
    let mailer = jobs::mailer::Mailer::new(config.smtp_url.as_deref(), &config.smtp_from)
        .map_err(ApiError::BadRequest)?;
    if config.smtp_url.is_none() {
        tracing::warn!("SMTP_URL is not set: emails are kept in the outbox (status held), not sent");
    }
    let ctx = Arc::new(jobs::JobContext {
        db: db.clone(),
        queue: queue.clone(),
        mailer,
        max_attempts: config.email_max_attempts.max(1),
        retry_base: Duration::from_millis(config.retry_base_ms.max(1)),
        webhook_allow: config.webhook_allow_hosts.iter().filter(|h| !h.is_empty()).cloned().collect(),
        metrics,
        peers: peers.clone(),
        data_dir: config.data_dir.clone(),
        import_batch: config.import_batch_rows.max(1),
        blobs: Arc::new(crate::storage::Blobs(crate::storage::open(config)?)),
    });
    let relay =
        jobs::relay::Relay::new(system_db.clone(), queue.clone(), Duration::from_millis(200), peers.clone());
    tokio::spawn(relay.run());
    let scan = Duration::from_millis(config.date_scan_ms.max(50));
    let lease = Duration::from_millis(config.email_lease_ms.max(100));
    if lease <= jobs::mailer::SEND_TIMEOUT {
        tracing::warn!(
            ?lease,
            "EMAIL_LEASE_MS is not above the SMTP timeout (30 s): a slow delivery may be sent twice"
        );
    }
    tokio::spawn(
        jobs::sweeper::TimeScanner::new(system_db.clone(), db.clone(), scan).with_email_lease(lease).run(),
    );
    let name = format!("alphery-worker-{}", uuid::Uuid::new_v4().simple());
    tokio::spawn(async move {
        if let Err(e) = jobs::worker::run(queue, ctx, &name).await {
            tracing::error!(error = %e, "worker stopped");
        }
    });
    Ok(())
}

/// Serves a worker's `GET /metrics` (the queue's depth and how long its jobs ran, `metrics`)
/// on `bind`; returns the address it listens on.
pub async fn serve_worker_metrics(
    config: &Config,
    system_db: &Db,
    metrics: Arc<jobs::metrics::JobMetrics>,
    bind: &str,
) -> Result<SocketAddr, ApiError> {
    let listener = listen(bind).await?;
    let addr = listener.local_addr().map_err(|e| ApiError::Internal(format!("local addr: {e}")))?;
    let (config, db) = (Arc::new(config.clone()), system_db.clone());
    let scrape = move || {
        let (config, db, metrics) = (config.clone(), db.clone(), metrics.clone());
        async move {
            let mut body = String::with_capacity(4096);
            crate::http::metrics::render_jobs(&mut body, &config, &db, &metrics).await;
            crate::http::metrics::text_response(body)
        }
    };
    let app = axum::Router::new().route("/metrics", axum::routing::get(scrape));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics endpoint stopped");
        }
    });
    Ok(addr)
}

/// The listener on `bind`; a refusal in words that say what to change.
async fn listen(bind: &str) -> Result<TcpListener, ApiError> {
    TcpListener::bind(bind).await.map_err(|e| {
        ApiError::BadRequest(match e.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "{bind} is already in use: stop the other process listening there, or set BIND (or --bind) to another address"
            ),
            std::io::ErrorKind::PermissionDenied => format!(
                "not allowed to listen on {bind} (ports below 1024 need privileges): set BIND (or --bind) to another address"
            ),
            _ => format!("cannot listen on {bind}: {e}; set BIND (or --bind) to an address of this machine"),
        })
    })
}

/// Starts serving on `config.bind`.
pub async fn start(config: Config) -> Result<RunningServer, ApiError> {
    // Every template (built in, and in TEMPLATES_DIR) must parse: fail at start, not at signup.
    let offered = entity::features::templates::catalogue(config.templates_dir.as_deref())?;
    tracing::debug!(templates = offered.len(), "templates checked");
    // Listen before touching the database: a busy port is reported before any migration runs.
    let listener = listen(&config.bind).await?;
    let (system_db, db) = connect(&config).await?;
    let secret = jwt_secret(&config)?;
    let keys = JwtKeys::new(&secret, config.access_token_ttl_secs);
    let sealer = Arc::new(entity::sealed::Sealer::new(&secret)?);
    let bus = EventBus::new(4096);
    let live = crate::live::Live::start(&bus, config.live_buffer);
    let peers = start_peers(&config, Some(bus.clone()))?;
    let interested = live.clone();
    let dispatcher = Dispatcher::new(system_db.clone(), bus.clone(), Duration::from_millis(250), peers)
        .with_interest(Arc::new(move |tenant: &str, entity: &str| interested.wants(tenant, entity)));
    tokio::spawn(dispatcher.clone().run());
    let services = Services::new(ServicesInner {
        auth_cache: crate::auth::cache::AuthCache::new(Duration::from_secs(config.auth_cache_secs)),
        limiter: crate::rate::Limiter::start(&config).await?,
        files: crate::storage::open(&config)?,
        config: config.clone(),
        db,
        system_db,
        bus,
        live,
        dispatcher,
        keys,
        sealer,
    });
    let state = AppState(Arc::new(Inner {
        metrics: Default::default(),
        registry: Registry::new(
            config.schema_cache_mb.saturating_mul(1 << 20),
            config.schema_options(),
            crate::features::ALL,
        ),
        public_schema: build_public_schema(&config.schema_options(), crate::features::ALL)?,
        services,
    }));
    {
        let state = state.clone();
        tokio::spawn(async move { state.auth_cache.listen(&state.bus).await });
    }
    let seeded = if config.should_seed_demo() { seed::seed_demo_if_empty(&state).await? } else { None };
    let demo = match seeded {
        Some(login) => Some(login),
        None => seed::demo_login_if_unchanged(&state).await?,
    };
    entity::runtime::indexes::reconcile(&state.system_db).await?;
    entity::runtime::rollups::reconcile(&state.system_db).await?;
    if config.workers {
        let metrics = state.metrics().jobs.clone();
        start_workers(&config, &state.db, &state.system_db, state.dispatcher.peers(), metrics).await?;
    } else {
        tracing::warn!(
            "workers are off (WORKERS=false): jobs (workflow runs, emails, webhook deliveries) wait in \
             the queue and do not run until an `alphery worker` process runs against the same \
             database and queue"
        );
    }
    let addr = listener.local_addr().map_err(|e| ApiError::Internal(format!("local addr: {e}")))?;
    // With the peer address of each connection: rate limits count per client address.
    let app = crate::http::routes::router(state.clone(), demo.as_ref())
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    tracing::info!(%addr, "serving");
    Ok(RunningServer { addr, state, demo })
}

//! The job queue (apalis): one queue, `alphery.jobs` unless `QUEUE_NAME` says otherwise, named
//! explicitly so renaming a Rust type never orphans queued jobs. Stored beside the data by
//! default — SQLite storage in the embedded database, PostgreSQL storage (apalis's own schema,
//! through the owner's connection) in production — or in Redis (`QUEUE_STORAGE=redis`). Jobs are small references (`SendEmail { email_id }`); the state they act on
//! lives in our tables, so handlers are idempotent and a re-delivered job does no harm.

use std::task::{Context, Poll};
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_redis::RedisStorage;
use apalis_sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};

/// The queue's default name in every storage.
pub const QUEUE: &str = "alphery.jobs";

/// Work for the workers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Deliver one email of the email outbox.
    SendEmail { tenant_id: String, email_id: String },
    /// Run the workflows a committed change fires (`trigger_key`: the outbox event's id).
    RecordChanged { trigger_key: String, event: Box<entity::runtime::record::ChangeEvent> },
    /// Execute a manual run of a workflow on a record.
    RunWorkflow {
        tenant_id: String,
        workflow_id: String,
        record_id: String,
        run_id: String,
        /// The body of an inbound webhook (`{{payload.…}}` in templates).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<serde_json::Value>,
    },
    /// Continue a run parked at a `wait` from action `position`.
    ResumeWorkflow {
        tenant_id: String,
        run_id: String,
        position: usize,
        /// The run's attempt count when it was parked (identifies the parking).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attempts: Option<i32>,
    },
    /// Deliver one webhook delivery.
    DeliverWebhook { tenant_id: String, delivery_id: String },
    /// Bring an entity's records in line with an index slot's assignment, then mark it ready
    /// (`entity::runtime::indexes::run_job`).
    ConvergeIndexSlot { tenant_id: String, entity_id: String, slot: String },
    /// Write an export to its file (`entity::features::exports::jobs::run_job`).
    RunExport { tenant_id: String, export_id: String },
    /// Write the search entries of an entity's searchable fields for its existing records,
    /// then mark the fields ready (`entity::runtime::search::run_job`).
    BuildSearch { tenant_id: String, entity_id: String },
    /// Run a CSV import batch by batch from its committed cursor (`handlers::imports`).
    RunImport { tenant_id: String, import_id: String },
    /// Refresh the Customer Memory of a record whose related notes changed
    /// (`handlers::memory`).
    RefreshMemory { tenant_id: String, entity_id: String, record_id: String },
    /// Run the `stock_below_reorder` workflows of a balance's crossing (`trigger_key`: the
    /// outbox event's id).
    StockBelowReorder { tenant_id: String, trigger_key: String, alert: entity::runtime::stock::BelowReorder },
    /// Score a pipeline record's confidence again: the record or an activity about it changed
    /// (`handlers::confidence`).
    RefreshConfidence { tenant_id: String, record_id: String },
    /// Score a page of a tenant's open pipeline records, from cursor `after`, and queue the
    /// next: the tenant set its confidence weights (`handlers::confidence`).
    BackfillConfidence {
        tenant_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<String>,
    },
}

impl Job {
    /// Every kind of job, as the queue stores it (`kind` in the job's JSON) and metrics label it.
    pub const KINDS: [&'static str; 13] = [
        "send_email",
        "record_changed",
        "run_workflow",
        "resume_workflow",
        "deliver_webhook",
        "converge_index_slot",
        "run_export",
        "build_search",
        "run_import",
        "refresh_memory",
        "stock_below_reorder",
        "refresh_confidence",
        "backfill_confidence",
    ];

    /// This job's kind (one of `KINDS`).
    pub fn kind(&self) -> &'static str {
        match self {
            Job::SendEmail { .. } => Self::KINDS[0],
            Job::RecordChanged { .. } => Self::KINDS[1],
            Job::RunWorkflow { .. } => Self::KINDS[2],
            Job::ResumeWorkflow { .. } => Self::KINDS[3],
            Job::DeliverWebhook { .. } => Self::KINDS[4],
            Job::ConvergeIndexSlot { .. } => Self::KINDS[5],
            Job::RunExport { .. } => Self::KINDS[6],
            Job::BuildSearch { .. } => Self::KINDS[7],
            Job::RunImport { .. } => Self::KINDS[8],
            Job::RefreshMemory { .. } => Self::KINDS[9],
            Job::StockBelowReorder { .. } => Self::KINDS[10],
            Job::RefreshConfidence { .. } => Self::KINDS[11],
            Job::BackfillConfidence { .. } => Self::KINDS[12],
        }
    }
}

/// Jobs waiting in the queue, by kind and whether they may run now (`ready`) or later
/// (`scheduled`: a retry's backoff, a parked workflow's resume), as rows (kind, state, count).
/// Read from apalis's own table in the database (`QUEUE_STORAGE=database`): apalis's
/// "waiting" jobs (pending, or failed with attempts left) and only those, so a scrape stays
/// cheap however many finished jobs the table keeps. `system`: the connection that owns the
/// queue's table.
pub async fn depth(system: &entity::Db, name: &str) -> entity::Result<Vec<(String, &'static str, i64)>> {
    use sea_orm::ConnectionTrait;
    let (table, kind, now) = match system.dialect {
        // Jobs are stored as their JSON bytes.
        entity::Dialect::Sqlite => {
            ("Jobs", "json_extract(CAST(job AS TEXT), '$.kind')", "CAST(strftime('%s', 'now') AS INTEGER)")
        }
        entity::Dialect::Postgres => ("apalis.jobs", "convert_from(job, 'UTF8')::jsonb ->> 'kind'", "now()"),
    };
    let mut buf = entity::sql_buf::SqlBuf::new(system.dialect);
    buf.push(&format!(
        "SELECT {kind} AS kind, CASE WHEN run_at > {now} THEN 'scheduled' ELSE 'ready' END AS state, \
         COUNT(*) AS n FROM (SELECT job, run_at FROM {table} WHERE status = 'Pending' AND job_type = "
    ));
    // One branch per status, each an equality the planners match to an index: apalis's
    // (job_type, status, run_at) on SQLite, its partial index of waiting jobs on PostgreSQL
    // (an OR of the two statuses makes SQLite scan the whole table once it has statistics).
    buf.bind(name.to_owned());
    buf.push(&format!(
        " UNION ALL SELECT job, run_at FROM {table} WHERE status = 'Failed' AND attempts < max_attempts AND job_type = "
    ));
    buf.bind(name.to_owned());
    buf.push(") waiting GROUP BY 1, 2");
    let rows = system.conn.query_all_raw(buf.into_statement()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let kind: Option<String> = row.try_get("", "kind")?;
        let state: String = row.try_get("", "state")?;
        let state = if state == "scheduled" { "scheduled" } else { "ready" };
        out.push((kind.unwrap_or_default(), state, row.try_get::<i64>("", "n")?));
    }
    Ok(out)
}

/// Errors of the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue storage: {0}")]
    Storage(String),
}

/// A poll strategy that re-arms its interval after every tick. apalis 1.0's interval
/// strategy arms the next delay without polling it, so the worker can sleep until the 30 s
/// heartbeat (jobs stuck for half a minute); registering the waker every time avoids that.
pub struct Rearming {
    period: Duration,
    interval: Option<tokio::time::Interval>,
}

impl Rearming {
    pub fn new(period: Duration) -> Self {
        Rearming { period, interval: None }
    }
}

impl PollStrategy for Rearming {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let period = self.period;
        let interval = self.interval.get_or_insert_with(|| {
            let mut i = tokio::time::interval(period);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        if interval.poll_tick(cx).is_ready() {
            // Drain ready ticks so the waker is registered for the next one.
            while interval.poll_tick(cx).is_ready() {}
            return Poll::Ready(Some(()));
        }
        Poll::Pending
    }
}

/// The queue's storage.
#[derive(Clone)]
pub enum Queue {
    Sqlite(SqliteStorage<Job>),
    Postgres(PostgresStorage<Job>),
    Redis(RedisStorage<Job>),
}

impl Queue {
    /// Prepares the storage and returns the queue named `name`. `url` is the database URL
    /// (SQLite uses a dedicated single connection, so the storage's connection settings stay
    /// its own) or, for Redis storage, the Redis URL.
    pub async fn connect(url: &str, name: &str) -> Result<Queue, QueueError> {
        let err = |e: &dyn std::fmt::Display| QueueError::Storage(e.to_string());
        if url.starts_with("redis") {
            let conn = apalis_redis::connect(url).await.map_err(|e| err(&e))?;
            // Orphaned jobs (their worker stopped beating) come back after a few beats.
            let config = apalis_redis::Config::default()
                .queue(name)
                .heartbeat_interval(Duration::from_secs(5))
                .missed_heartbeats(3);
            Ok(Queue::Redis(RedisStorage::new(conn).with_config(config)))
        } else if url.starts_with("postgres") {
            let pool = apalis_postgres::PgPool::connect(url).await.map_err(|e| err(&e))?;
            PostgresStorage::setup(&pool).await.map_err(|e| err(&e))?;
            let config = apalis_postgres::Config::default().queue(name);
            Ok(Queue::Postgres(PostgresStorage::new(&pool).with_config(config)))
        } else {
            // The queue shares the file's one write lock with the data's writers (an import's
            // batch holds it for up to two seconds): wait for it as long as they do (`entity::db`),
            // or the worker's poll fails and the worker stops.
            let options = url
                .parse::<apalis_sqlite::SqliteConnectOptions>()
                .map_err(|e| err(&e))?
                .busy_timeout(Duration::from_secs(15));
            let pool = apalis_sqlite::SqlitePool::connect_with(options).await.map_err(|e| err(&e))?;
            entity::db::sqlite_migration(|| SqliteStorage::setup(&pool)).await.map_err(|e| err(&e))?;
            let config = apalis_sqlite::Config::default().queue(name);
            Ok(Queue::Sqlite(SqliteStorage::new(&pool).with_config(config)))
        }
    }

    /// Which storage holds the jobs (`sqlite`, `postgres`, `redis`).
    pub fn storage(&self) -> &'static str {
        match self {
            Queue::Sqlite(_) => "sqlite",
            Queue::Postgres(_) => "postgres",
            Queue::Redis(_) => "redis",
        }
    }

    /// Enqueues a job, to run after `delay` when given.
    pub async fn push(&self, job: Job, delay: Option<Duration>) -> Result<(), QueueError> {
        let mut builder = TaskBuilder::new(job);
        if let Some(d) = delay {
            builder = builder.run_after(d);
        }
        let task = builder.build();
        let result = match self.clone() {
            Queue::Sqlite(mut s) => s.push_task(task).await.map_err(|e| e.to_string()),
            Queue::Postgres(mut s) => s.push_task(task).await.map_err(|e| e.to_string()),
            Queue::Redis(mut s) => s.push_task(task).await.map_err(|e| e.to_string()),
        };
        result.map_err(QueueError::Storage)
    }
}

/// Whether Redis at `url` answers a PING (within two seconds).
pub async fn ping_redis(url: &str) -> Result<(), String> {
    let check = async {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let mut conn = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
        redis::cmd("PING").query_async::<String>(&mut conn).await.map_err(|e| e.to_string())?;
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(2), check).await.map_err(|_| "timed out".to_owned())?
}

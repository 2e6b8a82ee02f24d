//! Exports run as jobs (`exportRecords`, and the tenant's archive: `startTenantExport`,
//! written by `tenant`): the request is a row of `export_jobs` and an
//! `export.queued` outbox event written in one transaction, which the relay turns into a
//! `RunExport` job after commit. The worker runs the export with the requester's role as it is
//! then (a role that lost `export` meanwhile fails the job) into
//! `<data dir>/exports/<tenant>/<id>.<csv|jsonl|zip>`, reporting the rows written after each page;
//! every change of status or progress is an `ExportChanged` event (`exportChanged`). A file is
//! written under a temporary name and renamed when complete, so a download never reads half a
//! file, and a redelivered job of a finished export does nothing.

use std::path::{Path, PathBuf};

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, Iterable, QueryFilter,
    QueryTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::tenant::{self, Blobs, Progress};
use super::{Ask, Asker, Format, Plan, Sink, run};
use crate::features::users::roles;
use crate::models::export_job::{self, Column};
use crate::runtime::audit::{self, Actor};
use crate::runtime::meta::TenantMeta;
use crate::runtime::outbox;
use crate::runtime::policy::Permissions;
use crate::runtime::time;
use crate::{Db, Dialect, Error, Result};

/// One export job: what was asked and how far it got.
pub use crate::models::export_job::Model as ExportJob;

/// Waiting for a worker.
pub const QUEUED: &str = "queued";
/// A worker is writing it.
pub const RUNNING: &str = "running";
/// The file is complete.
pub const DONE: &str = "done";
/// It stopped; `error` says why.
pub const FAILED: &str = "failed";

/// `OutboxEvent::ExportQueued`: export `export_id` is to run (the relay makes it a job).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportQueued {
    pub export_id: String,
}

impl outbox::Event for ExportQueued {
    const TOPIC: &'static str = "export.queued";
}

/// `OutboxEvent::ExportChanged`: export `export_id` took `status` with `rows_written` rows out
/// (news for `exportChanged`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportChanged {
    pub tenant_id: String,
    pub export_id: String,
    pub status: String,
    pub rows_written: i64,
}

impl outbox::Event for ExportChanged {
    const TOPIC: &'static str = "export.changed";
    const WORK: bool = false;
}

/// Who asks for an export job: the user and role it will run with, and the audit actor.
pub struct Requester<'a> {
    pub user_id: &'a str,
    pub role_id: &'a str,
    pub actor: &'a Actor,
}

/// Queues export `ask` in `txn` (already checked by the caller with `Plan::build`): its row and
/// the event that becomes its job.
pub async fn queue(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    ask: &Ask,
    who: Requester<'_>,
) -> Result<ExportJob> {
    let fields = ask.fields.as_ref().map(|f| Value::from(f.clone()));
    insert(txn, tenant_id, (&ask.entity, ask.format.as_str()), (ask.filter.clone(), fields), who).await
}

/// Queues the tenant's archive (`tenant`) in `txn`, for its owner `who`.
pub async fn queue_archive(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    who: Requester<'_>,
) -> Result<ExportJob> {
    insert(txn, tenant_id, ("", super::tenant::FORMAT), (None, None), who).await
}

/// Writes a job's row, `(entity, format)` with `(filter, fields)`, and the event that becomes
/// its job.
async fn insert(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    (entity, format): (&str, &str),
    (filter, fields): (Option<Value>, Option<Value>),
    who: Requester<'_>,
) -> Result<ExportJob> {
    let now = time::now();
    let row = export_job::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(tenant_id.to_owned()),
        entity: Set(entity.to_owned()),
        format: Set(format.to_owned()),
        filter: Set(filter),
        fields: Set(fields),
        user_id: Set(who.user_id.to_owned()),
        role_id: Set(who.role_id.to_owned()),
        actor: Set(serde_json::to_value(who.actor)?),
        status: Set(QUEUED.to_owned()),
        rows_written: Set(0),
        file_name: Set(None),
        error: Set(None),
        size_bytes: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        finished_at: Set(None),
    }
    .insert(txn)
    .await?;
    let d = Dialect::of(txn);
    outbox::write(txn, d, tenant_id, &ExportQueued { export_id: row.id.clone() }).await?;
    announce(txn, &row).await?;
    Ok(row)
}

/// Export job `id` of the tenant, if there is one.
pub async fn get(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<Option<ExportJob>> {
    Ok(export_job::Entity::find_by_id(id.to_owned()).filter(Column::TenantId.eq(tenant_id)).one(conn).await?)
}

/// Where the finished file of `job` lies under `data_dir`.
pub fn file_path(data_dir: &Path, job: &ExportJob) -> Option<PathBuf> {
    let name = job.file_name.as_deref().filter(|_| job.status == DONE)?;
    Some(data_dir.join("exports").join(&job.tenant_id).join(name))
}

/// Writes the `ExportChanged` event of `job` as it now stands, in the transaction that changed it.
async fn announce(conn: &impl ConnectionTrait, job: &ExportJob) -> Result<()> {
    let event = ExportChanged {
        tenant_id: job.tenant_id.clone(),
        export_id: job.id.clone(),
        status: job.status.clone(),
        rows_written: job.rows_written,
    };
    outbox::write(conn, Dialect::of(conn), &job.tenant_id, &event).await
}

/// How a job's row changes: its status and rows, and once it ends, the file and its size or
/// the error.
#[derive(Default)]
struct Step<'a> {
    status: &'a str,
    rows: i64,
    file_name: Option<String>,
    size: Option<i64>,
    error: Option<String>,
}

/// Moves `job` on by `step` in a transaction of its own, with its event: one UPDATE …
/// RETURNING whose WHERE keeps an ended job as it ended — a second run of the same job (its
/// lease ran out on a busy worker and another took it) must not turn `done` back into
/// `running`. Only then is the row read, to answer with it as it stands.
async fn advance(db: &Db, job: &ExportJob, step: Step<'_>) -> Result<ExportJob> {
    let txn = db.begin_tenant_write(&job.tenant_id).await?;
    let now = time::now();
    let ends = step.status == DONE || step.status == FAILED;
    let change = export_job::ActiveModel {
        status: Set(step.status.to_owned()),
        rows_written: Set(step.rows),
        file_name: Set(step.file_name),
        size_bytes: Set(step.size),
        error: Set(step.error),
        updated_at: Set(now),
        finished_at: Set(ends.then_some(now)),
        ..Default::default()
    };
    // SeaORM's `exec_with_returning` refuses SQLite (see `workflows::runs`): the RETURNING
    // clause is added to its statement.
    let mut update = export_job::Entity::update_many()
        .set(change)
        .filter(Column::Id.eq(job.id.clone()))
        .filter(Column::TenantId.eq(job.tenant_id.clone()))
        .filter(Column::Status.is_not_in([DONE, FAILED]))
        .into_query();
    update.returning(Query::returning().columns(Column::iter()));
    let moved = txn.query_one(&update).await?.map(|r| ExportJob::from_query_result(&r, "")).transpose()?;
    let Some(row) = moved else {
        let ended = get(&txn, &job.tenant_id, &job.id).await?;
        txn.commit().await?;
        return ended.ok_or_else(|| Error::NotFound("export".into()));
    };
    announce(&txn, &row).await?;
    txn.commit().await?;
    Ok(row)
}

/// How long a running export may go without a word (each page it writes is one) before a
/// delivery of its job may take it over: its worker is taken to have died.
const STALE: chrono::Duration = chrono::Duration::minutes(5);

/// Takes `job` up (→ `running`) for this run, or `None` when another run has it: the queue
/// delivers at least once, so the same job may arrive twice (a relay pass and its retry, a
/// lease that ran out), and two runs would write the one file over each other. One conditional
/// UPDATE decides on both backends: from `queued`, or from a `running` that has gone silent.
async fn claim(db: &Db, job: &ExportJob) -> Result<Option<ExportJob>> {
    let txn = db.begin_tenant_write(&job.tenant_id).await?;
    let now = time::now();
    let taken = export_job::Entity::update_many()
        .col_expr(Column::Status, sea_orm::sea_query::Expr::value(RUNNING))
        .col_expr(Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(Column::Id.eq(job.id.clone()))
        .filter(Column::TenantId.eq(job.tenant_id.clone()))
        .filter(sea_orm::Condition::any().add(Column::Status.eq(QUEUED)).add(
            sea_orm::Condition::all().add(Column::Status.eq(RUNNING)).add(Column::UpdatedAt.lt(now - STALE)),
        ))
        .exec(&txn)
        .await?;
    if taken.rows_affected != 1 {
        txn.commit().await?;
        return Ok(None);
    }
    let row = get(&txn, &job.tenant_id, &job.id)
        .await?
        .ok_or_else(|| Error::Internal("a claimed export went missing".into()))?;
    announce(&txn, &row).await?;
    txn.commit().await?;
    Ok(Some(row))
}

/// Runs export job `id` of `tenant_id` (the worker's `RunExport`): a list export, or the
/// tenant's archive, whose attachments' bytes come from `blobs`. A job that is gone or already
/// finished does nothing; an export that fails leaves the job `failed` with the reason (the job
/// itself succeeds: running it again would fail alike).
pub async fn run_job(db: &Db, data_dir: &Path, blobs: &dyn Blobs, tenant_id: &str, id: &str) -> Result<()> {
    let txn = db.begin_tenant_read(tenant_id).await?;
    let job = get(&txn, tenant_id, id).await?;
    txn.commit().await?;
    let Some(job) = job.filter(|j| j.status != DONE && j.status != FAILED) else {
        return Ok(());
    };
    let Some(job) = claim(db, &job).await? else {
        return Ok(());
    };
    match write_file(db, data_dir, blobs, &job).await {
        Ok(file) => {
            let step = Step {
                status: DONE,
                rows: i64::try_from(file.rows).unwrap_or(i64::MAX),
                file_name: Some(file.name),
                size: Some(i64::try_from(file.size).unwrap_or(i64::MAX)),
                error: None,
            };
            advance(db, &job, step).await?;
        }
        // A database failure is the worker's to retry; a refusal (the role lost `export`, the
        // entity is gone, a filter no longer fits) is the export's outcome.
        Err(e @ (Error::Db(_) | Error::Internal(_))) => return Err(e),
        Err(e) => {
            advance(db, &job, Step { status: FAILED, error: Some(e.to_string()), ..Step::default() }).await?;
        }
    }
    Ok(())
}

/// A finished job's file: its name, the rows (records) it holds and its size in bytes.
struct Written {
    name: String,
    rows: u64,
    size: u64,
}

/// The export of `job` into its file, written under a temporary name and renamed once complete.
async fn write_file(db: &Db, data_dir: &Path, blobs: &dyn Blobs, job: &ExportJob) -> Result<Written> {
    let dir = data_dir.join("exports").join(&job.tenant_id);
    tokio::fs::create_dir_all(&dir).await.map_err(io)?;
    let mut progress = Advance { db, job };
    let (name, rows, size, partial) = if tenant::is_archive(job) {
        let name = format!("{}.{}", job.id, tenant::FORMAT);
        let partial = dir.join(format!("{name}.partial"));
        let (counts, size) = tenant::write_archive(db, blobs, &partial, job, &mut progress).await?;
        audit_archive(db, job, counts, size).await?;
        (name, counts.records, size, partial)
    } else {
        let (plan, format) = list_plan(db, job).await?;
        let name = format!("{}.{}", job.id, format.extension());
        let partial = dir.join(format!("{name}.partial"));
        let file = tokio::fs::File::create(&partial).await.map_err(io)?;
        let mut sink = FileSink { file, progress, size: 0 };
        let rows = run(db, &plan, &mut sink).await?;
        sink.file.flush().await.map_err(io)?;
        sink.file.sync_all().await.map_err(io)?;
        (name, rows, sink.size, partial)
    };
    tokio::fs::rename(&partial, dir.join(&name)).await.map_err(io)?;
    Ok(Written { name, rows, size })
}

/// A list export job's plan, checked again with the requester's role as it is now.
async fn list_plan(db: &Db, job: &ExportJob) -> Result<(Plan, Format)> {
    let meta = TenantMeta::load_for(db, &job.tenant_id).await?.switched_on();
    let txn = db.begin_tenant_read(&job.tenant_id).await?;
    let role = roles::find(&txn, &job.tenant_id, &job.role_id).await?;
    let attributes = crate::features::users::attributes::of_user(&txn, &job.tenant_id, &job.user_id).await?;
    txn.commit().await?;
    let permissions = Permissions::from_stored(&role.permissions);
    let fields = match &job.fields {
        Some(v) => Some(serde_json::from_value::<Vec<String>>(v.clone())?),
        None => None,
    };
    let format = Format::parse(&job.format)?;
    let ask = Ask { entity: job.entity.clone(), format, filter: job.filter.clone(), fields };
    let actor: Actor = serde_json::from_value(job.actor.clone())?;
    let who = Asker {
        tenant_id: &job.tenant_id,
        user_id: &job.user_id,
        attributes: &attributes,
        permissions: &permissions,
        actor,
    };
    Ok((Plan::build(&meta, who, ask)?, format))
}

/// The archive's audit entry (`tenant.export`: what it holds, never a value), once written.
async fn audit_archive(db: &Db, job: &ExportJob, counts: tenant::Counts, size: u64) -> Result<()> {
    let actor: Actor = serde_json::from_value(job.actor.clone())?;
    let entry = audit::Entry {
        action: "tenant.export",
        object_type: "export_job",
        object_id: Some(&job.id),
        changes: json!({"format": tenant::FORMAT, "entities": counts.entities, "records": counts.records,
                        "auditEntries": counts.audit_entries, "files": counts.files, "sizeBytes": size}),
    };
    let txn = db.begin_tenant_write(&job.tenant_id).await?;
    audit::append(&txn, db.dialect, &job.tenant_id, &actor, &entry).await?;
    txn.commit().await?;
    Ok(())
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("export file: {e}"))
}

/// A running job's progress: each report is a `running` step with the rows written so far.
struct Advance<'a> {
    db: &'a Db,
    job: &'a ExportJob,
}

impl Progress for Advance<'_> {
    async fn rows(&mut self, rows: u64) -> Result<()> {
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        advance(self.db, self.job, Step { status: RUNNING, rows, ..Step::default() }).await?;
        Ok(())
    }
}

/// A list export job's file, reporting its progress after each page.
struct FileSink<'a> {
    file: tokio::fs::File,
    progress: Advance<'a>,
    /// Bytes written so far.
    size: u64,
}

impl Sink for FileSink<'_> {
    async fn write(&mut self, chunk: Vec<u8>, rows: u64) -> Result<bool> {
        self.file.write_all(&chunk).await.map_err(io)?;
        self.size += chunk.len() as u64;
        if rows > 0 {
            self.progress.rows(rows).await?;
        }
        Ok(true)
    }
}

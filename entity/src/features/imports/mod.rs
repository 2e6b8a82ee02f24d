//! CSV imports into any entity. An import is a row of `imports` (its settings, who started it,
//! status, counts and resume cursor), a file under the data folder, and the rows it refused
//! (`import_errors`). The worker runs it batch by batch (`run`): each batch's records, its
//! refused rows and the advanced cursor commit in one transaction, so a worker killed mid-import
//! leaves the import at its last committed batch and the next one goes on from there, writing
//! every row exactly once. Columns are matched to fields by `mapping`, cells become the field's
//! input by `cells`, and the file is read by `file`.
//!
//! Every change of an import's status or progress writes an `ImportChanged` event
//! (`importChanged`); starting it and taking over one whose worker fell silent write an
//! `ImportQueued` event, which the job relay turns into the job that runs it.

pub mod cells;
pub mod file;
pub mod mapping;
pub mod run;
mod targets;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::models::{import, import_error};
use crate::runtime::audit::{self, Actor};
use crate::runtime::outbox;
use crate::runtime::time;
use crate::{Dialect, Error, Result};

pub use crate::models::import::Model as Import;
pub use crate::models::import_error::Model as RowError;
pub use mapping::Column;

/// Where an import stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Started; its job has not begun.
    Pending,
    /// A worker is reading it batch by batch.
    Running,
    /// Every row was read (some may have been refused).
    Done,
    /// It stopped for good before the end (`message` says why).
    Failed,
    /// Cancelled by its starter or an administrator: batches committed before stay.
    Cancelled,
}

impl Status {
    /// Every status, in the order of the public enum.
    pub const ALL: [Status; 5] =
        [Status::Pending, Status::Running, Status::Done, Status::Failed, Status::Cancelled];

    /// As stored (`imports.status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// As the public enum spells it (`ImportStatus`).
    pub fn public_name(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Running => "RUNNING",
            Status::Done => "DONE",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// `OutboxEvent::ImportQueued`: import `import_id` is to be run (or taken over) by a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportQueued {
    pub import_id: String,
}

impl outbox::Event for ImportQueued {
    const TOPIC: &'static str = "import.queued";
}

/// `OutboxEvent::ImportChanged`: import `import_id` changed status or progress
/// (`importChanged`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportChanged {
    pub tenant_id: String,
    pub import_id: String,
    pub status: String,
    pub processed_rows: i64,
}

impl outbox::Event for ImportChanged {
    const TOPIC: &'static str = "import.changed";
    const WORK: bool = false;
}

/// Writes the `ImportChanged` event of `row` as it is now, in the transaction that made it so.
async fn announce(conn: &impl ConnectionTrait, row: &Import) -> Result<()> {
    let event = ImportChanged {
        tenant_id: row.tenant_id.clone(),
        import_id: row.id.clone(),
        status: row.status.clone(),
        processed_rows: row.processed_rows,
    };
    outbox::write(conn, Dialect::of(conn), &row.tenant_id, &event).await
}

/// An import about to start: what `startImport` checked and the file it stored.
#[derive(Debug, Clone)]
pub struct NewImport {
    pub id: String,
    pub entity_id: String,
    pub file_name: String,
    pub mapping: Vec<Column>,
    pub dry_run: bool,
    pub run_workflows: bool,
    pub upsert_by: Option<String>,
    /// Who writes every row (with `workflows_off` set when workflows are off).
    pub actor: Actor,
    /// The starter's permissions document (`Permissions::to_json`).
    pub permissions: serde_json::Value,
    /// The file as scanned when it was stored.
    pub scan: file::Scan,
}

/// Records a new import (pending), its audit entry and the event that queues its job.
pub async fn start(txn: &impl ConnectionTrait, tenant_id: &str, new: NewImport) -> Result<Import> {
    let now = time::now();
    let row = Import {
        id: new.id,
        tenant_id: tenant_id.to_owned(),
        entity_id: new.entity_id,
        created_by: new.actor.user_id.clone(),
        status: Status::Pending.as_str().to_owned(),
        dry_run: new.dry_run,
        run_workflows: new.run_workflows,
        upsert_by: new.upsert_by,
        file_name: new.file_name,
        mapping: serde_json::to_value(&new.mapping)?,
        actor: serde_json::to_value(&new.actor)?,
        permissions: new.permissions,
        total_rows: new.scan.rows,
        processed_rows: 0,
        created_count: 0,
        updated_count: 0,
        error_count: 0,
        cursor_offset: i64::try_from(new.scan.data_offset)
            .map_err(|_| Error::BadRequest("the file is too large".into()))?,
        message: None,
        heartbeat_at: Some(now),
        created_at: now,
        updated_at: now,
        finished_at: None,
    };
    import::Entity::insert(import::ActiveModel::from(row.clone())).exec_without_returning(txn).await?;
    let changes = serde_json::json!({
        "entityId": row.entity_id, "fileName": row.file_name, "totalRows": row.total_rows,
        "dryRun": row.dry_run, "upsertBy": row.upsert_by, "runWorkflows": row.run_workflows,
    });
    let entry =
        audit::Entry { action: "import.start", object_type: "import", object_id: Some(&row.id), changes };
    audit::append(txn, Dialect::of(txn), tenant_id, &new.actor, &entry).await?;
    outbox::write(txn, Dialect::of(txn), tenant_id, &ImportQueued { import_id: row.id.clone() }).await?;
    announce(txn, &row).await?;
    Ok(row)
}

/// The condition naming import `id` of `tenant_id`, and (`starter`) only if that user started it.
fn own(tenant_id: &str, id: &str, starter: Option<&str>) -> Condition {
    let c = Condition::all().add(import::Column::TenantId.eq(tenant_id)).add(import::Column::Id.eq(id));
    match starter {
        Some(u) => c.add(import::Column::CreatedBy.eq(u)),
        None => c,
    }
}

/// Import `id` of the tenant; with `starter`, only one that user started.
pub async fn get(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    id: &str,
    starter: Option<&str>,
) -> Result<Option<Import>> {
    Ok(import::Entity::find().filter(own(tenant_id, id, starter)).one(conn).await?)
}

/// The tenant's imports (of `starter` only, when given), newest first: `first` of them after
/// import `after` (a cursor is an import's id).
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    starter: Option<&str>,
    first: u64,
    after: Option<&str>,
) -> Result<Vec<Import>> {
    let mut q = import::Entity::find().filter(import::Column::TenantId.eq(tenant_id));
    if let Some(u) = starter {
        q = q.filter(import::Column::CreatedBy.eq(u));
    }
    if let Some(after) = after {
        let at = get(conn, tenant_id, after, starter)
            .await?
            .ok_or_else(|| Error::BadRequest("`after` is not a cursor of this list".into()))?;
        q = q.filter(
            Condition::any().add(import::Column::CreatedAt.lt(at.created_at)).add(
                Condition::all()
                    .add(import::Column::CreatedAt.eq(at.created_at))
                    .add(import::Column::Id.lt(at.id.clone())),
            ),
        );
    }
    Ok(q.order_by_desc(import::Column::CreatedAt)
        .order_by_desc(import::Column::Id)
        .limit(first)
        .all(conn)
        .await?)
}

/// The rows import `import_id` refused, in file order: `first` of them after `after` (row, seq).
pub async fn errors(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    import_id: &str,
    first: u64,
    after: Option<(i64, i32)>,
) -> Result<Vec<RowError>> {
    let mut q = import_error::Entity::find()
        .filter(import_error::Column::TenantId.eq(tenant_id))
        .filter(import_error::Column::ImportId.eq(import_id));
    if let Some((row, seq)) = after {
        q = q.filter(Condition::any().add(import_error::Column::RowNo.gt(row)).add(
            Condition::all().add(import_error::Column::RowNo.eq(row)).add(import_error::Column::Seq.gt(seq)),
        ));
    }
    Ok(q.order_by_asc(import_error::Column::RowNo)
        .order_by_asc(import_error::Column::Seq)
        .limit(first)
        .all(conn)
        .await?)
}

/// Cancels import `id` (of `starter` only, when given) if it has not ended: batches committed
/// before stay; a batch in flight finds it cancelled and rolls back. The import as it is now
/// and whether this cancelled it; `None` when there is no such import.
pub async fn cancel(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    id: &str,
    starter: Option<&str>,
    actor: &Actor,
) -> Result<Option<(Import, bool)>> {
    let now = time::now();
    let open = [Status::Pending.as_str(), Status::Running.as_str()];
    let res = import::Entity::update_many()
        .col_expr(import::Column::Status, Expr::value(Status::Cancelled.as_str()))
        .col_expr(import::Column::UpdatedAt, Expr::value(now))
        .col_expr(import::Column::FinishedAt, Expr::value(now))
        .filter(own(tenant_id, id, starter))
        .filter(import::Column::Status.is_in(open))
        .exec(txn)
        .await?;
    let Some(row) = get(txn, tenant_id, id, starter).await? else { return Ok(None) };
    if res.rows_affected > 0 {
        let entry = audit::Entry {
            action: "import.cancel",
            object_type: "import",
            object_id: Some(id),
            changes: serde_json::json!({ "processedRows": row.processed_rows }),
        };
        audit::append(txn, Dialect::of(txn), tenant_id, actor, &entry).await?;
        announce(txn, &row).await?;
    }
    Ok(Some((row, res.rows_affected > 0)))
}

/// Running imports of every tenant with no sign of life since before `cutoff`: (tenant, id).
pub async fn stale(conn: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<Vec<(String, String)>> {
    crate::features::rows::stale::<import::Entity>(conn, cutoff).await
}

/// Queues a running import whose worker fell silent (no batch since before `cutoff`) again:
/// the next worker goes on from its last committed batch. Whether it was queued.
pub async fn requeue(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    id: &str,
    cutoff: DateTime<Utc>,
) -> Result<bool> {
    let res = import::Entity::update_many()
        .col_expr(import::Column::HeartbeatAt, Expr::value(time::now()))
        .filter(own(tenant_id, id, None))
        .filter(import::Column::Status.eq(Status::Running.as_str()))
        .filter(import::Column::HeartbeatAt.lt(cutoff))
        .exec(txn)
        .await?;
    if res.rows_affected == 0 {
        return Ok(false);
    }
    outbox::write(txn, Dialect::of(txn), tenant_id, &ImportQueued { import_id: id.to_owned() }).await?;
    Ok(true)
}

/// Moves import `id` from pending to running (a no-op when it is already running); the import
/// when it is running now, `None` when it has ended or does not exist.
pub async fn begin(txn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<Option<Import>> {
    let now = time::now();
    let res = import::Entity::update_many()
        .col_expr(import::Column::Status, Expr::value(Status::Running.as_str()))
        .col_expr(import::Column::HeartbeatAt, Expr::value(now))
        .col_expr(import::Column::UpdatedAt, Expr::value(now))
        .filter(own(tenant_id, id, None))
        .filter(import::Column::Status.eq(Status::Pending.as_str()))
        .exec(txn)
        .await?;
    let row = get(txn, tenant_id, id, None).await?.filter(|r| r.status == Status::Running.as_str());
    if let (Some(r), true) = (&row, res.rows_affected > 0) {
        announce(txn, r).await?;
    }
    Ok(row)
}

/// Ends a running import as failed with `message` (what the worker could not get past).
pub async fn fail(txn: &impl ConnectionTrait, tenant_id: &str, id: &str, message: &str) -> Result<()> {
    let now = time::now();
    let res = import::Entity::update_many()
        .col_expr(import::Column::Status, Expr::value(Status::Failed.as_str()))
        .col_expr(import::Column::Message, Expr::value(message))
        .col_expr(import::Column::UpdatedAt, Expr::value(now))
        .col_expr(import::Column::FinishedAt, Expr::value(now))
        .filter(own(tenant_id, id, None))
        .filter(import::Column::Status.is_in([Status::Pending.as_str(), Status::Running.as_str()]))
        .exec(txn)
        .await?;
    if res.rows_affected > 0
        && let Some(row) = get(txn, tenant_id, id, None).await?
    {
        announce(txn, &row).await?;
    }
    Ok(())
}

/// Records the refused rows of a batch.
async fn insert_errors(txn: &impl ConnectionTrait, rows: Vec<RowError>) -> Result<()> {
    // Bounded statements: a batch of bad rows may hold thousands of errors.
    for chunk in rows.chunks(200) {
        let models = chunk.iter().cloned().map(import_error::ActiveModel::from);
        import_error::Entity::insert_many(models).exec_without_returning(txn).await?;
    }
    Ok(())
}

/// What one batch did, added to the import in the batch's transaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub rows: i64,
    pub created: i64,
    pub updated: i64,
    pub refused: i64,
    /// Where the next batch starts in the file.
    pub next_offset: u64,
}

/// Takes the import's batch starting after `processed` rows: touches its heartbeat only if it
/// is still running from exactly there. False: another worker went on with it, or it was
/// cancelled — the batch must not be written. On PostgreSQL the row stays locked until the
/// batch commits, so a second worker on the same import waits and then finds it moved on.
async fn claim(txn: &impl ConnectionTrait, row: &Import) -> Result<bool> {
    let res = import::Entity::update_many()
        .col_expr(import::Column::HeartbeatAt, Expr::value(time::now()))
        .filter(own(&row.tenant_id, &row.id, None))
        .filter(import::Column::Status.eq(Status::Running.as_str()))
        .filter(import::Column::ProcessedRows.eq(row.processed_rows))
        .exec(txn)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Advances the import past a batch (and ends it as done when `last`), announcing it.
async fn advance(txn: &impl ConnectionTrait, row: &Import, p: Progress, last: bool) -> Result<Import> {
    let now = time::now();
    let mut next = row.clone();
    next.processed_rows += p.rows;
    next.created_count += p.created;
    next.updated_count += p.updated;
    next.error_count += p.refused;
    next.cursor_offset =
        i64::try_from(p.next_offset).map_err(|_| Error::Internal("file offset out of range".into()))?;
    next.updated_at = now;
    next.heartbeat_at = Some(now);
    if last {
        next.status = Status::Done.as_str().to_owned();
        next.finished_at = Some(now);
    }
    let update = import::ActiveModel {
        status: Set(next.status.clone()),
        processed_rows: Set(next.processed_rows),
        created_count: Set(next.created_count),
        updated_count: Set(next.updated_count),
        error_count: Set(next.error_count),
        cursor_offset: Set(next.cursor_offset),
        updated_at: Set(now),
        heartbeat_at: Set(Some(now)),
        finished_at: Set(next.finished_at),
        ..Default::default()
    };
    import::Entity::update_many().set(update).filter(own(&row.tenant_id, &row.id, None)).exec(txn).await?;
    announce(txn, &next).await?;
    Ok(next)
}

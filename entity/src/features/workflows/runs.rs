//! The run log of workflows: one run per (workflow, trigger key) with its steps; queueing a run
//! through the outbox; parking a run at a `wait` and taking it back; listing runs.
//!
//! A run is executed under a claim: taking it (from `queued`, `waiting`/`retrying`, or from a
//! worker that fell silent) counts `claim` up, and every write of an execution — a step's
//! effects with its log row and progress (`hold_run`), parking, finishing — is guarded by the
//! claim it took. An execution that was overtaken therefore writes nothing more, and no action
//! of a run commits twice.
//!
//! Every change of a run's status also writes a `RunChanged` event in the same transaction
//! (`announce`), so live subscribers (`workflowRunChanged`) hear of exactly the committed ones.
//!
//! Rows are the `workflow_runs` and `workflow_steps` models. Parking and requeueing a run read
//! back what they wrote in the same statement (`UPDATE … RETURNING`): SeaORM's
//! `exec_with_returning` refuses SQLite unless the workspace turns RETURNING on for it (which
//! would change every model's insert), so those two are SeaORM's update statements with a
//! sea-query RETURNING clause, run with `query_one`.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Workflow;
use crate::models::{workflow, workflow_run as run_row, workflow_step};
use crate::runtime::outbox::{self, WorkflowManual, WorkflowResume};
use crate::runtime::time;
use crate::{Dialect, Error, Result};

use run_row::Column as R;

/// A logged run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub id: String,
    pub workflow_id: String,
    pub record_id: Option<String>,
    pub status: String,
    pub depth: i32,
    /// Attempts made, the one under way included (`list_runs`).
    pub attempts: i32,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<run_row::Model> for Run {
    fn from(r: run_row::Model) -> Run {
        Run {
            id: r.id,
            workflow_id: r.workflow_id,
            record_id: r.record_id,
            status: r.status,
            depth: r.depth,
            attempts: r.attempts,
            error: r.error,
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

/// `OutboxEvent::WorkflowRunChanged`: a run as a change of its status left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunChanged {
    pub tenant_id: String,
    #[serde(flatten)]
    pub run: Run,
}

impl outbox::Event for RunChanged {
    const TOPIC: &'static str = "workflow.run.changed";
    const WORK: bool = false;
}

/// Writes the `RunChanged` event of run `run_id` as it now is, in the caller's transaction
/// (the one that changed its status), so it is announced exactly when the change commits.
async fn announce(conn: &impl ConnectionTrait, tenant_id: &str, run_id: &str) -> Result<()> {
    let found =
        run_row::Entity::find().filter(R::TenantId.eq(tenant_id)).filter(R::Id.eq(run_id)).one(conn).await?;
    let Some(row) = found else { return Ok(()) };
    let event = RunChanged { tenant_id: tenant_id.to_owned(), run: Run::from(row) };
    outbox::write(conn, Dialect::of(conn), tenant_id, &event).await
}

/// A logged step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub position: i32,
    /// The attempt of the run it belongs to (1 first).
    pub attempt: i32,
    pub action: String,
    pub status: String,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl From<workflow_step::Model> for Step {
    fn from(s: workflow_step::Model) -> Step {
        Step {
            position: s.position,
            attempt: s.attempt,
            action: s.action,
            status: s.status,
            error: s.error,
            duration_ms: s.duration_ms,
        }
    }
}

/// An action's position as the `next_position` column holds it.
fn column_position(position: usize) -> Result<i32> {
    i32::try_from(position).map_err(|_| Error::Internal(format!("action position {position} out of range")))
}

/// The runs of a tenant with id `run_id`, to update.
fn one_run(tenant_id: &str, run_id: &str) -> sea_orm::UpdateMany<run_row::Entity> {
    run_row::Entity::update_many().filter(R::TenantId.eq(tenant_id)).filter(R::Id.eq(run_id))
}

/// Runs `update` (built by `one_run`) and reads `columns` of the row it changed, in one
/// statement; `None` when it changed none.
async fn update_returning(
    conn: &impl ConnectionTrait,
    update: sea_orm::UpdateMany<run_row::Entity>,
    columns: impl IntoIterator<Item = R>,
) -> Result<Option<sea_orm::QueryResult>> {
    let mut statement = update.into_query();
    statement.returning(Query::returning().columns(columns));
    Ok(conn.query_one(&statement).await?)
}

/// Starts a run for (workflow, trigger key); `None` when that run already exists (the event
/// was delivered twice).
pub async fn start_run(
    conn: &impl ConnectionTrait,
    w: &Workflow,
    trigger_key: &str,
    record_id: &str,
    depth: u32,
    status: &str,
) -> Result<Option<String>> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = time::now();
    let row = run_row::ActiveModel {
        id: Set(id.clone()),
        tenant_id: Set(w.tenant_id.clone()),
        workflow_id: Set(w.id.clone()),
        trigger_key: Set(trigger_key.to_owned()),
        record_id: Set(Some(record_id.to_owned())),
        status: Set(status.to_owned()),
        depth: Set(
            i32::try_from(depth).map_err(|_| Error::Internal(format!("run depth {depth} out of range")))?
        ),
        heartbeat_at: Set(Some(now)),
        started_at: Set(now),
        ..Default::default()
    };
    let inserted = run_row::Entity::insert(row)
        .on_conflict(OnConflict::columns([R::WorkflowId, R::TriggerKey]).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?
        == 1;
    if inserted {
        announce(conn, &w.tenant_id, &id).await?;
    }
    Ok(inserted.then_some(id))
}

/// Ends a run with `status`. With `claim`, only while that execution still holds the run
/// (`false` when it lost it: the run is another execution's to end).
pub async fn finish_run(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    run_id: &str,
    claim: Option<i32>,
    status: &str,
    error: Option<&str>,
) -> Result<bool> {
    let mut update = one_run(tenant_id, run_id)
        .col_expr(R::Status, Expr::value(status))
        .col_expr(R::Error, Expr::value(error.map(str::to_owned)));
    // `attempts` counts failed attempts: the last one too.
    if matches!(status, "failed" | "dead") {
        update = update.col_expr(R::Attempts, Expr::col(R::Attempts).add(1));
    }
    update = update.col_expr(R::FinishedAt, Expr::value(time::now()));
    if let Some(claim) = claim {
        update = claimed(update, claim);
    }
    let finished = update.exec(conn).await?.rows_affected == 1;
    if finished {
        announce(conn, tenant_id, run_id).await?;
    }
    Ok(finished)
}

/// The guard of an execution's writes: the run is still `running` under its claim.
fn claimed(update: sea_orm::UpdateMany<run_row::Entity>, claim: i32) -> sea_orm::UpdateMany<run_row::Entity> {
    update.filter(R::Status.eq("running")).filter(R::Claim.eq(claim))
}

/// Why a run is parked until a resume job continues it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Park {
    /// At a `wait` action.
    Wait,
    /// After a failed attempt (counted; the error is kept), to try again from the failed action.
    Retry,
}

/// Parks a run (`waiting` or `retrying`) until `resume_at`, then continued from action
/// `position`, if the execution holding `claim` still has it (`false` otherwise, and nothing
/// is written). The resume event is written in the same transaction, so a run cannot be parked
/// and lost.
#[allow(clippy::too_many_arguments)]
pub async fn park_run(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    run_id: &str,
    claim: i32,
    park: Park,
    position: usize,
    resume_at: DateTime<Utc>,
    error: Option<&str>,
) -> Result<bool> {
    let mut update = one_run(tenant_id, run_id);
    update = match park {
        Park::Wait => update.col_expr(R::Status, Expr::value("waiting")),
        Park::Retry => update
            .col_expr(R::Status, Expr::value("retrying"))
            .col_expr(R::Attempts, Expr::col(R::Attempts).add(1))
            .col_expr(R::Error, Expr::value(error.map(str::to_owned))),
    };
    update = update.col_expr(R::NextPosition, Expr::value(column_position(position)?));
    // The attempts the run was parked with, read by the same statement.
    let Some(row) = update_returning(txn, claimed(update, claim), [R::Attempts]).await? else {
        return Ok(false);
    };
    let attempts: i32 = row.try_get("", "attempts")?;
    write_resume(txn, d, tenant_id, run_id, position, attempts, resume_at).await?;
    announce(txn, tenant_id, run_id).await?;
    Ok(true)
}

/// The resume event of one parking of a run: it names the position and attempt count the run
/// was parked with, so a duplicate of an older resume job cannot take a later parking.
async fn write_resume(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    run_id: &str,
    position: usize,
    attempts: i32,
    at: DateTime<Utc>,
) -> Result<()> {
    let event =
        WorkflowResume { run_id: run_id.to_owned(), position, attempts: Some(attempts), resume_at: at };
    outbox::write(txn, d, tenant_id, &event).await
}

/// Holds the run for the step at `position` in the caller's transaction: `true` when the
/// execution holding `claim` still has the run there (it is `running` under that claim, at that
/// action), which then moves on to `next` and counts as alive now. Called first in a step's
/// transaction, it also serialises that step with any other execution of the run (PostgreSQL
/// locks the row until the commit; SQLite has one writer), so the step's effects commit once.
pub async fn hold_run(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    run_id: &str,
    claim: i32,
    position: usize,
    next: usize,
) -> Result<bool> {
    let update = one_run(tenant_id, run_id)
        .col_expr(R::NextPosition, Expr::value(column_position(next)?))
        .col_expr(R::HeartbeatAt, Expr::value(time::now()))
        .filter(R::NextPosition.eq(column_position(position)?));
    Ok(claimed(update, claim).exec(txn).await?.rows_affected == 1)
}

/// Runs `running` with no sign of life since `cutoff` (their worker died), of every tenant:
/// (tenant, run). Read on the system connection.
pub async fn stale_runs(conn: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<Vec<(String, String)>> {
    crate::features::rows::stale::<run_row::Entity>(conn, cutoff).await
}

/// Sends a run back to be continued from its first unfinished action now: a stale `running`
/// run (`from` = running, only if still stale at `cutoff`) or a `dead`/`failed` one an
/// administrator retries. `false` when the run is not in that state.
pub async fn requeue_run(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    run_id: &str,
    stale_cutoff: Option<DateTime<Utc>>,
) -> Result<bool> {
    // A new claim: an execution still going (overtaken, not dead) writes nothing more.
    let mut update = one_run(tenant_id, run_id)
        .col_expr(R::Status, Expr::value("retrying"))
        .col_expr(R::Claim, Expr::col(R::Claim).add(1))
        .col_expr(R::FinishedAt, Expr::value(None::<DateTime<Utc>>));
    if stale_cutoff.is_some() {
        // The attempt its dead worker was making ended there: counted like a failed one, so
        // the next is logged as a new attempt and the run's attempts stay bounded.
        update = update.col_expr(R::Attempts, Expr::col(R::Attempts).add(1));
    }
    update = match stale_cutoff {
        Some(cutoff) => update.filter(R::Status.eq("running")).filter(R::HeartbeatAt.lt(cutoff)),
        None => update.filter(R::Status.is_in(["dead", "failed"])),
    };
    // Where the run goes on and its attempts, read by the same statement.
    let Some(row) = update_returning(txn, update, [R::NextPosition, R::Attempts]).await? else {
        return Ok(false);
    };
    let position: i32 = row.try_get("", "next_position")?;
    let attempts: i32 = row.try_get("", "attempts")?;
    let position = usize::try_from(position).unwrap_or_default();
    write_resume(txn, d, tenant_id, run_id, position, attempts, time::now()).await?;
    announce(txn, tenant_id, run_id).await?;
    Ok(true)
}

/// Logs a `queued` run of `w` on a record under `trigger_key` and asks the workers (through the
/// outbox, in the caller's transaction) to execute it, with the inbound `body` of a webhook
/// trigger when there is one. `None` when that key already has a run.
pub async fn queue_run(
    txn: &impl ConnectionTrait,
    d: Dialect,
    w: &Workflow,
    trigger_key: &str,
    record_id: &str,
    body: Option<&Value>,
) -> Result<Option<(String, Value)>> {
    let Some(run) = start_run(txn, w, trigger_key, record_id, 0, "queued").await? else { return Ok(None) };
    let manual = WorkflowManual {
        workflow_id: w.id.clone(),
        record_id: record_id.to_owned(),
        run_id: run,
        payload: body.cloned(),
    };
    // The audit entry of a manual run records what the run was asked with.
    let asked = serde_json::to_value(&manual)?;
    let run = manual.run_id.clone();
    outbox::write(txn, d, &w.tenant_id, &manual).await?;
    Ok(Some((run, asked)))
}

/// The id of the run of `workflow_id` under `trigger_key`, if there is one.
pub async fn run_by_key(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    workflow_id: &str,
    trigger_key: &str,
) -> Result<Option<String>> {
    Ok(run_row::Entity::find()
        .select_only()
        .column(R::Id)
        .filter(R::TenantId.eq(tenant_id))
        .filter(R::WorkflowId.eq(workflow_id))
        .filter(R::TriggerKey.eq(trigger_key))
        .into_tuple()
        .one(conn)
        .await?)
}

/// A waiting run taken back to continue.
#[derive(Debug, Clone)]
pub struct ResumedRun {
    pub workflow_id: String,
    pub record_id: Option<String>,
    /// The depth of the change that started the run (the loop guard carries on from it).
    pub depth: u32,
    /// Failed attempts so far.
    pub attempts: i32,
    /// The claim this execution holds (see the module).
    pub claim: i32,
}

/// Takes a parked run back (`waiting`/`retrying` → `running`), the parking at (`position`,
/// `attempts`) when given; `None` when another job already did, or
/// the run is gone.
pub async fn claim_waiting_run(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    run_id: &str,
    parked: Option<(usize, i32)>,
) -> Result<Option<ResumedRun>> {
    claim_run(conn, tenant_id, run_id, &["waiting", "retrying"], parked).await
}

/// Takes a queued run (manual, inbound or time-triggered: `queued` → `running`); `None` when
/// another delivery of its job already did, or the run is gone.
pub async fn claim_queued_run(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    run_id: &str,
) -> Result<Option<ResumedRun>> {
    claim_run(conn, tenant_id, run_id, &["queued"], None).await
}

/// Moves a run in one of `statuses` to `running` under a new claim.
async fn claim_run(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    run_id: &str,
    statuses: &[&str],
    parked: Option<(usize, i32)>,
) -> Result<Option<ResumedRun>> {
    let mut update = one_run(tenant_id, run_id)
        .col_expr(R::Status, Expr::value("running"))
        .col_expr(R::Claim, Expr::col(R::Claim).add(1))
        .col_expr(R::HeartbeatAt, Expr::value(time::now()))
        .filter(R::Status.is_in(statuses.iter().copied()));
    // Only the parking this job was written for (events from before have no `attempts`).
    if let Some((position, attempts)) = parked {
        update =
            update.filter(R::NextPosition.eq(column_position(position)?)).filter(R::Attempts.eq(attempts));
    }
    if update.exec(conn).await?.rows_affected != 1 {
        return Ok(None);
    }
    announce(conn, tenant_id, run_id).await?;
    let found =
        run_row::Entity::find().filter(R::TenantId.eq(tenant_id)).filter(R::Id.eq(run_id)).one(conn).await?;
    Ok(found.map(|r| ResumedRun {
        workflow_id: r.workflow_id,
        record_id: r.record_id,
        depth: u32::try_from(r.depth).unwrap_or(0),
        attempts: r.attempts,
        claim: r.claim,
    }))
}

pub async fn log_step(conn: &impl ConnectionTrait, tenant_id: &str, run_id: &str, step: &Step) -> Result<()> {
    let row = workflow_step::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(tenant_id.to_owned()),
        run_id: Set(run_id.to_owned()),
        position: Set(step.position),
        attempt: Set(step.attempt),
        action: Set(step.action.clone()),
        status: Set(step.status.clone()),
        error: Set(step.error.clone()),
        duration_ms: Set(step.duration_ms),
        started_at: Set(time::now()),
    };
    workflow_step::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

/// Runs (newest first) of a tenant, optionally of one workflow, with their steps.
pub async fn runs(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    workflow_id: Option<&str>,
    first: u64,
) -> Result<Vec<(Run, Vec<Step>)>> {
    let mut query = run_row::Entity::find().filter(R::TenantId.eq(tenant_id));
    if let Some(w) = workflow_id {
        query = query.filter(R::WorkflowId.eq(w));
    }
    let rows = query.order_by_desc(R::StartedAt).order_by_desc(R::Id).limit(first).all(conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(with_steps(conn, tenant_id, Run::from(r)).await?);
    }
    Ok(out)
}

/// `run` with its steps as logged so far (a run of `runs`, or one a `RunChanged` announced).
pub async fn with_steps(conn: &impl ConnectionTrait, tenant_id: &str, run: Run) -> Result<(Run, Vec<Step>)> {
    let steps: Vec<Step> = workflow_step::Entity::find()
        .filter(workflow_step::Column::TenantId.eq(tenant_id))
        .filter(workflow_step::Column::RunId.eq(&run.id))
        .order_by_asc(workflow_step::Column::Attempt)
        .order_by_asc(workflow_step::Column::Position)
        .all(conn)
        .await?
        .into_iter()
        .map(Step::from)
        .collect();
    // The column counts the attempts that ended without finishing the run (what retries and
    // parkings are keyed on); the attempt under way, or the one that finished the run, is
    // the one its latest steps were logged under.
    let made = steps.iter().map(|s| s.attempt).max().unwrap_or_default();
    let run = Run { attempts: Ord::max(run.attempts, made), ..run };
    Ok((run, steps))
}

/// A run that ended `dead` or `failed`, with its workflow's name (the dead-letter view).
#[derive(Debug, Clone, FromQueryResult)]
pub struct DeadRun {
    #[sea_orm(nested)]
    pub run: run_row::Model,
    pub workflow_name: String,
}

/// The tenant's dead or failed runs (only run `only`, when given), newest first, at most
/// `first`.
pub async fn dead_runs(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    first: u64,
    only: Option<&str>,
) -> Result<Vec<DeadRun>> {
    Ok(run_row::Entity::find()
        .inner_join(workflow::Entity)
        .column_as(workflow::Column::Name, "workflow_name")
        .filter(R::Status.is_in(["dead", "failed"]))
        .filter(R::TenantId.eq(tenant_id))
        .apply_if(only, |q, id| q.filter(R::Id.eq(id)))
        .order_by_desc(R::StartedAt)
        .limit(first)
        .into_model()
        .all(conn)
        .await?)
}

//! The run log of workflows: one run per (workflow, trigger key) with its steps; queueing a run
//! through the outbox; parking a run at a `wait` and taking it back; listing runs.
//!
//! A run is executed under a claim: taking it (from `queued`, `waiting`/`retrying`, or from a
//! worker that fell silent) counts `claim` up, and every write of an execution — a step's
//! effects with its log row and progress (`hold_run`), parking, finishing — is guarded by the
//! claim it took. An execution that was overtaken therefore writes nothing more, and no action
//! of a run commits twice.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde_json::Value;

use super::Workflow;
use crate::runtime::outbox::{self, WorkflowManual, WorkflowResume};
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, Result};

/// A logged run.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// Starts a run for (workflow, trigger key); `None` when that run already exists (the event
/// was delivered twice).
pub async fn start_run(
    conn: &impl ConnectionTrait,
    d: Dialect,
    w: &Workflow,
    trigger_key: &str,
    record_id: &str,
    depth: u32,
    status: &str,
) -> Result<Option<String>> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut buf = SqlBuf::new(d);
    buf.push("INSERT INTO workflow_runs (id, tenant_id, workflow_id, trigger_key, record_id, status, depth, heartbeat_at, started_at) VALUES (");
    buf.bind(id.clone()).push(", ").bind(w.tenant_id.clone()).push(", ").bind(w.id.clone()).push(", ");
    buf.bind(trigger_key.to_owned())
        .push(", ")
        .bind(record_id.to_owned())
        .push(", ")
        .bind(status.to_owned())
        .push(", ");
    let now = crate::runtime::time::now();
    buf.bind(i64::from(depth)).push(", ").bind_ts(now).push(", ").bind_ts(now);
    buf.push(") ON CONFLICT (workflow_id, trigger_key) DO NOTHING");
    let inserted = conn.execute_raw(buf.into_statement()).await?.rows_affected() == 1;
    Ok(inserted.then_some(id))
}

/// Ends a run with `status`. With `claim`, only while that execution still holds the run
/// (`false` when it lost it: the run is another execution's to end).
pub async fn finish_run(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    run_id: &str,
    claim: Option<i32>,
    status: &str,
    error: Option<&str>,
) -> Result<bool> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE workflow_runs SET status = ")
        .bind(status.to_owned())
        .push(", error = ")
        .bind(error.map(str::to_owned));
    // `attempts` counts failed attempts: the last one too.
    if matches!(status, "failed" | "dead") {
        buf.push(", attempts = attempts + 1");
    }
    buf.push(", finished_at = ")
        .bind_ts(crate::runtime::time::now())
        .push(" WHERE tenant_id = ")
        .bind(tenant_id.to_owned());
    buf.push(" AND id = ").bind(run_id.to_owned());
    if let Some(claim) = claim {
        push_claimed(&mut buf, claim);
    }
    Ok(conn.execute_raw(buf.into_statement()).await?.rows_affected() == 1)
}

/// The guard of an execution's writes: the run is still `running` under its claim.
fn push_claimed(buf: &mut SqlBuf, claim: i32) {
    buf.push(" AND status = 'running' AND claim = ").bind(claim);
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
    let mut buf = SqlBuf::new(d);
    match park {
        Park::Wait => buf.push("UPDATE workflow_runs SET status = 'waiting'"),
        Park::Retry => buf
            .push("UPDATE workflow_runs SET status = 'retrying', attempts = attempts + 1, error = ")
            .bind(error.map(str::to_owned)),
    };
    buf.push(", next_position = ").bind(position as i64);
    buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned()).push(" AND id = ").bind(run_id.to_owned());
    push_claimed(&mut buf, claim);
    // The attempts the run was parked with, read by the same statement.
    buf.push(" RETURNING attempts");
    let Some(row) = txn.query_one_raw(buf.into_statement()).await? else { return Ok(false) };
    let attempts: i32 = row.try_get("", "attempts")?;
    write_resume(txn, d, tenant_id, run_id, position, attempts, resume_at).await?;
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
#[allow(clippy::too_many_arguments)]
pub async fn hold_run(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    run_id: &str,
    claim: i32,
    position: usize,
    next: usize,
) -> Result<bool> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE workflow_runs SET next_position = ").bind(next as i64);
    buf.push(", heartbeat_at = ").bind_ts(crate::runtime::time::now());
    buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned()).push(" AND id = ").bind(run_id.to_owned());
    buf.push(" AND next_position = ").bind(position as i64);
    push_claimed(&mut buf, claim);
    Ok(txn.execute_raw(buf.into_statement()).await?.rows_affected() == 1)
}

/// Runs `running` with no sign of life since `cutoff` (their worker died), of every tenant:
/// (tenant, run). Read on the system connection.
pub async fn stale_runs(
    conn: &impl ConnectionTrait,
    d: Dialect,
    cutoff: DateTime<Utc>,
) -> Result<Vec<(String, String)>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT tenant_id, id FROM workflow_runs WHERE status = 'running' AND heartbeat_at < ");
    buf.bind_ts(cutoff).push(" ORDER BY heartbeat_at LIMIT 500");
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter().map(|r| Ok((r.try_get("", "tenant_id")?, r.try_get("", "id")?))).collect()
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
    let mut buf = SqlBuf::new(d);
    // A new claim: an execution still going (overtaken, not dead) writes nothing more.
    buf.push("UPDATE workflow_runs SET status = 'retrying', claim = claim + 1, finished_at = NULL");
    if stale_cutoff.is_some() {
        // The attempt its dead worker was making ended there: counted like a failed one, so
        // the next is logged as a new attempt and the run's attempts stay bounded.
        buf.push(", attempts = attempts + 1");
    }
    buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned()).push(" AND id = ").bind(run_id.to_owned());
    match stale_cutoff {
        Some(cutoff) => buf.push(" AND status = 'running' AND heartbeat_at < ").bind_ts(cutoff),
        None => buf.push(" AND status IN ('dead', 'failed')"),
    };
    // Where the run goes on and its attempts, read by the same statement.
    buf.push(" RETURNING next_position, attempts");
    let Some(row) = txn.query_one_raw(buf.into_statement()).await? else { return Ok(false) };
    let position: i32 = row.try_get("", "next_position")?;
    let attempts: i32 = row.try_get("", "attempts")?;
    let position = usize::try_from(position).unwrap_or_default();
    write_resume(txn, d, tenant_id, run_id, position, attempts, crate::runtime::time::now()).await?;
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
    let Some(run) = start_run(txn, d, w, trigger_key, record_id, 0, "queued").await? else { return Ok(None) };
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
    d: Dialect,
    tenant_id: &str,
    workflow_id: &str,
    trigger_key: &str,
) -> Result<Option<String>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT id FROM workflow_runs WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND workflow_id = ").bind(workflow_id.to_owned()).push(" AND trigger_key = ");
    buf.bind(trigger_key.to_owned());
    Ok(conn.query_one_raw(buf.into_statement()).await?.map(|r| r.try_get("", "id")).transpose()?)
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
    d: Dialect,
    tenant_id: &str,
    run_id: &str,
    parked: Option<(usize, i32)>,
) -> Result<Option<ResumedRun>> {
    claim_run(conn, d, tenant_id, run_id, "('waiting', 'retrying')", parked).await
}

/// Takes a queued run (manual, inbound or time-triggered: `queued` → `running`); `None` when
/// another delivery of its job already did, or the run is gone.
pub async fn claim_queued_run(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    run_id: &str,
) -> Result<Option<ResumedRun>> {
    claim_run(conn, d, tenant_id, run_id, "('queued')", None).await
}

/// Moves a run in one of `statuses` (an SQL list) to `running` under a new claim.
async fn claim_run(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    run_id: &str,
    statuses: &str,
    parked: Option<(usize, i32)>,
) -> Result<Option<ResumedRun>> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE workflow_runs SET status = 'running', claim = claim + 1, heartbeat_at = ")
        .bind_ts(crate::runtime::time::now());
    buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND id = ").bind(run_id.to_owned()).push(" AND status IN ").push(statuses);
    // Only the parking this job was written for (events from before have no `attempts`).
    if let Some((position, attempts)) = parked {
        buf.push(" AND next_position = ").bind(position as i64).push(" AND attempts = ").bind(attempts);
    }
    if conn.execute_raw(buf.into_statement()).await?.rows_affected() != 1 {
        return Ok(None);
    }
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT workflow_id, record_id, depth, attempts, claim FROM workflow_runs WHERE tenant_id = ")
        .bind(tenant_id.to_owned());
    buf.push(" AND id = ").bind(run_id.to_owned());
    let Some(row) = conn.query_one_raw(buf.into_statement()).await? else { return Ok(None) };
    let depth: i32 = row.try_get("", "depth")?;
    Ok(Some(ResumedRun {
        workflow_id: row.try_get("", "workflow_id")?,
        record_id: row.try_get("", "record_id")?,
        depth: u32::try_from(depth).unwrap_or(0),
        attempts: row.try_get("", "attempts")?,
        claim: row.try_get("", "claim")?,
    }))
}

pub async fn log_step(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    run_id: &str,
    step: &Step,
) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    buf.push("INSERT INTO workflow_steps (id, tenant_id, run_id, position, attempt, action, status, error, duration_ms, started_at) VALUES (");
    buf.bind(uuid::Uuid::new_v4().to_string())
        .push(", ")
        .bind(tenant_id.to_owned())
        .push(", ")
        .bind(run_id.to_owned());
    buf.push(", ")
        .bind(step.position)
        .push(", ")
        .bind(step.attempt)
        .push(", ")
        .bind(step.action.clone())
        .push(", ")
        .bind(step.status.clone());
    buf.push(", ")
        .bind(step.error.clone())
        .push(", ")
        .bind(step.duration_ms)
        .push(", ")
        .bind_ts(crate::runtime::time::now())
        .push(")");
    conn.execute_raw(buf.into_statement()).await?;
    Ok(())
}

/// Runs (newest first) of a tenant, optionally of one workflow, with their steps.
pub async fn runs(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    workflow_id: Option<&str>,
    first: u64,
) -> Result<Vec<(Run, Vec<Step>)>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT id, workflow_id, record_id, status, depth, attempts, error, started_at, finished_at FROM workflow_runs WHERE tenant_id = ");
    buf.bind(tenant_id.to_owned());
    if let Some(w) = workflow_id {
        buf.push(" AND workflow_id = ").bind(w.to_owned());
    }
    buf.push(" ORDER BY started_at DESC, id DESC LIMIT ").push(&first.to_string());
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let run = Run {
            id: r.try_get("", "id")?,
            workflow_id: r.try_get("", "workflow_id")?,
            record_id: r.try_get("", "record_id")?,
            status: r.try_get("", "status")?,
            depth: r.try_get("", "depth")?,
            attempts: r.try_get("", "attempts")?,
            error: r.try_get("", "error")?,
            started_at: crate::runtime::time::column(r, d, "started_at")?
                .ok_or_else(|| Error::Internal("run without time".into()))?,
            finished_at: crate::runtime::time::column(r, d, "finished_at")?,
        };
        let mut sbuf = SqlBuf::new(d);
        sbuf.push(
            "SELECT position, attempt, action, status, error, duration_ms FROM workflow_steps WHERE tenant_id = ",
        );
        sbuf.bind(tenant_id.to_owned())
            .push(" AND run_id = ")
            .bind(run.id.clone())
            .push(" ORDER BY attempt, position");
        let steps = conn
            .query_all_raw(sbuf.into_statement())
            .await?
            .iter()
            .map(|s| {
                Ok(Step {
                    position: s.try_get("", "position")?,
                    attempt: s.try_get("", "attempt")?,
                    action: s.try_get("", "action")?,
                    status: s.try_get("", "status")?,
                    error: s.try_get("", "error")?,
                    duration_ms: s.try_get("", "duration_ms")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // The column counts the attempts that ended without finishing the run (what retries and
        // parkings are keyed on); the attempt under way, or the one that finished the run, is
        // the one its latest steps were logged under.
        let made = steps.iter().map(|s| s.attempt).max().unwrap_or_default();
        let run = Run { attempts: run.attempts.max(made), ..run };
        out.push((run, steps));
    }
    Ok(out)
}

//! Running workflows for a committed change: find the tenant's active workflows on the changed
//! entity, keep those whose trigger and conditions hold, log one run per (workflow, event) —
//! a re-delivered event finds its run and does nothing — and execute the actions in order,
//! logging each step. Changes made by a workflow carry `depth + 1`; at `MAX_DEPTH` further
//! workflows are logged as skipped instead of run, so a workflow that updates its own record
//! cannot loop forever. A `wait` parks a run (`waiting`, with a resume event in the outbox);
//! `resume` continues it later on the record as it is then.
//!
//! Each execution holds the claim it took on the run (see `entity::features::workflows::runs`).
//! A step's database effects, its log row and the run's progress commit in one transaction
//! that first checks that claim, so an execution overtaken by another one (its worker fell
//! silent past the lease, e.g. under load) stops instead of repeating an action.

use std::collections::HashMap;
use std::time::Instant;

use entity::features::emails::{self, About, NewEmail};
use entity::features::notifications::{self, Message};
use entity::features::webhooks::Secret;
use entity::features::workflows::{self as wf, Action, MAX_DEPTH, Step, Workflow};
use entity::models::tenant;
use entity::runtime::audit::Actor;
use entity::runtime::meta::{EntityDef, TenantMeta};
use entity::runtime::record::{ChangeEvent, Record};
use entity::runtime::stock::BelowReorder;
use entity::runtime::store::{Caller, Store, WriteRequest};
use entity::{Error, Result};
use sea_orm::{DatabaseTransaction, EntityTrait};
use serde_json::{Map, Value};

use crate::context::JobContext;
use crate::error::JobError;

mod ai;
mod approval;
mod scope;

use scope::{TemplateScope, render_json, templates, typed};

/// What a manual or resumed run works on, loaded fresh: the workflow, its entity and the record
/// (each `None` when gone), the tenant's metadata and name.
struct Target {
    meta: TenantMeta,
    tenant_name: String,
    found: Option<(Workflow, EntityDef, Record)>,
}

async fn load_target(
    ctx: &JobContext,
    tenant_id: &str,
    workflow_id: &str,
    record_id: Option<&str>,
) -> Result<Target> {
    let meta = TenantMeta::load_for(&ctx.db, tenant_id).await?;
    let txn = ctx.db.begin_tenant_read(tenant_id).await?;
    let w = wf::get(&txn, tenant_id, workflow_id).await?;
    let tenant_name =
        tenant::Entity::find_by_id(tenant_id.to_owned()).one(&txn).await?.map(|t| t.name).unwrap_or_default();
    txn.commit().await?;
    let entity = w.as_ref().and_then(|w| meta.entity_by_id(&w.entity_id)).map(|e| (**e).clone());
    let record = match (&entity, record_id) {
        (Some(e), Some(id)) => Store::new(&ctx.db, tenant_id).get(e, id, None).await?,
        _ => None,
    };
    let found = match (w, entity, record) {
        (Some(w), Some(e), Some(r)) => Some((w, e, r)),
        _ => None,
    };
    Ok(Target { meta, tenant_name, found })
}

/// A change event standing for a record as it is now (manual and resumed runs have no change).
fn current(tenant_id: &str, entity: &EntityDef, record: Record, depth: u32) -> ChangeEvent {
    ChangeEvent {
        tenant_id: tenant_id.to_owned(),
        entity_id: entity.id.clone(),
        kind: entity::runtime::record::ChangeKind::Updated,
        record,
        changed_fields: Vec::new(),
        previous: None,
        previous_columns: None,
        depth,
        workflows_off: false,
    }
}

/// Logs how a run ended, unless it is waiting (it ends when it resumes). A retryable failure
/// (a webhook that did not answer, a database hiccup) is retried from the failed action after
/// a backoff until the attempts run out (`dead`, listed in `deadJobs`); a permanent one (bad
/// data, a missing record) fails the run at once (`failed`).
async fn finish(
    ctx: &JobContext,
    tenant_id: &str,
    run: &str,
    held: &Held,
    outcome: std::result::Result<Flow, Failed>,
) -> Result<(), JobError> {
    let d = ctx.db.dialect;
    let (claim, attempts) = (held.claim, held.attempts);
    let (status, error) = match &outcome {
        Ok(Flow::Waiting) => return Ok(()),
        Ok(Flow::Overtaken) => {
            tracing::warn!(run, "another execution took this workflow run over; this one stops");
            return Ok(());
        }
        Ok(Flow::Done) => ("succeeded", None),
        Ok(Flow::Skipped(why)) => ("skipped", Some(why.as_str())),
        Err(f) => match ctx.retry_delay(&f.error, attempts + 1) {
            Some(delay) => {
                let at = entity::runtime::time::now()
                    + chrono::Duration::from_std(delay).map_err(|e| Error::Internal(e.to_string()))?;
                let (error, position) = (&f.error.message, f.position);
                tracing::info!(run, attempt = attempts + 1, %error, "workflow run failed; retrying");
                let txn = ctx.db.begin_tenant_write(tenant_id).await?;
                let park = wf::Park::Retry;
                wf::park_run(&txn, d, tenant_id, run, claim, park, position, at, Some(error)).await?;
                txn.commit().await?;
                return Ok(());
            }
            None if f.error.retryable => ("dead", Some(f.error.message.as_str())),
            None => ("failed", Some(f.error.message.as_str())),
        },
    };
    let txn = ctx.db.begin_tenant_write(tenant_id).await?;
    wf::finish_run(&txn, tenant_id, run, Some(claim), status, error).await?;
    txn.commit().await?;
    Ok(())
}

/// What an execution holds of its run: its claim, and the failed attempts before it.
struct Held {
    claim: i32,
    attempts: i32,
}

/// Why a run stopped at an action: the failure, and where a retry takes the run up again.
#[derive(Debug)]
struct Failed {
    error: JobError,
    /// The action to retry from.
    position: usize,
}

impl Failed {
    fn at(error: impl Into<JobError>, position: usize) -> Failed {
        Failed { error: error.into(), position }
    }
}

const GONE: &str = "the workflow or the record no longer exists";

/// Executes a manual run (`runWorkflow`) on a record as it is now.
pub async fn run_manual(
    ctx: &JobContext,
    tenant_id: &str,
    workflow_id: &str,
    record_id: &str,
    run: &str,
    payload: Option<&Value>,
) -> Result<(), JobError> {
    // Only the delivery of the job that takes the run from `queued` executes it.
    let txn = ctx.db.begin_tenant_write(tenant_id).await?;
    let claimed = wf::claim_queued_run(&txn, tenant_id, run).await?;
    txn.commit().await?;
    let Some(r) = claimed else { return Ok(()) };
    let held = Held { claim: r.claim, attempts: r.attempts };
    let t = load_target(ctx, tenant_id, workflow_id, Some(record_id)).await?;
    let outcome = match t.found {
        Some((w, entity, record)) if w.definition.conditions_hold(&entity, &record) => {
            let event = current(tenant_id, &entity, record, 0);
            let start = Start {
                run,
                claim: held.claim,
                event: &event,
                tenant_name: &t.tenant_name,
                from: 0,
                attempt: 1,
                payload,
            };
            execute(ctx, &t.meta, &entity, &w, &start).await
        }
        Some(_) => Ok(Flow::Skipped("the conditions do not hold".into())),
        None => Err(Failed::at(JobError::permanent(GONE), 0)),
    };
    finish(ctx, tenant_id, run, &held, outcome).await
}

/// Continues a run parked at a `wait`, from action `position`, on the record as it is now.
/// Only the job that takes the run back from `waiting` continues it, so a duplicate job does
/// nothing; a workflow deactivated meanwhile ends the run as skipped.
pub async fn resume(
    ctx: &JobContext,
    tenant_id: &str,
    run: &str,
    position: usize,
    attempts: Option<i32>,
) -> Result<(), JobError> {
    let txn = ctx.db.begin_tenant_write(tenant_id).await?;
    let parked = attempts.map(|a| (position, a));
    let claimed = wf::claim_waiting_run(&txn, tenant_id, run, parked).await?;
    txn.commit().await?;
    let Some(r) = claimed else { return Ok(()) };
    let held = Held { claim: r.claim, attempts: r.attempts };
    let t = load_target(ctx, tenant_id, &r.workflow_id, r.record_id.as_deref()).await?;
    let outcome = match t.found {
        Some((w, _, _)) if !w.active => {
            Ok(Flow::Skipped("the workflow was deactivated while waiting".into()))
        }
        Some((w, entity, record)) => {
            let event = current(tenant_id, &entity, record, r.depth);
            let start = Start {
                run,
                claim: held.claim,
                event: &event,
                tenant_name: &t.tenant_name,
                from: position,
                attempt: r.attempts + 1,
                payload: None,
            };
            execute(ctx, &t.meta, &entity, &w, &start).await
        }
        None => Err(Failed::at(JobError::permanent(GONE), 0)),
    };
    finish(ctx, tenant_id, run, &held, outcome).await
}

/// Queues the item's `stock_below_reorder` workflows for a balance that fell below its reorder
/// level, each a run on the item with the crossing as its payload (`{{payload.onHand}}`,
/// `{{payload.warehouseId}}`…), which the manual path executes. Keyed by the outbox event, so a
/// re-delivered one queues nothing.
pub async fn on_stock_alert(
    ctx: &JobContext,
    tenant_id: &str,
    trigger_key: &str,
    alert: &BelowReorder,
) -> Result<(), JobError> {
    let payload = serde_json::to_value(alert).map_err(Error::from)?;
    let txn = ctx.db.begin_tenant_write(tenant_id).await?;
    let workflows = wf::list(&txn, tenant_id, Some(&alert.item_entity_id)).await?;
    for w in
        workflows.iter().filter(|w| matches!(w.definition.trigger, wf::Trigger::StockBelowReorder { .. }))
    {
        wf::queue_run(&txn, ctx.db.dialect, w, trigger_key, &alert.item_id, Some(&payload)).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Runs the workflows a committed change fires.
pub async fn on_change(ctx: &JobContext, trigger_key: &str, event: &ChangeEvent) -> Result<(), JobError> {
    let tenant_id = event.tenant_id.as_str();
    let meta = TenantMeta::load_for(&ctx.db, tenant_id).await?;
    let Some(entity) = meta.entity_by_id(&event.entity_id).cloned() else { return Ok(()) };
    let txn = ctx.db.begin_tenant_read(tenant_id).await?;
    let workflows = wf::list(&txn, tenant_id, Some(&entity.id)).await?;
    let tenant_name =
        tenant::Entity::find_by_id(tenant_id.to_owned()).one(&txn).await?.map(|t| t.name).unwrap_or_default();
    txn.commit().await?;
    for w in workflows.iter().filter(|w| w.definition.fires(&entity, event)) {
        if event.depth >= MAX_DEPTH {
            let txn = ctx.db.begin_tenant_write(tenant_id).await?;
            if let Some(run) =
                wf::start_run(&txn, w, trigger_key, &event.record.id, event.depth, "skipped").await?
            {
                let reason =
                    format!("not run: {MAX_DEPTH} workflow steps in a row changed this record (loop guard)");
                tracing::warn!(workflow = %w.id, run = %run, "workflow depth limit reached");
                wf::finish_run(&txn, tenant_id, &run, None, "skipped", Some(&reason)).await?;
            }
            txn.commit().await?;
            continue;
        }
        let txn = ctx.db.begin_tenant_write(tenant_id).await?;
        let run = wf::start_run(&txn, w, trigger_key, &event.record.id, event.depth, "running").await?;
        txn.commit().await?;
        let Some(run) = run else { continue };
        // A run starts `running` under the first claim; a takeover counts it up.
        let held = Held { claim: 0, attempts: 0 };
        let start = Start {
            run: &run,
            claim: 0,
            event,
            tenant_name: &tenant_name,
            from: 0,
            attempt: 1,
            payload: None,
        };
        let outcome = execute(ctx, &meta, &entity, w, &start).await;
        finish(ctx, tenant_id, &run, &held, outcome).await?;
    }
    Ok(())
}

/// How a run's execution ended (a failure is the `Err` beside it).
enum Flow {
    Done,
    /// Parked at a `wait`; a resume job continues it.
    Waiting,
    Skipped(String),
    /// Another execution holds the run now (this one was taken over); it writes nothing more.
    Overtaken,
}

/// Where and on what a run's execution starts.
struct Start<'a> {
    run: &'a str,
    /// The claim this execution holds on the run.
    claim: i32,
    event: &'a ChangeEvent,
    tenant_name: &'a str,
    /// The first action to execute.
    from: usize,
    /// Which attempt this is (1 first).
    attempt: i32,
    payload: Option<&'a Value>,
}

/// Executes a run's actions in order from `from`; the first failing step fails the run, and a
/// `wait` parks it (the step is logged and the resume event written in one transaction).
async fn execute(
    ctx: &JobContext,
    meta: &TenantMeta,
    entity: &EntityDef,
    w: &Workflow,
    start: &Start<'_>,
) -> std::result::Result<Flow, Failed> {
    let (run, event, from) = (start.run, start.event, start.from);
    let tenant_id = event.tenant_id.as_str();
    let store = Store::new(&ctx.db, tenant_id);
    let mut scope = TemplateScope {
        entity,
        record: &event.record,
        previous: event.previous.as_ref(),
        tenant_name: start.tenant_name.to_owned(),
        related: HashMap::new(),
        payload: start.payload,
    };
    // Load the related records the templates reach (one hop), in one query.
    let mut wanted = HashMap::new();
    for path in w.definition.actions.iter().flat_map(templates).flat_map(|t| wf::template_paths(&t)) {
        let parts: Vec<&str> = path.split('.').collect();
        if let ["record", relation, _] = parts.as_slice()
            && let Some((key, target)) = wf::relation_target(entity, relation)
            && let Some(id) = event.record.data.get(&key).and_then(Value::as_str)
        {
            wanted.insert((*relation).to_owned(), (id.to_owned(), target));
        }
    }
    let ids: Vec<String> = wanted.values().map(|(id, _)| id.clone()).collect();
    let found = store.get_many(&ids).await.map_err(|e| Failed::at(e, from))?;
    for (relation, (id, target)) in wanted {
        if let (Some(r), Some(e)) = (found.iter().find(|r| r.id == id), meta.entity_by_id(&target)) {
            scope.related.insert(relation, ((**e).clone(), r.clone()));
        }
    }
    let actor = Actor { workflow_id: Some(w.id.clone()), depth: event.depth + 1, ..Actor::default() };
    let d = ctx.db.dialect;
    let claim = start.claim;
    // Holds the run at action `at` (moving it on to `next`) in `txn`; `Overtaken` when this
    // execution no longer has it.
    let hold = async |txn: &DatabaseTransaction, at: usize, next: usize| match wf::hold_run(
        txn, tenant_id, run, claim, at, next,
    )
    .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(Stop::Overtaken),
        Err(e) => Err(Stop::Failed(Failed::at(e, at))),
    };
    let logged = |i: usize, action: &Action, outcome: Option<&JobError>, started: Instant| Step {
        position: i as i32,
        attempt: start.attempt,
        action: action.name().to_owned(),
        status: if outcome.is_none() { "succeeded" } else { "failed" }.to_owned(),
        error: outcome.map(|e| e.message.clone()),
        duration_ms: started.elapsed().as_millis() as i64,
    };
    let failed = |i: usize| move |e: Error| Stop::Failed(Failed::at(e, i));
    let db_failed = |i: usize| move |e: sea_orm::DbErr| Stop::Failed(Failed::at(e, i));
    for (i, action) in w.definition.actions.iter().enumerate().skip(from) {
        let started = Instant::now();
        let stopped = match action {
            Action::Wait { seconds } => {
                let delay = chrono::Duration::seconds(
                    i64::try_from(*seconds).unwrap_or(i64::MAX).min(wf::MAX_WAIT_SECONDS as i64),
                );
                let park = async {
                    let txn = ctx.db.begin_tenant_write(tenant_id).await.map_err(failed(i))?;
                    hold(&txn, i, i).await?;
                    let log = logged(i, action, None, started);
                    wf::log_step(&txn, tenant_id, run, &log).await.map_err(failed(i))?;
                    let at = entity::runtime::time::now() + delay;
                    wf::park_run(&txn, d, tenant_id, run, claim, wf::Park::Wait, i + 1, at, None)
                        .await
                        .map_err(failed(i))?;
                    txn.commit().await.map_err(db_failed(i))?;
                    Ok::<_, Stop>(())
                };
                match park.await {
                    Ok(()) => return Ok(Flow::Waiting),
                    Err(stop) => stop,
                }
            }
            // The call is made outside any transaction (it may take as long as the endpoint
            // does); an execution that lost the run before it makes no call.
            Action::CallWebhook { url, body } => {
                let call = async {
                    let txn = ctx.db.begin_tenant_write(tenant_id).await.map_err(failed(i))?;
                    hold(&txn, i, i).await?;
                    txn.commit().await.map_err(db_failed(i))?;
                    let result =
                        call_webhook(ctx, &scope, &actor, run, i, url, body.as_ref(), &w.secrets).await;
                    let txn = ctx.db.begin_tenant_write(tenant_id).await.map_err(failed(i))?;
                    hold(&txn, i, if result.is_ok() { i + 1 } else { i }).await?;
                    let log = logged(i, action, result.as_ref().err(), started);
                    wf::log_step(&txn, tenant_id, run, &log).await.map_err(failed(i))?;
                    txn.commit().await.map_err(db_failed(i))?;
                    result.map_err(|e| Stop::Failed(Failed::at(e, i)))
                };
                match call.await {
                    Ok(()) => continue,
                    Err(stop) => stop,
                }
            }
            // A database action: its effects, its log row and the run's progress commit
            // together, under the claim checked first.
            _ => {
                let write = async {
                    // An AI action asks the model first, outside any transaction.
                    let asked = ai::concrete(ctx, tenant_id, entity, &scope, &actor, action).await;
                    let txn = ctx.db.begin_tenant_write(tenant_id).await.map_err(failed(i))?;
                    hold(&txn, i, i + 1).await?;
                    let done = match &asked {
                        Ok(step) => {
                            let step = step.as_ref().unwrap_or(action);
                            write_step(&txn, meta, entity, &store, &scope, &actor, run, i, step).await
                        }
                        Err(e) => Err(e.clone()),
                    };
                    match done {
                        Ok(()) => {
                            let log = logged(i, action, None, started);
                            wf::log_step(&txn, tenant_id, run, &log).await.map_err(failed(i))?;
                            txn.commit().await.map_err(db_failed(i))?;
                            Ok(())
                        }
                        Err(f) => {
                            // Nothing of the step stays; the failure alone is logged.
                            txn.rollback().await.map_err(db_failed(i))?;
                            let txn = ctx.db.begin_tenant_write(tenant_id).await.map_err(failed(i))?;
                            hold(&txn, i, i).await?;
                            let log = logged(i, action, Some(&f), started);
                            wf::log_step(&txn, tenant_id, run, &log).await.map_err(failed(i))?;
                            txn.commit().await.map_err(db_failed(i))?;
                            Err(Stop::Failed(Failed::at(f, i)))
                        }
                    }
                };
                match write.await {
                    Ok(()) => continue,
                    Err(stop) => stop,
                }
            }
        };
        return match stopped {
            Stop::Overtaken => Ok(Flow::Overtaken),
            Stop::Failed(f) => Err(f),
        };
    }
    Ok(Flow::Done)
}

/// Why `execute` stopped before the end.
enum Stop {
    Failed(Failed),
    Overtaken,
}

/// Does a database action in the step's transaction `txn` (the caller commits it with the
/// step's log row, or rolls it back when this fails).
#[allow(clippy::too_many_arguments)]
async fn write_step(
    txn: &DatabaseTransaction,
    meta: &TenantMeta,
    entity: &EntityDef,
    store: &Store<'_>,
    scope: &TemplateScope<'_>,
    actor: &Actor,
    run: &str,
    position: usize,
    action: &Action,
) -> Result<(), JobError> {
    let tenant_id = store.tenant_id;
    let record = scope.record;
    let caller = Caller::unrestricted(actor);
    match action {
        Action::SendEmail { to, subject, body } => {
            let to = scope.render(to);
            if to.trim().is_empty() {
                return Err(JobError::permanent("the recipient address is empty"));
            }
            let key = format!("wf:{run}:{position}");
            let (subject, body) = (scope.render(subject), scope.render(body));
            let about = Some(About { entity_id: &entity.id, record_id: &record.id });
            let email = NewEmail { idempotency_key: &key, to: &to, subject: &subject, body: &body, about };
            emails::queue(txn, tenant_id, &email).await?;
        }
        Action::UpdateFields { values } => {
            let mut values = typed(entity, scope.render_values(values));
            let owner = values.remove("owner").and_then(|v| v.as_str().map(str::to_owned));
            let w = WriteRequest { meta, entity, input: &values, owner: owner.as_deref(), caller };
            store.update_in(txn, &record.id, w).await?;
        }
        Action::CreateRecord { entity: target, values } => {
            let target = meta
                .entity_by_name(target)
                .ok_or_else(|| JobError::permanent(format!("no entity named `{target}`")))?;
            let mut values = typed(target, scope.render_values(values));
            let owner = values
                .remove("owner")
                .and_then(|v| v.as_str().map(str::to_owned))
                .or(record.owner_id.clone());
            let w = WriteRequest { meta, entity: target, input: &values, owner: owner.as_deref(), caller };
            store.create_in(txn, w).await?;
        }
        Action::Notify { users, role, title, body } => {
            let asked: Vec<String> =
                users.iter().map(|u| scope.render(u)).filter(|u| !u.is_empty()).collect();
            let mut recipients = notifications::existing_users(txn, tenant_id, &asked).await?;
            if let Some(role) = role {
                let role_id = notifications::role_id_by_name(txn, tenant_id, role)
                    .await?
                    .ok_or_else(|| JobError::permanent(format!("no role named `{role}`")))?;
                recipients.extend(notifications::users_with_role(txn, tenant_id, &role_id).await?);
            }
            recipients.sort();
            recipients.dedup();
            let (title, body) = (scope.render(title), body.as_deref().map(|b| scope.render(b)));
            let message = Message { title: &title, body: body.as_deref(), link: None };
            notifications::create(txn, tenant_id, &recipients, &message).await?;
        }
        Action::AssignOwner { user } => {
            let user = scope.render(user);
            let w = WriteRequest { meta, entity, input: &Map::new(), owner: Some(&user), caller };
            store.update_in(txn, &record.id, w).await?;
        }
        Action::SubmitForApproval { policy } => {
            approval::submit(txn, store.db, meta, entity, record, policy, actor).await?;
        }
        // `execute` parks at a wait, makes webhook calls outside a transaction and turns AI
        // actions into the actions their answers stand for.
        Action::Wait { .. }
        | Action::CallWebhook { .. }
        | Action::AiGenerate { .. }
        | Action::AiClassify { .. } => {}
    }
    Ok(())
}

/// Makes a `call_webhook` action's request.
#[allow(clippy::too_many_arguments)]
async fn call_webhook(
    ctx: &JobContext,
    scope: &TemplateScope<'_>,
    actor: &Actor,
    run: &str,
    position: usize,
    url: &str,
    body: Option<&Value>,
    secrets: &[Secret],
) -> Result<(), JobError> {
    let record = scope.record;
    let url = scope.render(url);
    let body = match body {
        Some(b) => render_json(scope, b),
        None => serde_json::json!({"workflowId": actor.workflow_id, "runId": run, "record": record}),
    };
    // The step names the delivery: a retried run sends the same id again.
    let id = format!("wf:{run}:{position}");
    let response = crate::handlers::webhooks::signed_post(&url, &ctx.webhook_allow, secrets, &id, &body)
        .await
        .map_err(JobError::permanent)?
        .header("x-alphery-workflow-run", run)
        .send()
        .await
        .map_err(|e| JobError::transient(format!("request failed: {e}")))?;
    if !response.status().is_success() {
        return Err(JobError::transient(format!("the endpoint answered {}", response.status().as_u16())));
    }
    Ok(())
}

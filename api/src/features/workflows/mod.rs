//! GraphQL for workflows (administrators): `workflows`, `workflowRuns`, `createWorkflow`,
//! `updateWorkflow`, `setWorkflowActive`, `rotateWorkflowSecret`, `deleteWorkflow`, and the
//! `workflowRunChanged` subscription (each status change of a run, as committed). A
//! definition is JSON (`{trigger, condition?, previousCondition?, actions}`, see
//! docs/workflows.md) or its typed form (`steps`), validated against the tenant's
//! entities when saved; every change is audited. Each workflow signs its `call_webhook`
//! requests with its own secrets, shown once (on creation and rotation) like an integrator
//! webhook's.

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, SubscriptionField,
    SubscriptionFieldFuture, Type, TypeRef,
};
use entity::FieldError;
use entity::features::webhooks as wh;
use entity::features::workflows::{self as wf, Definition, Run, Step, Trigger, Workflow};
use entity::runtime::audit;
use entity::runtime::meta::TenantMeta;
use entity::runtime::naming::{fields as f, types as t};
use jobs::BusEvent;

use crate::error::ApiError;
use crate::schema::args::{self, arg_json};
use crate::schema::feature::{Declared, Slot, admin_only, admin_types};
use crate::schema::typed;
use crate::schema::values::{json, parent, s, sync_field, ts};
use crate::schema::{ctx, news};
use crate::services::Txn;

pub mod steps;

/// A workflow as the API shows it, with the signing secret to show once (after creation or
/// rotation, like an integrator webhook's).
struct Shown(Workflow, Option<String>);

pub fn types() -> Vec<Type> {
    let id = || TypeRef::named_nn(TypeRef::ID);
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let opt = || TypeRef::named(TypeRef::STRING);
    let mut types: Vec<Type> = vec![
        Object::new(t::WORKFLOW)
            .field(sync_field::<Shown>("id", id(), |w| s(&w.0.id)))
            .field(sync_field::<Shown>("name", string(), |w| s(&w.0.name)))
            .field(sync_field::<Shown>("description", opt(), |w| w.0.description.as_deref().and_then(s)))
            .field(sync_field::<Shown>("active", TypeRef::named_nn(TypeRef::BOOLEAN), |w| {
                Some(Value::from(w.0.active))
            }))
            .field(
                sync_field::<Shown>("definition", TypeRef::named_nn(t::JSON), |w| {
                    serde_json::to_value(&w.0.definition).ok().as_ref().and_then(json)
                })
                .description(steps::STORED_DOC),
            )
            .field(sync_field::<Shown>("secretIds", TypeRef::named_nn_list_nn(TypeRef::STRING), |w| {
                Some(Value::List(w.0.secrets.iter().map(|x| Value::from(x.id.clone())).collect()))
            }))
            .field(sync_field::<Shown>("secret", opt(), |w| w.1.as_deref().and_then(s)).description(
                "The newest secret signing its `call_webhook` requests: only in the answers of \
                     createWorkflow and rotateWorkflowSecret (null elsewhere).",
            ))
            .field(sync_field::<Shown>("createdAt", TypeRef::named_nn(t::DATE_TIME), |w| ts(&w.0.created_at)))
            .field(sync_field::<Shown>("updatedAt", TypeRef::named_nn(t::DATE_TIME), |w| ts(&w.0.updated_at)))
            .into(),
        steps::input_fields()
            .into_iter()
            .fold(
                InputObject::new(t::WORKFLOW_INPUT)
                    .field(InputValue::new("name", string()))
                    .field(InputValue::new("description", opt()))
                    .field(InputValue::new("active", TypeRef::named(TypeRef::BOOLEAN))),
                InputObject::field,
            )
            .into(),
        Object::new(t::WORKFLOW_RUN)
            .field(sync_field::<(Run, Vec<Step>)>("id", id(), |(r, _)| s(&r.id)))
            .field(sync_field::<(Run, Vec<Step>)>("workflowId", id(), |(r, _)| s(&r.workflow_id)))
            .field(sync_field::<(Run, Vec<Step>)>("recordId", TypeRef::named(TypeRef::ID), |(r, _)| {
                r.record_id.as_deref().and_then(s)
            }))
            .field(sync_field::<(Run, Vec<Step>)>("status", string(), |(r, _)| s(&r.status)))
            .field(sync_field::<(Run, Vec<Step>)>("depth", TypeRef::named_nn(TypeRef::INT), |(r, _)| {
                Some(Value::from(r.depth))
            }))
            .field(
                sync_field::<(Run, Vec<Step>)>("attempts", TypeRef::named_nn(TypeRef::INT), |(r, _)| {
                    Some(Value::from(r.attempts))
                })
                .description("Attempts made so far (the one under way included): 2 after one retry."),
            )
            .field(sync_field::<(Run, Vec<Step>)>("error", opt(), |(r, _)| r.error.as_deref().and_then(s)))
            .field(sync_field::<(Run, Vec<Step>)>("startedAt", TypeRef::named_nn(t::DATE_TIME), |(r, _)| {
                ts(&r.started_at)
            }))
            .field(sync_field::<(Run, Vec<Step>)>("finishedAt", TypeRef::named(t::DATE_TIME), |(r, _)| {
                r.finished_at.as_ref().and_then(ts)
            }))
            .field(Field::new("steps", TypeRef::named_nn_list_nn(t::WORKFLOW_STEP), |c| {
                FieldFuture::new(async move {
                    let (_, steps) = parent::<(Run, Vec<Step>)>(&c)?;
                    Ok(Some(FieldValue::list(steps.iter().cloned().map(FieldValue::owned_any))))
                })
            }))
            .into(),
        Object::new(t::WORKFLOW_STEP)
            .field(sync_field::<Step>("position", TypeRef::named_nn(TypeRef::INT), |x| {
                Some(Value::from(x.position))
            }))
            .field(sync_field::<Step>("attempt", TypeRef::named_nn(TypeRef::INT), |x| {
                Some(Value::from(x.attempt))
            }))
            .field(sync_field::<Step>("action", string(), |x| s(&x.action)))
            .field(sync_field::<Step>("status", string(), |x| s(&x.status)))
            .field(sync_field::<Step>("error", opt(), |x| x.error.as_deref().and_then(s)))
            .field(sync_field::<Step>("durationMs", TypeRef::named_nn(TypeRef::INT), |x| {
                Some(Value::from(x.duration_ms))
            }))
            .into(),
    ];
    types.extend(steps::types());
    types
}

pub fn queries() -> Vec<Field> {
    vec![
        Field::new(f::WORKFLOWS, TypeRef::named_nn_list_nn(t::WORKFLOW), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let list = state
                    .in_tenant(&p.tenant_id, Txn::Read, async |txn| wf::list(txn, &p.tenant_id, None).await)
                    .await?;
                Ok(Some(FieldValue::list(list.into_iter().map(|w| FieldValue::owned_any(Shown(w, None))))))
            })
        }),
        Field::new(f::WORKFLOW_RUNS, TypeRef::named_nn_list_nn(t::WORKFLOW_RUN), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let workflow = args::opt_string(&c, "workflowId")?;
                let first = args::log_page_size(&c, state.config.max_page_size)?;
                let runs = state
                    .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
                        wf::runs(txn, &p.tenant_id, workflow.as_deref(), first).await
                    })
                    .await?;
                Ok(Some(FieldValue::list(runs.into_iter().map(FieldValue::owned_any))))
            })
        })
        .argument(InputValue::new("workflowId", TypeRef::named(TypeRef::ID)))
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
        .description("Workflow runs, newest first, with their steps."),
    ]
}

/// The members of `WorkflowInput` besides its definition (`steps::definition`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Input {
    name: String,
    description: Option<String>,
    active: Option<bool>,
}

/// Creates (`id` None) or replaces a workflow from the `input` argument.
async fn save(c: &ResolverContext<'_>, id: Option<String>) -> Result<Shown, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let raw = arg_json(c, "input")?.unwrap_or_default();
    let (definition, renames) = steps::definition(raw.as_object().unwrap_or(&Default::default()))?;
    let input: Input =
        serde_json::from_value(raw).map_err(|e| ApiError::BadRequest(format!("input: {e}")))?;
    if input.name.trim().is_empty() || input.name.chars().count() > 200 {
        return Err(ApiError::Validation(vec![FieldError::new("name", "must be 1 to 200 characters")]));
    }
    let d = state.db.dialect;
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    // An entity switched off with its modules is not there to name.
    let meta = TenantMeta::load(&txn, &p.tenant_id).await?.switched_on();
    let (mut definition, entity_id) =
        Definition::parse(&definition, &meta).map_err(|e| typed::rename_paths(e.into(), &renames))?;
    let now = entity::runtime::time::now();
    let existing = match &id {
        Some(id) => Some(
            wf::get(&txn, &p.tenant_id, id).await?.ok_or_else(|| ApiError::NotFound("workflow".into()))?,
        ),
        None => None,
    };
    // An inbound webhook keeps its secret across edits unless a new one is given.
    let kept = existing.as_ref().and_then(|w| match &w.definition.trigger {
        Trigger::Webhook { secret, .. } => secret.clone(),
        _ => None,
    });
    definition.ensure_secret(kept);
    let w = Workflow {
        id: id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        tenant_id: p.tenant_id.clone(),
        name: input.name.trim().to_owned(),
        description: input.description,
        active: input.active.or(existing.as_ref().map(|w| w.active)).unwrap_or(true),
        entity_id,
        definition,
        // Signing secrets survive edits; a new workflow gets its first one (shown once).
        secrets: existing.as_ref().map_or_else(|| vec![wh::new_secret()], |w| w.secrets.clone()),
        created_at: existing.as_ref().map_or(now, |w| w.created_at),
        updated_at: now,
    };
    wf::save(&txn, &w, existing.is_none()).await?;
    let action = if existing.is_none() { "workflow.create" } else { "workflow.update" };
    let changes = serde_json::json!({"name": w.name, "active": w.active, "definition": w.definition});
    let entry = audit::Entry { action, object_type: "workflow", object_id: Some(&w.id), changes };
    audit::append(&txn, d, &p.tenant_id, &ctx::actor(c)?, &entry).await?;
    txn.commit().await?;
    let shown = existing.is_none().then(|| w.secrets.first().map(|x| x.secret.clone())).flatten();
    Ok(Shown(w, shown))
}

/// Rotates the secrets signing workflow `id`'s `call_webhook` requests as webhook rotation does
/// (the previous secret keeps signing until the next rotation); shows the new one once.
async fn rotate_secret(c: &ResolverContext<'_>) -> Result<Shown, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let d = state.db.dialect;
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let mut w = wf::get(&txn, &p.tenant_id, &args::string(c, "id")?)
        .await?
        .ok_or_else(|| ApiError::NotFound("workflow".into()))?;
    let secret = wh::rotate(&mut w.secrets);
    w.updated_at = entity::runtime::time::now();
    wf::save(&txn, &w, false).await?;
    let entry = audit::Entry {
        action: "workflow.rotate_secret",
        object_type: "workflow",
        object_id: Some(&w.id),
        changes: serde_json::json!({}),
    };
    audit::append(&txn, d, &p.tenant_id, &ctx::actor(c)?, &entry).await?;
    txn.commit().await?;
    Ok(Shown(w, Some(secret.secret)))
}

/// Queues a manual run of workflow `id` on record `recordId` (logged as `queued`; a worker
/// executes it after the transaction commits, through the outbox).
async fn run_now(c: &ResolverContext<'_>) -> Result<(Run, Vec<Step>), ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let (id, record_id) = (args::string(c, "id")?, args::record_id_named(c, "recordId")?);
    let d = state.db.dialect;
    let meta = TenantMeta::load_for(&state.db, &p.tenant_id).await?.switched_on();
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let w = wf::get(&txn, &p.tenant_id, &id).await?.ok_or_else(|| ApiError::NotFound("workflow".into()))?;
    crate::features::modules::refuse_off_workflow(&txn, &w).await?;
    let entity = meta.entity_by_id(&w.entity_id).ok_or_else(|| ApiError::NotFound("entity".into()))?;
    entity::runtime::store::Store::new(&state.db, &p.tenant_id)
        .get(entity, &record_id, None)
        .await?
        .ok_or_else(|| ApiError::NotFound(entity.label_singular.clone()))?;
    let key = format!("manual:{}", uuid::Uuid::new_v4());
    let (run, payload) = wf::queue_run(&txn, d, &w, &key, &record_id, None)
        .await?
        .ok_or_else(|| ApiError::Internal("run key reused".into()))?;
    let entry = audit::Entry {
        action: "workflow.run",
        object_type: "workflow",
        object_id: Some(&w.id),
        changes: payload,
    };
    audit::append(&txn, d, &p.tenant_id, &ctx::actor(c)?, &entry).await?;
    txn.commit().await?;
    let started = entity::runtime::time::now();
    Ok((
        Run {
            id: run,
            workflow_id: w.id,
            record_id: Some(record_id),
            status: "queued".into(),
            depth: 0,
            attempts: 0,
            error: None,
            started_at: started,
            finished_at: None,
        },
        Vec::new(),
    ))
}

pub fn mutations() -> Vec<Field> {
    let input = || InputValue::new("input", TypeRef::named_nn(t::WORKFLOW_INPUT));
    let id = || InputValue::new("id", TypeRef::named_nn(TypeRef::ID));
    vec![
        Field::new(f::RUN_WORKFLOW, TypeRef::named_nn(t::WORKFLOW_RUN), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                Ok(Some(FieldValue::owned_any(run_now(&c).await?)))
            })
        })
        .argument(id())
        .argument(InputValue::new("recordId", TypeRef::named_nn(TypeRef::ID)))
        .description("Runs a workflow on a record now (manual trigger); follow it in workflowRuns."),
        Field::new(f::CREATE_WORKFLOW, TypeRef::named_nn(t::WORKFLOW), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                Ok(Some(FieldValue::owned_any(save(&c, None).await?)))
            })
        })
        .argument(input())
        .description("Creates a workflow (active unless `active: false`)."),
        Field::new(f::UPDATE_WORKFLOW, TypeRef::named_nn(t::WORKFLOW), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let id = args::string(&c, "id")?;
                Ok(Some(FieldValue::owned_any(save(&c, Some(id)).await?)))
            })
        })
        .argument(id())
        .argument(input()),
        Field::new(f::SET_WORKFLOW_ACTIVE, TypeRef::named_nn(t::WORKFLOW), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let active = c.args.try_get("active")?.boolean()?;
                let d = state.db.dialect;
                let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
                let mut w = wf::get(&txn, &p.tenant_id, &args::string(&c, "id")?)
                    .await
                    .map_err(ApiError::from)?
                    .ok_or_else(|| ApiError::NotFound("workflow".into()))?;
                w.active = active;
                w.updated_at = entity::runtime::time::now();
                wf::save(&txn, &w, false).await.map_err(ApiError::from)?;
                let entry = audit::Entry {
                    action: "workflow.set_active",
                    object_type: "workflow",
                    object_id: Some(&w.id),
                    changes: serde_json::json!({"active": active}),
                };
                audit::append(&txn, d, &p.tenant_id, &ctx::actor(&c)?, &entry)
                    .await
                    .map_err(ApiError::from)?;
                txn.commit().await.map_err(ApiError::from)?;
                Ok(Some(FieldValue::owned_any(Shown(w, None))))
            })
        })
        .argument(id())
        .argument(InputValue::new("active", TypeRef::named_nn(TypeRef::BOOLEAN))),
        Field::new(f::ROTATE_WORKFLOW_SECRET, TypeRef::named_nn(t::WORKFLOW), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                Ok(Some(FieldValue::owned_any(rotate_secret(&c).await?)))
            })
        })
        .argument(id())
        .description(
            "Adds a new secret signing the workflow's call_webhook requests (shown once in `secret`); \
             requests carry both until the next rotation.",
        ),
        crate::schema::deletion::field(f::DELETE_WORKFLOW, "workflow", |txn, t, id| {
            Box::pin(wf::delete(txn, t, id))
        }),
    ]
}

/// `workflowRunChanged`: the tenant's runs (of one workflow with `workflowId`) each time their
/// status changes, with their steps as logged when delivered; for those who may read
/// `workflowRuns`.
pub fn subscription() -> SubscriptionField {
    SubscriptionField::new(f::WORKFLOW_RUN_CHANGED, TypeRef::named_nn(t::WORKFLOW_RUN), |c| {
        SubscriptionFieldFuture::new(async move {
            ctx::require_admin(&c)?;
            let workflow = args::opt_string(&c, "workflowId")?;
            news::stream(
                &c,
                move |e| match e {
                    BusEvent::WorkflowRun(r)
                        if workflow.as_deref().is_none_or(|w| w == r.run.workflow_id) =>
                    {
                        Some(r.run.clone())
                    }
                    _ => None,
                },
                async |state, p, run| {
                    let shown = state
                        .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
                            wf::with_steps(txn, &p.tenant_id, run).await
                        })
                        .await?;
                    Ok(Some(FieldValue::owned_any(shown)))
                },
            )
        })
    })
    .argument(InputValue::new("workflowId", TypeRef::named(TypeRef::ID)))
    .description("Workflow runs (of one workflow with `workflowId`) each time their status changes.")
}

/// Workflows and their runs (administrators).
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Admin, |_| queries())],
    mutations: &[(Slot::Admin, |_| mutations())],
    subscriptions: |a| admin_only(a, || vec![subscription()]),
    types: |a| admin_types(a, types),
    ..Declared::EMPTY
};

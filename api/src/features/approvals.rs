//! GraphQL for multi-stage approvals. Administrators define policies per entity
//! (`approvalPolicies`, `createApprovalPolicy`, `updateApprovalPolicy`, `deleteApprovalPolicy`);
//! any user who may update a record submits it (`submitForApproval`), and users holding a
//! stage's approver role (or its escalation role after the SLA) decide (`decideApproval`).
//! Requests are visible to those who can read their record (`approvalRequests`,
//! `approvalRequest`), with their history; `approvalRequestChanged` pushes each creation and
//! move of a request to its requester and the holders of the roles its policy names, when
//! they can read its record.

use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext,
    SubscriptionField, SubscriptionFieldFuture, Type, TypeRef,
};
use async_graphql::{Name, Value};
use entity::FieldError;
use entity::features::approvals::flow::{self, Scope};
use entity::features::approvals::{
    self as ap, Decision, DecisionEntry, Definition, Policy, Request, Stage, State,
};
use entity::runtime::audit;
use entity::runtime::meta::{EntityDef, TenantMeta};
use entity::runtime::naming::{fields as f, types as t};
use entity::runtime::policy::Action;
use entity::runtime::record::Record;
use entity::runtime::store::Store;
use jobs::BusEvent;

use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::schema::args::{self, arg_json};
use crate::schema::feature::{Declared, Slot};
use crate::schema::values::{json, parent, s, sync_field, ts};
use crate::schema::{ctx, news};
use crate::services::{Services, Txn};

/// A policy with its entity's name.
#[derive(Clone)]
struct PolicyView {
    policy: Arc<Policy>,
    entity: String,
}

/// A request with its policy.
#[derive(Clone)]
struct RequestView {
    request: Request,
    policy: PolicyView,
}

fn enum_value(v: &str) -> Option<Value> {
    Some(Value::Enum(Name::new(v)))
}

fn stage_number(i: Option<usize>) -> Option<Value> {
    i.map(|i| Value::from(i as i64 + 1))
}

/// The types of approvals; the policy inputs only for administrators.
pub fn types(admin: bool) -> Vec<Type> {
    let id = || TypeRef::named_nn(TypeRef::ID);
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let opt = || TypeRef::named(TypeRef::STRING);
    let when = || TypeRef::named_nn(t::DATE_TIME);
    let mut types: Vec<Type> = vec![
        Enum::new(t::APPROVAL_STATE).items(State::ALL.map(State::as_str)).into(),
        Enum::new(t::APPROVAL_ACTION).items(Decision::ALL.map(Decision::as_str)).into(),
        Object::new(t::APPROVAL_STAGE)
            .field(sync_field::<Stage>("name", string(), |x| s(&x.name)))
            .field(sync_field::<Stage>("approverRole", string(), |x| s(&x.approver_role)))
            .field(sync_field::<Stage>("slaHours", TypeRef::named(TypeRef::INT), |x| {
                x.sla_hours.map(Value::from)
            }))
            .field(
                sync_field::<Stage>("condition", TypeRef::named(t::JSON), |x| {
                    x.condition.as_ref().and_then(json)
                })
                .description(CONDITION_DOC),
            )
            .field(sync_field::<Stage>("actions", TypeRef::named_nn_list_nn(t::APPROVAL_ACTION), |x| {
                Some(Value::List(x.actions.iter().filter_map(|a| enum_value(a.as_str())).collect()))
            }))
            .field(sync_field::<Stage>("escalateToRole", opt(), |x| {
                x.escalate_to_role.as_deref().and_then(s)
            }))
            .into(),
        Object::new(t::APPROVAL_POLICY)
            .field(sync_field::<PolicyView>("id", id(), |p| s(&p.policy.id)))
            .field(sync_field::<PolicyView>("entity", string(), |p| s(&p.entity)))
            .field(sync_field::<PolicyView>("name", string(), |p| s(&p.policy.name)))
            .field(sync_field::<PolicyView>("active", TypeRef::named_nn(TypeRef::BOOLEAN), |p| {
                Some(Value::from(p.policy.active))
            }))
            .field(sync_field::<PolicyView>("stateField", opt(), |p| {
                p.policy.definition.state_field.as_deref().and_then(s)
            }))
            .field(Field::new("stages", TypeRef::named_nn_list_nn(t::APPROVAL_STAGE), |c| {
                FieldFuture::new(async move {
                    let p = parent::<PolicyView>(&c)?;
                    Ok(Some(FieldValue::list(
                        p.policy.definition.stages.iter().cloned().map(FieldValue::owned_any),
                    )))
                })
            }))
            .field(sync_field::<PolicyView>("createdAt", when(), |p| ts(&p.policy.created_at)))
            .field(sync_field::<PolicyView>("updatedAt", when(), |p| ts(&p.policy.updated_at)))
            .into(),
        Object::new(t::APPROVAL_REQUEST)
            .field(sync_field::<RequestView>("id", id(), |r| s(&r.request.id)))
            .field(Field::new("policy", TypeRef::named_nn(t::APPROVAL_POLICY), |c| {
                FieldFuture::new(async move {
                    Ok(Some(FieldValue::owned_any(parent::<RequestView>(&c)?.policy.clone())))
                })
            }))
            .field(sync_field::<RequestView>("entity", string(), |r| s(&r.policy.entity)))
            .field(sync_field::<RequestView>("recordId", id(), |r| s(&r.request.record_id)))
            .field(sync_field::<RequestView>("state", TypeRef::named_nn(t::APPROVAL_STATE), |r| {
                enum_value(r.request.state.as_str())
            }))
            .field(sync_field::<RequestView>("stage", TypeRef::named(TypeRef::INT), |r| {
                stage_number(r.request.stage)
            }))
            .field(sync_field::<RequestView>("stageName", opt(), |r| {
                r.request
                    .stage
                    .and_then(|i| r.policy.policy.definition.stages.get(i))
                    .and_then(|x| s(&x.name))
            }))
            .field(sync_field::<RequestView>(
                "approverRoles",
                TypeRef::named_nn_list_nn(TypeRef::STRING),
                |r| {
                    Some(Value::List(
                        flow::deciders(&r.policy.policy, &r.request).into_iter().map(Value::from).collect(),
                    ))
                },
            ))
            .field(sync_field::<RequestView>("stageDueAt", TypeRef::named(t::DATE_TIME), |r| {
                r.request.stage_due_at.as_ref().and_then(ts)
            }))
            .field(sync_field::<RequestView>("escalated", TypeRef::named_nn(TypeRef::BOOLEAN), |r| {
                Some(Value::from(r.request.escalated))
            }))
            .field(sync_field::<RequestView>("requestedBy", TypeRef::named(TypeRef::ID), |r| {
                r.request.requested_by.as_deref().and_then(s)
            }))
            .field(sync_field::<RequestView>("createdAt", when(), |r| ts(&r.request.created_at)))
            .field(sync_field::<RequestView>("updatedAt", when(), |r| ts(&r.request.updated_at)))
            .field(
                Field::new("history", TypeRef::named_nn_list_nn(t::APPROVAL_DECISION), |c| {
                    FieldFuture::new(async move {
                        let r = parent::<RequestView>(&c)?;
                        let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                        let list = state
                            .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
                                ap::decisions(txn, &p.tenant_id, &r.request.id).await
                            })
                            .await?;
                        Ok(Some(FieldValue::list(list.into_iter().map(FieldValue::owned_any))))
                    })
                })
                .description("Every transition, oldest first: SUBMIT, APPROVE, REJECT, SEND_BACK, ESCALATE."),
            )
            .into(),
        Object::new(t::APPROVAL_DECISION)
            .field(sync_field::<DecisionEntry>("action", string(), |x| s(&x.action)))
            .field(sync_field::<DecisionEntry>("stage", TypeRef::named(TypeRef::INT), |x| {
                stage_number(x.stage)
            }))
            .field(sync_field::<DecisionEntry>("fromState", TypeRef::named_nn(t::APPROVAL_STATE), |x| {
                enum_value(&x.from_state)
            }))
            .field(sync_field::<DecisionEntry>("toState", TypeRef::named_nn(t::APPROVAL_STATE), |x| {
                enum_value(&x.to_state)
            }))
            .field(sync_field::<DecisionEntry>("comment", opt(), |x| x.comment.as_deref().and_then(s)))
            .field(sync_field::<DecisionEntry>("decidedBy", TypeRef::named(TypeRef::ID), |x| {
                x.decided_by.as_deref().and_then(s)
            }))
            .field(sync_field::<DecisionEntry>("decidedAt", when(), |x| ts(&x.decided_at)))
            .into(),
    ];
    if admin {
        types.extend([
            InputObject::new(t::APPROVAL_STAGE_INPUT)
                .field(InputValue::new("name", string()))
                .field(InputValue::new("approverRole", string()))
                .field(InputValue::new("slaHours", TypeRef::named(TypeRef::INT)))
                .field(InputValue::new("condition", TypeRef::named(t::JSON)).description(CONDITION_DOC))
                .field(InputValue::new("actions", TypeRef::named_nn_list(t::APPROVAL_ACTION)))
                .field(InputValue::new("escalateToRole", opt()))
                .into(),
            InputObject::new(t::APPROVAL_POLICY_INPUT)
                .field(InputValue::new("entity", string()))
                .field(InputValue::new("name", string()))
                .field(InputValue::new("active", TypeRef::named(TypeRef::BOOLEAN)))
                .field(InputValue::new("stateField", opt()))
                .field(InputValue::new("stages", TypeRef::named_nn_list_nn(t::APPROVAL_STAGE_INPUT)))
                .into(),
        ]);
    }
    types
}

/// A stage's `condition`.
const CONDITION_DOC: &str = "When the stage applies, as JSON in the entity's filter language (as its \
     `…Filter` input), e.g. `{\"amount\": {\"gt\": \"50000\"}}`; a stage whose condition does not hold \
     is skipped. Absent: always.";

fn view(meta: &TenantMeta, policy: Policy) -> PolicyView {
    let entity = meta.entity_by_id(&policy.entity_id).map(|e| e.name_singular.clone()).unwrap_or_default();
    PolicyView { policy: Arc::new(policy), entity }
}

/// The record of a request if the caller may read it (else the request is invisible to them).
async fn readable_record(
    state: &Services,
    p: &Principal,
    meta: &TenantMeta,
    entity_id: &str,
    record_id: &str,
) -> Result<Option<(Arc<EntityDef>, Record)>, ApiError> {
    let Some(entity) = meta.entity_by_id(entity_id).cloned() else { return Ok(None) };
    if !p.permissions.can(&entity, Action::Read) {
        return Ok(None);
    }
    let row = p.permissions.row_filter(&entity, p.subject());
    let record = Store::new(&state.db, &p.tenant_id).get(&entity, record_id, row.as_ref()).await?;
    Ok(record.map(|r| (entity, r)))
}

/// Requests matching the arguments that the caller can see.
async fn list_requests(c: &ResolverContext<'_>) -> Result<Vec<RequestView>, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let filter = ap::RequestFilter {
        state: args::opt_string(c, "state")?.as_deref().and_then(State::parse),
        record_id: args::opt_record_id_named(c, "recordId")?,
        policy_id: args::opt_string(c, "policyId")?,
        assigned_roles: c
            .args
            .get("assignedToMe")
            .and_then(|v| v.boolean().ok())
            .filter(|b| *b)
            .map(|_| vec![p.role.clone()]),
    };
    let first = args::log_page_size(c, state.config.max_page_size)?;
    let meta = TenantMeta::load_for(&state.db, &p.tenant_id).await?;
    let txn = state.db.begin_tenant_read(&p.tenant_id).await?;
    let requests = ap::requests(&txn, &p.tenant_id, &filter, first).await?;
    let policies = ap::policies(&txn, &p.tenant_id, None).await?;
    txn.commit().await?;
    let policies: Vec<PolicyView> = policies.into_iter().map(|x| view(&meta, x)).collect();
    // The records behind the requests, in one read, kept where the caller may read them.
    let ids: Vec<String> = requests.iter().map(|r| r.record_id.clone()).collect();
    let records = if p.permissions.admin {
        Vec::new()
    } else {
        Store::new(&state.db, &p.tenant_id).get_many(&ids).await?
    };
    let mut readable = std::collections::HashSet::new();
    for record in &records {
        let Some(e) = meta.entity_by_id(&record.entity_id) else { continue };
        let row = if p.permissions.can(e, Action::Read) { ctx::ready_row_filter(c, e).await? } else { None };
        if p.permissions.reads_record(&meta, e, None, row.as_ref(), record) {
            readable.insert((record.entity_id.clone(), record.id.clone()));
        }
    }
    let mut out = Vec::new();
    for r in requests {
        let Some(policy) = policies.iter().find(|x| x.policy.id == r.policy_id).cloned() else { continue };
        if p.permissions.admin || readable.contains(&(r.entity_id.clone(), r.record_id.clone())) {
            out.push(RequestView { request: r, policy });
        }
    }
    Ok(out)
}

pub fn queries() -> Vec<Field> {
    vec![
        Field::new(f::APPROVAL_POLICIES, TypeRef::named_nn_list_nn(t::APPROVAL_POLICY), |c| {
            FieldFuture::new(async move {
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let meta = TenantMeta::load_for(&state.db, &p.tenant_id).await.map_err(ApiError::from)?;
                let entity = match args::opt_string(&c, "entity")? {
                    Some(name) => Some(
                        meta.entity_by_name(&name)
                            .ok_or_else(|| ApiError::NotFound(format!("entity `{name}`")))?
                            .id
                            .clone(),
                    ),
                    None => None,
                };
                let list = state.in_tenant(&p.tenant_id, Txn::Read, async |txn| ap::policies(txn, &p.tenant_id, entity.as_deref()).await).await?;
                Ok(Some(FieldValue::list(list.into_iter().map(|x| FieldValue::owned_any(view(&meta, x))))))
            })
        })
        .argument(InputValue::new("entity", TypeRef::named(TypeRef::STRING)))
        .description("Approval policies, optionally of one entity (by its singular name)."),
        Field::new(f::APPROVAL_REQUESTS, TypeRef::named_nn_list_nn(t::APPROVAL_REQUEST), |c| {
            FieldFuture::new(async move {
                Ok(Some(FieldValue::list(list_requests(&c).await?.into_iter().map(FieldValue::owned_any))))
            })
        })
        .argument(InputValue::new("state", TypeRef::named(t::APPROVAL_STATE)))
        .argument(InputValue::new("recordId", TypeRef::named(TypeRef::ID)))
        .argument(InputValue::new("policyId", TypeRef::named(TypeRef::ID)))
        .argument(InputValue::new("assignedToMe", TypeRef::named(TypeRef::BOOLEAN)))
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
        .description("Approval requests on records you can read, newest first. `assignedToMe`: pending at a stage your role decides."),
        Field::new(f::APPROVAL_REQUEST, TypeRef::named(t::APPROVAL_REQUEST), |c| {
            FieldFuture::new(async move {
                Ok(load_request(&c, &args::id(&c)?).await?.map(|(v, _, _, _)| FieldValue::owned_any(v)))
            })
        })
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID))),
    ]
}

/// A request the caller can see, with its tenant metadata, entity and record.
async fn load_request(
    c: &ResolverContext<'_>,
    id: &str,
) -> Result<Option<(RequestView, TenantMeta, Arc<EntityDef>, Record)>, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let meta = TenantMeta::load_for(&state.db, &p.tenant_id).await?;
    let txn = state.db.begin_tenant_read(&p.tenant_id).await?;
    let request = ap::request(&txn, &p.tenant_id, id).await?;
    let policy = match &request {
        Some(r) => ap::policy(&txn, &p.tenant_id, &r.policy_id).await?,
        None => None,
    };
    txn.commit().await?;
    let (Some(request), Some(policy)) = (request, policy) else { return Ok(None) };
    let Some((entity, record)) =
        readable_record(state, p, &meta, &request.entity_id, &request.record_id).await?
    else {
        return Ok(None);
    };
    let policy = view(&meta, policy);
    Ok(Some((RequestView { request, policy }, meta, entity, record)))
}

/// A changed request as `p` sees it: `None` when `p` may not read its record (or its policy is
/// gone).
async fn changed_view(
    state: &Services,
    p: &Principal,
    request: Request,
) -> Result<Option<RequestView>, ApiError> {
    let meta = TenantMeta::load_for(&state.db, &p.tenant_id).await?;
    let policy = state
        .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
            ap::policy(txn, &p.tenant_id, &request.policy_id).await
        })
        .await?;
    let Some(policy) = policy else { return Ok(None) };
    if readable_record(state, p, &meta, &request.entity_id, &request.record_id).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(RequestView { request, policy: view(&meta, policy) }))
}

/// `approvalRequestChanged`: requests of the caller's tenant as they are created or move, when
/// the caller requested them or holds a role their policy names, and may read their record.
pub fn subscription() -> SubscriptionField {
    SubscriptionField::new(f::APPROVAL_REQUEST_CHANGED, TypeRef::named_nn(t::APPROVAL_REQUEST), |c| {
        SubscriptionFieldFuture::new(async move {
            let p = ctx::principal(&c)?;
            let (user_id, role) = (p.user_id.clone(), p.role.clone());
            news::stream(
                &c,
                move |e| match e {
                    BusEvent::ApprovalRequest(r) if r.concerns(&user_id, &role) => Some(r.request.clone()),
                    _ => None,
                },
                async |state, p, request| {
                    Ok(changed_view(&state, &p, request).await?.map(FieldValue::owned_any))
                },
            )
        })
    })
    .description(
        "Approval requests as they are created or decided: those you requested or whose policy names \
         your role as approver, on records you can read.",
    )
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyInput {
    entity: String,
    name: String,
    active: Option<bool>,
    state_field: Option<String>,
    stages: Vec<Stage>,
}

/// Creates (`id` None) or replaces a policy from the `input` argument.
async fn save(c: &ResolverContext<'_>, id: Option<String>) -> Result<PolicyView, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let input: PolicyInput = serde_json::from_value(arg_json(c, "input")?.unwrap_or_default())
        .map_err(|e| ApiError::BadRequest(format!("input: {e}")))?;
    if input.name.trim().is_empty() || input.name.chars().count() > 200 {
        return Err(ApiError::Validation(vec![FieldError::new("name", "must be 1 to 200 characters")]));
    }
    let d = state.db.dialect;
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let meta = TenantMeta::load(&txn, &p.tenant_id).await?;
    let entity = meta.entity_by_name(&input.entity).ok_or_else(|| {
        ApiError::Validation(vec![FieldError::new("entity", format!("no entity named `{}`", input.entity))])
    })?;
    let definition = Definition { stages: input.stages, state_field: input.state_field };
    definition.validate(entity, &ap::role_names(&txn, &p.tenant_id).await?)?;
    let existing = match &id {
        Some(id) => Some(
            ap::policy(&txn, &p.tenant_id, id)
                .await?
                .ok_or_else(|| ApiError::NotFound("approval policy".into()))?,
        ),
        None => None,
    };
    let now = entity::runtime::time::now();
    let policy = Policy {
        id: id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        tenant_id: p.tenant_id.clone(),
        entity_id: entity.id.clone(),
        name: input.name.trim().to_owned(),
        definition,
        active: input.active.or(existing.as_ref().map(|x| x.active)).unwrap_or(true),
        created_at: existing.as_ref().map_or(now, |x| x.created_at),
        updated_at: now,
    };
    ap::save_policy(&txn, &policy, existing.is_none()).await?;
    let action = if existing.is_none() { "approval_policy.create" } else { "approval_policy.update" };
    let changes =
        serde_json::json!({"name": policy.name, "active": policy.active, "definition": policy.definition});
    let entry = audit::Entry { action, object_type: "approval_policy", object_id: Some(&policy.id), changes };
    audit::append(&txn, d, &p.tenant_id, &ctx::actor(c)?, &entry).await?;
    txn.commit().await?;
    Ok(view(&meta, policy))
}

/// The approval flow's view of one request: the caller's tenant and database, and `actor`
/// (the caller, made by `ctx::actor`, which the flow borrows) acting on `entity` under `policy`.
fn scope<'a>(
    c: &'a ResolverContext<'_>,
    actor: &'a audit::Actor,
    meta: &'a TenantMeta,
    entity: &'a EntityDef,
    policy: &'a Policy,
) -> Result<Scope<'a>, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    Ok(Scope { db: &state.db, tenant_id: &p.tenant_id, meta, entity, policy, actor })
}

/// FORBIDDEN (`module_disabled`) when `entity` is switched off with its modules.
async fn refuse_off(state: &Services, tenant_id: &str, entity: &EntityDef) -> Result<(), ApiError> {
    state
        .in_tenant(tenant_id, Txn::Read, async |txn| {
            crate::features::modules::refuse_off_entity(txn, tenant_id, entity).await
        })
        .await
}

/// `submitForApproval(policyId, recordId)`: needs `update` on the entity and the record in view.
async fn submit(c: &ResolverContext<'_>) -> Result<RequestView, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let policy_id = args::string(c, "policyId")?;
    let record_id = args::record_id_named(c, "recordId")?;
    let meta = TenantMeta::load_for(&state.db, &p.tenant_id).await?;
    let policy = state
        .in_tenant(&p.tenant_id, Txn::Read, async |txn| ap::policy(txn, &p.tenant_id, &policy_id).await)
        .await?;
    let policy = policy.ok_or_else(|| ApiError::NotFound("approval policy".into()))?;
    let (entity, record) = readable_record(state, p, &meta, &policy.entity_id, &record_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("record".into()))?;
    if !p.permissions.can(&entity, Action::Update) {
        return Err(ApiError::Forbidden(format!("your role may not update {}", entity.label_plural)));
    }
    refuse_off(state, &p.tenant_id, &entity).await?;
    let actor = ctx::actor(c)?;
    let request = flow::submit(&scope(c, &actor, &meta, &entity, &policy)?, &record).await?;
    Ok(RequestView { request, policy: view(&meta, policy) })
}

/// `decideApproval(requestId, action, comment)`.
async fn decide(c: &ResolverContext<'_>) -> Result<RequestView, ApiError> {
    let p = ctx::principal(c)?;
    let id = args::string(c, "requestId")?;
    let action = c.args.try_get("action").and_then(|v| v.enum_name().map(str::to_owned))?;
    let decision =
        Decision::parse(&action).ok_or_else(|| ApiError::BadRequest(format!("unknown action {action}")))?;
    let comment = args::opt_string(c, "comment")?;
    let (v, meta, entity, record) =
        load_request(c, &id).await?.ok_or_else(|| ApiError::NotFound("approval request".into()))?;
    refuse_off(ctx::state(c)?, &p.tenant_id, &entity).await?;
    let actor = ctx::actor(c)?;
    let request = flow::decide(
        &scope(c, &actor, &meta, &entity, &v.policy.policy)?,
        &v.request,
        &record,
        decision,
        comment.as_deref(),
        std::slice::from_ref(&p.role),
    )
    .await?;
    Ok(RequestView { request, policy: v.policy })
}

/// Mutations every user has (the resolvers check roles and record access).
pub fn user_mutations() -> Vec<Field> {
    vec![
        Field::new(f::SUBMIT_FOR_APPROVAL, TypeRef::named_nn(t::APPROVAL_REQUEST), |c| {
            FieldFuture::new(async move { Ok(Some(FieldValue::owned_any(submit(&c).await?))) })
        })
        .argument(InputValue::new("policyId", TypeRef::named_nn(TypeRef::ID)))
        .argument(InputValue::new("recordId", TypeRef::named_nn(TypeRef::ID)))
        .description("Submits a record for approval (or resubmits one sent back)."),
        Field::new(f::DECIDE_APPROVAL, TypeRef::named_nn(t::APPROVAL_REQUEST), |c| {
            FieldFuture::new(async move { Ok(Some(FieldValue::owned_any(decide(&c).await?))) })
        })
        .argument(InputValue::new("requestId", TypeRef::named_nn(TypeRef::ID)))
        .argument(InputValue::new("action", TypeRef::named_nn(t::APPROVAL_ACTION)))
        .argument(InputValue::new("comment", TypeRef::named(TypeRef::STRING)))
        .description(
            "Approves, rejects or sends back the pending stage (REJECT and SEND_BACK need a comment).",
        ),
    ]
}

/// Policy administration.
pub fn admin_mutations() -> Vec<Field> {
    let input = || InputValue::new("input", TypeRef::named_nn(t::APPROVAL_POLICY_INPUT));
    let id = || InputValue::new("id", TypeRef::named_nn(TypeRef::ID));
    vec![
        Field::new(f::CREATE_APPROVAL_POLICY, TypeRef::named_nn(t::APPROVAL_POLICY), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                Ok(Some(FieldValue::owned_any(save(&c, None).await?)))
            })
        })
        .argument(input()),
        Field::new(f::UPDATE_APPROVAL_POLICY, TypeRef::named_nn(t::APPROVAL_POLICY), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let id = args::id(&c)?;
                Ok(Some(FieldValue::owned_any(save(&c, Some(id)).await?)))
            })
        })
        .argument(id())
        .argument(input())
        .description(
            "Replaces a policy; pending requests continue under the new stages from their stage number.",
        ),
        crate::schema::deletion::field(f::DELETE_APPROVAL_POLICY, "approval_policy", |txn, t, id| {
            Box::pin(ap::delete_policy(txn, t, id))
        })
        .description("Deletes a policy no request uses (CONFLICT otherwise: deactivate it instead)."),
    ]
}

/// Approval policies (administrators) and requests, which every role submits, decides and reads.
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Member, |_| queries())],
    mutations: &[(Slot::Admin, |_| admin_mutations()), (Slot::Member, |_| user_mutations())],
    subscriptions: |_| vec![subscription()],
    types: |a| types(a.permissions.admin),
    ..Declared::EMPTY
};

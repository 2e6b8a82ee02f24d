//! The transitions of an approval request. Each is one transaction: the request's row changes
//! only from the state (and stage) it was read in — two approvers deciding at once get one
//! success and one `CONFLICT` — and the decision row, the audit entry, the record's state field
//! (with its change event, so workflows see it), the notifications and the request's own
//! change event (`RequestChanged`, for `approvalRequestChanged`) are written with it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Decision, Policy, Request, State};
use crate::features::notifications::{self, Message};
use crate::features::rows;
use crate::models::approval_request::Column as C;
use crate::models::{approval_decision, approval_request};
use crate::runtime::audit::{self, Actor};
use crate::runtime::meta::{EntityDef, TenantMeta};
use crate::runtime::outbox;
use crate::runtime::record::Record;
use crate::runtime::store::{Caller, Store, WriteRequest};
use crate::runtime::time;
use crate::{Db, Dialect, Error, FieldError, Result};

/// The role names that may decide a pending request now: the stage's approver role, and its
/// escalation role once the SLA has passed.
pub fn deciders(p: &Policy, r: &Request) -> Vec<String> {
    let Some(stage) = r.stage.and_then(|i| p.definition.stages.get(i)) else { return Vec::new() };
    if r.state != State::PendingApproval {
        return Vec::new();
    }
    let mut roles = vec![stage.approver_role.clone()];
    if r.escalated
        && let Some(e) = &stage.escalate_to_role
    {
        roles.push(e.clone());
    }
    roles
}

/// `OutboxEvent::ApprovalRequestChanged`: a request as a move left it, with the role names its
/// policy names (every stage's approver and escalation roles), so a subscriber is matched
/// without reading the policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestChanged {
    #[serde(flatten)]
    pub request: Request,
    pub roles: Vec<String>,
}

impl outbox::Event for RequestChanged {
    const TOPIC: &'static str = "approval.request.changed";
    const WORK: bool = false;
}

impl RequestChanged {
    /// Whether the user `user_id` holding the role named `role` is one the request concerns:
    /// its requester or a holder of a role its policy names.
    pub fn concerns(&self, user_id: &str, role: &str) -> bool {
        self.request.requested_by.as_deref() == Some(user_id) || self.roles.iter().any(|r| r == role)
    }
}

/// The role names `p` names: every stage's approver role and escalation role.
pub fn policy_roles(p: &Policy) -> Vec<String> {
    let mut roles: Vec<String> = p
        .definition
        .stages
        .iter()
        .flat_map(|st| std::iter::once(st.approver_role.clone()).chain(st.escalate_to_role.clone()))
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// What the transition functions work with.
pub struct Scope<'a> {
    pub db: &'a Db,
    pub tenant_id: &'a str,
    pub meta: &'a TenantMeta,
    pub entity: &'a EntityDef,
    pub policy: &'a Policy,
    pub actor: &'a Actor,
}

impl Scope<'_> {
    fn d(&self) -> Dialect {
        self.db.dialect
    }

    fn label(&self, record: &Record) -> String {
        format!("{} {}", self.entity.label_singular, record.record_number.as_deref().unwrap_or(&record.id))
    }
}

/// Tells the users of `roles` and the given users.
async fn notify(
    txn: &DatabaseTransaction,
    s: &Scope<'_>,
    roles: &[String],
    users: &[String],
    title: &str,
    body: Option<&str>,
) -> Result<()> {
    let mut to = notifications::existing_users(txn, s.tenant_id, users).await?;
    for r in roles {
        // A role renamed or deleted since the policy was saved simply has no one to tell.
        if let Some(id) = notifications::role_id_by_name(txn, s.tenant_id, r).await? {
            to.extend(notifications::users_with_role(txn, s.tenant_id, &id).await?);
        }
    }
    to.sort();
    to.dedup();
    let message = Message { title, body, link: None };
    notifications::create(txn, s.tenant_id, &to, &message).await?;
    Ok(())
}

/// One move of the state machine, to be written.
struct Move<'a> {
    action: &'a str,
    to: State,
    stage: Option<usize>,
    comment: Option<&'a str>,
    escalated: bool,
}

/// Writes a move of `req` (read in its current state) with its history, audit entry and the
/// record's state field; returns the request as it is now.
async fn write_move(
    txn: &DatabaseTransaction,
    s: &Scope<'_>,
    req: &Request,
    record: &Record,
    m: &Move<'_>,
    now: DateTime<Utc>,
) -> Result<Request> {
    let d = s.d();
    let due = m
        .stage
        .and_then(|i| s.policy.definition.stages.get(i))
        .and_then(|st| st.sla_hours)
        .filter(|_| !m.escalated && m.to == State::PendingApproval)
        .map(|h| now + chrono::Duration::hours(i64::from(h)));
    let due = if m.escalated { req.stage_due_at } else { due };
    let guard = approval_request::Entity::update_many()
        .col_expr(C::State, Expr::value(m.to.as_str()))
        .col_expr(C::Stage, Expr::value(super::stage_column(m.stage)?))
        .col_expr(C::StageDueAt, Expr::value(due))
        .col_expr(C::Escalated, Expr::value(m.escalated))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(rows::named::<approval_request::Entity>(s.tenant_id, &req.id))
        .filter(C::State.eq(req.state.as_str()))
        .filter(C::Escalated.eq(req.escalated));
    let guard = match super::stage_column(req.stage)? {
        Some(i) => guard.filter(C::Stage.eq(i)),
        None => guard.filter(C::Stage.is_null()),
    };
    if guard.exec(txn).await?.rows_affected != 1 {
        return Err(Error::Conflict(
            "the approval request changed meanwhile; reload it and decide again".into(),
        ));
    }
    let decision = approval_decision::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(s.tenant_id.to_owned()),
        request_id: Set(req.id.clone()),
        stage: Set(super::stage_column(req.stage.or(m.stage))?),
        action: Set(m.action.to_owned()),
        from_state: Set(req.state.as_str().to_owned()),
        to_state: Set(m.to.as_str().to_owned()),
        comment: Set(m.comment.map(str::to_owned)),
        decided_by: Set(s.actor.user_id.clone()),
        decided_at: Set(now),
    };
    approval_decision::Entity::insert(decision).exec_without_returning(txn).await?;
    let changes = json!({
        "policyId": s.policy.id, "recordId": record.id, "entity": s.entity.name_singular,
        "from": req.state.as_str(), "to": m.to.as_str(),
        "stage": req.stage.or(m.stage).and_then(|i| s.policy.definition.stages.get(i)).map(|st| &st.name),
        "comment": m.comment,
    });
    let action = format!("approval.{}", m.action.to_ascii_lowercase());
    let entry =
        audit::Entry { action: &action, object_type: "approval_request", object_id: Some(&req.id), changes };
    audit::append(txn, d, s.tenant_id, s.actor, &entry).await?;
    if let Some(field) = &s.policy.definition.state_field
        && let Some(f) = s.entity.field_by_graphql(field).or_else(|| s.entity.field_by_key(field))
        && record.data.get(f.key.as_str()).and_then(Value::as_str) != Some(m.to.as_str())
    {
        let mut input = Map::new();
        input.insert(f.graphql_name.clone(), Value::String(m.to.as_str().to_owned()));
        let caller = Caller::unrestricted(s.actor);
        let w = WriteRequest { meta: s.meta, entity: s.entity, input: &input, owner: None, caller };
        Store::new(s.db, s.tenant_id).update_in(txn, &record.id, w).await?;
    }
    let next = Request {
        state: m.to,
        stage: m.stage,
        stage_due_at: due,
        escalated: m.escalated,
        updated_at: now,
        ..req.clone()
    };
    let event = RequestChanged { request: next.clone(), roles: policy_roles(s.policy) };
    outbox::write(txn, d, s.tenant_id, &event).await?;
    Ok(next)
}

/// Moves a request to the first applicable stage after `after` (PENDING_APPROVAL, the stage's
/// approvers told), or to APPROVED when none applies (the requester told).
async fn advance(
    txn: &DatabaseTransaction,
    s: &Scope<'_>,
    req: &Request,
    record: &Record,
    action: &str,
    after: Option<usize>,
    comment: Option<&str>,
) -> Result<Request> {
    let now = time::now();
    let label = s.label(record);
    match s.policy.definition.next_stage(s.entity, record, after) {
        Some(i) => {
            let m = Move { action, to: State::PendingApproval, stage: Some(i), comment, escalated: false };
            let next = write_move(txn, s, req, record, &m, now).await?;
            let stage = &s.policy.definition.stages[i];
            let title = format!("Approval needed: {label}");
            let body = format!(
                "{} — stage {} of {}: {}",
                s.policy.name,
                i + 1,
                s.policy.definition.stages.len(),
                stage.name
            );
            notify(txn, s, std::slice::from_ref(&stage.approver_role), &[], &title, Some(&body)).await?;
            Ok(next)
        }
        None => {
            let m = Move { action, to: State::Approved, stage: None, comment, escalated: false };
            let next = write_move(txn, s, req, record, &m, now).await?;
            let requester: Vec<String> = req.requested_by.iter().cloned().collect();
            notify(txn, s, &[], &requester, &format!("{label} approved"), comment).await?;
            Ok(next)
        }
    }
}

/// Submits a record under the scope's policy: a new request, or the resubmission of one sent
/// back. Refused with `CONFLICT` while one is pending.
pub async fn submit(s: &Scope<'_>, record: &Record) -> Result<Request> {
    let txn = s.db.begin_tenant_write(s.tenant_id).await?;
    let next = submit_in(&txn, s, record).await?;
    txn.commit().await?;
    Ok(next)
}

/// [`submit`] in a transaction the caller commits (a workflow's `submit_for_approval` step,
/// which commits with the step's log row).
pub async fn submit_in(txn: &DatabaseTransaction, s: &Scope<'_>, record: &Record) -> Result<Request> {
    if !s.policy.active {
        return Err(Error::Conflict(format!("the approval policy `{}` is inactive", s.policy.name)));
    }
    let open = super::requests(
        txn,
        s.tenant_id,
        &super::RequestFilter {
            record_id: Some(record.id.clone()),
            policy_id: Some(s.policy.id.clone()),
            ..Default::default()
        },
        1000,
    )
    .await?
    .into_iter()
    .find(|r| matches!(r.state, State::Initiated | State::PendingApproval));
    let req = match open {
        Some(r) if r.state == State::PendingApproval => {
            return Err(Error::Conflict("the record is already pending approval under this policy".into()));
        }
        Some(r) => r,
        None => {
            let now = time::now();
            let req = Request {
                id: uuid::Uuid::new_v4().to_string(),
                tenant_id: s.tenant_id.to_owned(),
                policy_id: s.policy.id.clone(),
                entity_id: s.entity.id.clone(),
                record_id: record.id.clone(),
                state: State::Initiated,
                stage: None,
                stage_due_at: None,
                escalated: false,
                requested_by: s.actor.user_id.clone(),
                created_at: now,
                updated_at: now,
            };
            let row = approval_request::ActiveModel {
                id: Set(req.id.clone()),
                tenant_id: Set(req.tenant_id.clone()),
                policy_id: Set(req.policy_id.clone()),
                entity_id: Set(req.entity_id.clone()),
                record_id: Set(req.record_id.clone()),
                state: Set(req.state.as_str().to_owned()),
                stage: Set(None),
                stage_due_at: Set(None),
                escalated: Set(false),
                requested_by: Set(req.requested_by.clone()),
                created_at: Set(now),
                updated_at: Set(now),
            };
            approval_request::Entity::insert(row).exec_without_returning(txn).await?;
            req
        }
    };
    advance(txn, s, &req, record, "SUBMIT", None, None).await
}

/// An approver's decision on a pending request. `roles`: the caller's role names.
pub async fn decide(
    s: &Scope<'_>,
    req: &Request,
    record: &Record,
    decision: Decision,
    comment: Option<&str>,
    roles: &[String],
) -> Result<Request> {
    if req.state != State::PendingApproval {
        return Err(Error::Conflict(format!("the request is {}, not pending approval", req.state.as_str())));
    }
    let deciders = deciders(s.policy, req);
    if !deciders.iter().any(|r| roles.contains(r)) {
        return Err(Error::Forbidden(format!("this stage is decided by the role {}", deciders.join(" or "))));
    }
    let stage_index = req.stage.ok_or_else(|| Error::Internal("pending request without a stage".into()))?;
    let stage =
        s.policy.definition.stages.get(stage_index).ok_or_else(|| {
            Error::Conflict("the policy no longer has this stage; resubmit the record".into())
        })?;
    if !stage.actions.contains(&decision) {
        let allowed: Vec<&str> = stage.actions.iter().map(|a| a.as_str()).collect();
        return Err(Error::Validation(vec![FieldError::new(
            "action",
            format!("stage `{}` allows {}", stage.name, allowed.join(", ")),
        )]));
    }
    if decision != Decision::Approve && comment.is_none_or(|c| c.trim().is_empty()) {
        return Err(Error::Validation(vec![FieldError::new(
            "comment",
            "a rejection or send-back needs a comment",
        )]));
    }
    let txn = s.db.begin_tenant_write(s.tenant_id).await?;
    let label = s.label(record);
    let requester: Vec<String> = req.requested_by.iter().cloned().collect();
    let next = match decision {
        Decision::Approve => advance(&txn, s, req, record, "APPROVE", Some(stage_index), comment).await?,
        Decision::Reject | Decision::SendBack => {
            let (to, verb) = if decision == Decision::Reject {
                (State::Rejected, "rejected")
            } else {
                (State::Initiated, "sent back")
            };
            let m = Move { action: decision.as_str(), to, stage: None, comment, escalated: false };
            let next = write_move(&txn, s, req, record, &m, time::now()).await?;
            let title = format!("{label} {verb} at stage {}", stage.name);
            notify(&txn, s, &[], &requester, &title, comment).await?;
            next
        }
    };
    txn.commit().await?;
    Ok(next)
}

/// Escalates a request whose stage's SLA has passed: the escalation role may now decide too,
/// and it (or, with none, the approver role) is told. `false` when it moved meanwhile.
pub async fn escalate(s: &Scope<'_>, req: &Request, record: &Record) -> Result<bool> {
    let Some(stage) = req.stage.and_then(|i| s.policy.definition.stages.get(i)) else { return Ok(false) };
    let txn = s.db.begin_tenant_write(s.tenant_id).await?;
    let m = Move {
        action: "ESCALATE",
        to: State::PendingApproval,
        stage: req.stage,
        comment: None,
        escalated: true,
    };
    match write_move(&txn, s, req, record, &m, time::now()).await {
        Ok(_) => {}
        Err(Error::Conflict(_)) => return Ok(false),
        Err(e) => return Err(e),
    }
    let role = stage.escalate_to_role.clone().unwrap_or_else(|| stage.approver_role.clone());
    let title = format!("Approval overdue: {}", s.label(record));
    let body = format!("Stage {} passed its SLA of {} h", stage.name, stage.sla_hours.unwrap_or_default());
    notify(&txn, s, &[role], &[], &title, Some(&body)).await?;
    txn.commit().await?;
    Ok(true)
}

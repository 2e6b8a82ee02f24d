//! Multi-stage approvals: policies (stages with an approver role, an optional condition over
//! the record, an SLA and an escalation role), and their storage (the `approval_policies`,
//! `approval_requests` and `approval_decisions` models, through SeaORM). A submitted record
//! gets a request that moves through the state machine INITIATED → PENDING_APPROVAL → APPROVED
//! / REJECTED (SEND_BACK returns it to INITIATED for the requester to resubmit); the
//! transitions live in [`flow`].

pub mod flow;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::features::rows;
use crate::models::{approval_decision, approval_policy, approval_request, role};
use crate::runtime::filter::Filter;
use crate::runtime::meta::{EntityDef, FieldType};
use crate::runtime::record::Record;
use crate::{Error, FieldError, Result};

/// Most stages a policy may have.
pub const MAX_STAGES: usize = 10;
/// Longest SLA of a stage, in hours (a year).
pub const MAX_SLA_HOURS: u32 = 366 * 24;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Created or sent back: the requester may (re)submit.
    Initiated,
    PendingApproval,
    Approved,
    Rejected,
}

impl State {
    pub const ALL: [State; 4] = [State::Initiated, State::PendingApproval, State::Approved, State::Rejected];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Initiated => "INITIATED",
            State::PendingApproval => "PENDING_APPROVAL",
            State::Approved => "APPROVED",
            State::Rejected => "REJECTED",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What an approver may do at a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    Approve,
    Reject,
    SendBack,
}

impl Decision {
    pub const ALL: [Decision; 3] = [Decision::Approve, Decision::Reject, Decision::SendBack];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "APPROVE",
            Decision::Reject => "REJECT",
            Decision::SendBack => "SEND_BACK",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

fn default_actions() -> Vec<Decision> {
    vec![Decision::Approve, Decision::Reject]
}

/// One stage of a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Stage {
    pub name: String,
    /// The role (by name) whose users decide at this stage.
    pub approver_role: String,
    /// Hours the stage may stay pending before it is escalated.
    #[serde(default)]
    pub sla_hours: Option<u32>,
    /// Entity filter over the record: the stage applies only when it holds (else it is skipped).
    #[serde(default)]
    pub condition: Option<Value>,
    #[serde(default = "default_actions")]
    pub actions: Vec<Decision>,
    /// The role (by name) that may also decide, and is told, once the SLA has passed.
    #[serde(default)]
    pub escalate_to_role: Option<String>,
}

/// A policy's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Definition {
    pub stages: Vec<Stage>,
    /// A SELECT or TEXT field of the entity the engine keeps equal to the request's state, in
    /// the transaction of each transition (so workflows can fire on it).
    #[serde(default)]
    pub state_field: Option<String>,
}

impl Definition {
    /// Checks the definition against the entity and the tenant's role names; every problem
    /// becomes one field error (`stages.1.approverRole`…).
    pub fn validate(&self, entity: &EntityDef, roles: &[String]) -> Result<()> {
        let mut errors = Vec::new();
        let mut bad = |field: String, message: &str| errors.push(FieldError::new(field, message));
        if self.stages.is_empty() || self.stages.len() > MAX_STAGES {
            bad("stages".into(), &format!("must hold 1 to {MAX_STAGES} stages"));
        }
        let role_ok = |r: &str| roles.iter().any(|x| x == r);
        for (i, s) in self.stages.iter().enumerate() {
            let at = |f: &str| format!("stages.{i}.{f}");
            if s.name.trim().is_empty() || s.name.chars().count() > 200 {
                bad(at("name"), "must be 1 to 200 characters");
            }
            if !role_ok(&s.approver_role) {
                bad(at("approverRole"), &format!("no role named `{}`", s.approver_role));
            }
            if let Some(r) = &s.escalate_to_role {
                if !role_ok(r) {
                    bad(at("escalateToRole"), &format!("no role named `{r}`"));
                }
                if s.sla_hours.is_none() {
                    bad(at("escalateToRole"), "escalation needs `slaHours`");
                }
            }
            if let Some(h) = s.sla_hours
                && (h == 0 || h > MAX_SLA_HOURS)
            {
                bad(at("slaHours"), &format!("must be 1 to {MAX_SLA_HOURS}"));
            }
            if s.actions.is_empty() {
                bad(at("actions"), "must allow at least one action");
            }
            if let Some(c) = &s.condition
                && let Err(e) = Filter::parse(entity, c)
            {
                bad(at("condition"), &e.to_string());
            }
        }
        if let Some(name) = &self.state_field {
            match entity.field_by_graphql(name).or_else(|| entity.field_by_key(name)) {
                Some(f) if f.ty == FieldType::Text => {}
                Some(f) if f.ty == FieldType::Select => {
                    let missing: Vec<&str> = State::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .filter(|s| !f.options.iter().any(|o| o == s))
                        .collect();
                    if !missing.is_empty() {
                        bad("stateField".into(), &format!("the field's options lack {}", missing.join(", ")));
                    }
                }
                Some(_) => bad("stateField".into(), "must be a TEXT or SELECT field"),
                None => {
                    bad("stateField".into(), &format!("`{}` has no field `{name}`", entity.name_singular))
                }
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(Error::Validation(errors)) }
    }

    /// The first stage after `after` whose condition holds for the record.
    pub fn next_stage(&self, entity: &EntityDef, record: &Record, after: Option<usize>) -> Option<usize> {
        let start = after.map_or(0, |a| a + 1);
        (start..self.stages.len()).find(|&i| {
            self.stages[i]
                .condition
                .as_ref()
                .is_none_or(|c| Filter::parse(entity, c).is_ok_and(|f| f.matches(record)))
        })
    }
}

/// A stored policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub id: String,
    pub tenant_id: String,
    pub entity_id: String,
    pub name: String,
    pub definition: Definition,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A request: one submission of one record under one policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub id: String,
    pub tenant_id: String,
    pub policy_id: String,
    pub entity_id: String,
    pub record_id: String,
    pub state: State,
    /// The pending stage (0-based), while PENDING_APPROVAL.
    pub stage: Option<usize>,
    pub stage_due_at: Option<DateTime<Utc>>,
    pub escalated: bool,
    pub requested_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One transition of a request, as history.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionEntry {
    pub stage: Option<usize>,
    /// SUBMIT, APPROVE, REJECT, SEND_BACK or ESCALATE.
    pub action: String,
    pub from_state: String,
    pub to_state: String,
    pub comment: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: DateTime<Utc>,
}

/// A stage index as the `stage` columns hold it.
fn stage_column(stage: Option<usize>) -> Result<Option<i32>> {
    stage
        .map(|i| i32::try_from(i).map_err(|_| Error::Internal(format!("approval stage {i} out of range"))))
        .transpose()
}

fn stage_index(stage: Option<i32>) -> Option<usize> {
    stage.and_then(|s| usize::try_from(s).ok())
}

impl TryFrom<approval_policy::Model> for Policy {
    type Error = Error;

    fn try_from(m: approval_policy::Model) -> Result<Policy> {
        Ok(Policy {
            id: m.id,
            tenant_id: m.tenant_id,
            entity_id: m.entity_id,
            name: m.name,
            definition: serde_json::from_value(m.definition)?,
            active: m.active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl TryFrom<approval_request::Model> for Request {
    type Error = Error;

    fn try_from(m: approval_request::Model) -> Result<Request> {
        Ok(Request {
            state: State::parse(&m.state)
                .ok_or_else(|| Error::Internal(format!("bad approval state {}", m.state)))?,
            id: m.id,
            tenant_id: m.tenant_id,
            policy_id: m.policy_id,
            entity_id: m.entity_id,
            record_id: m.record_id,
            stage: stage_index(m.stage),
            stage_due_at: m.stage_due_at,
            escalated: m.escalated,
            requested_by: m.requested_by,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl From<approval_decision::Model> for DecisionEntry {
    fn from(m: approval_decision::Model) -> DecisionEntry {
        DecisionEntry {
            stage: stage_index(m.stage),
            action: m.action,
            from_state: m.from_state,
            to_state: m.to_state,
            comment: m.comment,
            decided_by: m.decided_by,
            decided_at: m.decided_at,
        }
    }
}

/// The tenant's policies, optionally of one entity, oldest first.
pub async fn policies(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    entity_id: Option<&str>,
) -> Result<Vec<Policy>> {
    let mut query = approval_policy::Entity::find().filter(approval_policy::Column::TenantId.eq(tenant_id));
    if let Some(e) = entity_id {
        query = query.filter(approval_policy::Column::EntityId.eq(e));
    }
    let rows = query
        .order_by_asc(approval_policy::Column::CreatedAt)
        .order_by_asc(approval_policy::Column::Id)
        .all(conn)
        .await?;
    rows.into_iter().map(Policy::try_from).collect()
}

pub async fn policy(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<Option<Policy>> {
    rows::find::<approval_policy::Entity, _>(conn, tenant_id, id).await
}

/// Inserts or replaces a policy.
pub async fn save_policy(conn: &impl ConnectionTrait, p: &Policy, insert: bool) -> Result<()> {
    let row = approval_policy::ActiveModel {
        id: Set(p.id.clone()),
        tenant_id: Set(p.tenant_id.clone()),
        entity_id: Set(p.entity_id.clone()),
        name: Set(p.name.clone()),
        definition: Set(serde_json::to_value(&p.definition)?),
        active: Set(p.active),
        created_at: Set(p.created_at),
        updated_at: Set(p.updated_at),
    };
    rows::save(conn, row, insert, &p.tenant_id, &p.id).await
}

/// Deletes a policy that no request uses (history is kept: deactivate a used policy instead).
pub async fn delete_policy(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<bool> {
    let used: Option<i64> = approval_request::Entity::find()
        .select_only()
        .column_as(approval_request::Column::Id.count(), "n")
        .filter(approval_request::Column::TenantId.eq(tenant_id))
        .filter(approval_request::Column::PolicyId.eq(id))
        .into_tuple()
        .one(conn)
        .await?;
    let used = used.unwrap_or(0);
    if used > 0 {
        return Err(Error::Conflict(format!(
            "the policy has {used} approval request(s); deactivate it instead of deleting it"
        )));
    }
    rows::delete::<approval_policy::Entity>(conn, tenant_id, id).await
}

/// Which requests to list.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub state: Option<State>,
    pub record_id: Option<String>,
    pub policy_id: Option<String>,
    /// Only requests pending at a stage one of these role names decides.
    pub assigned_roles: Option<Vec<String>>,
}

/// Requests, newest first, at most `first`.
pub async fn requests(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    f: &RequestFilter,
    first: u64,
) -> Result<Vec<Request>> {
    use approval_request::Column as C;
    let mut query = approval_request::Entity::find().filter(C::TenantId.eq(tenant_id));
    if let Some(s) = f.state {
        query = query.filter(C::State.eq(s.as_str()));
    }
    if let Some(r) = &f.record_id {
        query = query.filter(C::RecordId.eq(r));
    }
    if let Some(p) = &f.policy_id {
        query = query.filter(C::PolicyId.eq(p));
    }
    if f.assigned_roles.is_some() {
        query = query.filter(C::State.eq(State::PendingApproval.as_str()));
    }
    // Assignment depends on the policy's stages (JSON): filtered below, so read more rows.
    let limit = if f.assigned_roles.is_some() { first.saturating_mul(20).max(1000) } else { first };
    let rows = query.order_by_desc(C::CreatedAt).order_by_desc(C::Id).limit(limit).all(conn).await?;
    let mut out: Vec<Request> = rows.into_iter().map(Request::try_from).collect::<Result<_>>()?;
    if let Some(roles) = &f.assigned_roles {
        let all = policies(conn, tenant_id, None).await?;
        out.retain(|r| {
            all.iter()
                .find(|p| p.id == r.policy_id)
                .is_some_and(|p| flow::deciders(p, r).iter().any(|x| roles.contains(x)))
        });
        out.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    }
    Ok(out)
}

pub async fn request(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<Option<Request>> {
    rows::find::<approval_request::Entity, _>(conn, tenant_id, id).await
}

/// The history of a request, oldest first.
pub async fn decisions(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    request_id: &str,
) -> Result<Vec<DecisionEntry>> {
    let rows = approval_decision::Entity::find()
        .filter(approval_decision::Column::TenantId.eq(tenant_id))
        .filter(approval_decision::Column::RequestId.eq(request_id))
        .order_by_asc(approval_decision::Column::DecidedAt)
        .order_by_asc(approval_decision::Column::Id)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(DecisionEntry::from).collect())
}

/// Requests pending past their stage's SLA and not yet escalated, of every tenant (or one).
/// Read on the system connection.
pub async fn overdue(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    tenant_id: Option<&str>,
) -> Result<Vec<Request>> {
    use approval_request::Column as C;
    let mut query = approval_request::Entity::find()
        .filter(C::State.eq(State::PendingApproval.as_str()))
        .filter(C::Escalated.eq(false))
        .filter(C::StageDueAt.lte(now));
    if let Some(t) = tenant_id {
        query = query.filter(C::TenantId.eq(t));
    }
    let rows = query.order_by_asc(C::StageDueAt).limit(500).all(conn).await?;
    rows.into_iter().map(Request::try_from).collect()
}

/// The names of the tenant's roles (stages name their approvers by role name).
pub async fn role_names(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Vec<String>> {
    Ok(role::Entity::find()
        .select_only()
        .column(role::Column::Name)
        .filter(role::Column::TenantId.eq(tenant_id))
        .order_by_asc(role::Column::Name)
        .into_tuple()
        .all(conn)
        .await?)
}

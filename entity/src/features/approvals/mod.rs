//! Multi-stage approvals: policies (stages with an approver role, an optional condition over
//! the record, an SLA and an escalation role), and their storage. A submitted record gets a
//! request that moves through the state machine INITIATED → PENDING_APPROVAL → APPROVED /
//! REJECTED (SEND_BACK returns it to INITIATED for the requester to resubmit); the transitions
//! live in [`flow`].

pub mod flow;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::runtime::filter::Filter;
use crate::runtime::meta::{EntityDef, FieldType};
use crate::runtime::record::Record;
use crate::runtime::sql::{self, json_col};
use crate::runtime::time;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, FieldError, Result};

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
#[derive(Debug, Clone, PartialEq)]
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

const POLICY_COLUMNS: &str = "id, tenant_id, entity_id, name, definition, active, created_at, updated_at";
const REQUEST_COLUMNS: &str = "id, tenant_id, policy_id, entity_id, record_id, state, stage, stage_due_at, escalated, requested_by, created_at, updated_at";

fn missing() -> Error {
    Error::Internal("approval row without a timestamp".into())
}

fn policy_from_row(r: &QueryResult, d: Dialect) -> Result<Policy> {
    Ok(Policy {
        id: r.try_get("", "id")?,
        tenant_id: r.try_get("", "tenant_id")?,
        entity_id: r.try_get("", "entity_id")?,
        name: r.try_get("", "name")?,
        definition: serde_json::from_value(json_col(r, d, "definition")?)?,
        active: r.try_get("", "active")?,
        created_at: time::column(r, d, "created_at")?.ok_or_else(missing)?,
        updated_at: time::column(r, d, "updated_at")?.ok_or_else(missing)?,
    })
}

fn request_from_row(r: &QueryResult, d: Dialect) -> Result<Request> {
    let state: String = r.try_get("", "state")?;
    let stage: Option<i32> = r.try_get("", "stage")?;
    Ok(Request {
        id: r.try_get("", "id")?,
        tenant_id: r.try_get("", "tenant_id")?,
        policy_id: r.try_get("", "policy_id")?,
        entity_id: r.try_get("", "entity_id")?,
        record_id: r.try_get("", "record_id")?,
        state: State::parse(&state).ok_or_else(|| Error::Internal(format!("bad approval state {state}")))?,
        stage: stage.and_then(|s| usize::try_from(s).ok()),
        stage_due_at: time::column(r, d, "stage_due_at")?,
        escalated: r.try_get("", "escalated")?,
        requested_by: r.try_get("", "requested_by")?,
        created_at: time::column(r, d, "created_at")?.ok_or_else(missing)?,
        updated_at: time::column(r, d, "updated_at")?.ok_or_else(missing)?,
    })
}

/// The tenant's policies, optionally of one entity, oldest first.
pub async fn policies(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    entity_id: Option<&str>,
) -> Result<Vec<Policy>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(POLICY_COLUMNS).push(" FROM approval_policies WHERE tenant_id = ");
    buf.bind(tenant_id.to_owned());
    if let Some(e) = entity_id {
        buf.push(" AND entity_id = ").bind(e.to_owned());
    }
    buf.push(" ORDER BY created_at, id");
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter().map(|r| policy_from_row(r, d)).collect()
}

pub async fn policy(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Policy>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(POLICY_COLUMNS).push(" FROM approval_policies WHERE tenant_id = ");
    buf.bind(tenant_id.to_owned()).push(" AND id = ").bind(id.to_owned());
    conn.query_one_raw(buf.into_statement()).await?.map(|r| policy_from_row(&r, d)).transpose()
}

/// Inserts or replaces a policy.
pub async fn save_policy(conn: &impl ConnectionTrait, d: Dialect, p: &Policy, insert: bool) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    if insert {
        buf.push("INSERT INTO approval_policies (").push(POLICY_COLUMNS).push(") VALUES (");
        buf.bind(p.id.clone()).push(", ").bind(p.tenant_id.clone()).push(", ");
        buf.bind(p.entity_id.clone()).push(", ").bind(p.name.clone()).push(", ");
        buf.bind_json(&p.definition)?;
        buf.push(", ").bind(p.active).push(", ").bind_ts(p.created_at).push(", ").bind_ts(p.updated_at);
        buf.push(")");
    } else {
        buf.push("UPDATE approval_policies SET entity_id = ").bind(p.entity_id.clone());
        buf.push(", name = ").bind(p.name.clone()).push(", definition = ");
        buf.bind_json(&p.definition)?;
        buf.push(", active = ").bind(p.active).push(", updated_at = ").bind_ts(p.updated_at);
        buf.push(" WHERE tenant_id = ").bind(p.tenant_id.clone()).push(" AND id = ").bind(p.id.clone());
    }
    conn.execute_raw(buf.into_statement()).await?;
    Ok(())
}

/// Deletes a policy that no request uses (history is kept: deactivate a used policy instead).
pub async fn delete_policy(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    id: &str,
) -> Result<bool> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT COUNT(*) AS n FROM approval_requests WHERE tenant_id = ");
    buf.bind(tenant_id.to_owned()).push(" AND policy_id = ").bind(id.to_owned());
    let used: i64 =
        conn.query_one_raw(buf.into_statement()).await?.map(|r| r.try_get("", "n")).transpose()?.unwrap_or(0);
    if used > 0 {
        return Err(Error::Conflict(format!(
            "the policy has {used} approval request(s); deactivate it instead of deleting it"
        )));
    }
    sql::delete_tenant_row(conn, d, "approval_policies", tenant_id, id).await
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
    d: Dialect,
    tenant_id: &str,
    f: &RequestFilter,
    first: u64,
) -> Result<Vec<Request>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(REQUEST_COLUMNS).push(" FROM approval_requests WHERE tenant_id = ");
    buf.bind(tenant_id.to_owned());
    if let Some(s) = f.state {
        buf.push(" AND state = ").bind(s.as_str().to_owned());
    }
    if let Some(r) = &f.record_id {
        buf.push(" AND record_id = ").bind(r.clone());
    }
    if let Some(p) = &f.policy_id {
        buf.push(" AND policy_id = ").bind(p.clone());
    }
    if f.assigned_roles.is_some() {
        buf.push(" AND state = ").bind(State::PendingApproval.as_str().to_owned());
    }
    // Assignment depends on the policy's stages (JSON): filtered below, so read more rows.
    let limit = if f.assigned_roles.is_some() { first.saturating_mul(20).max(1000) } else { first };
    buf.push(" ORDER BY created_at DESC, id DESC LIMIT ").push(&limit.to_string());
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    let mut out: Vec<Request> = rows.iter().map(|r| request_from_row(r, d)).collect::<Result<_>>()?;
    if let Some(roles) = &f.assigned_roles {
        let all = policies(conn, d, tenant_id, None).await?;
        out.retain(|r| {
            all.iter()
                .find(|p| p.id == r.policy_id)
                .is_some_and(|p| flow::deciders(p, r).iter().any(|x| roles.contains(x)))
        });
        out.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    }
    Ok(out)
}

pub async fn request(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Request>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(REQUEST_COLUMNS).push(" FROM approval_requests WHERE tenant_id = ");
    buf.bind(tenant_id.to_owned()).push(" AND id = ").bind(id.to_owned());
    conn.query_one_raw(buf.into_statement()).await?.map(|r| request_from_row(&r, d)).transpose()
}

/// The history of a request, oldest first.
pub async fn decisions(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    request_id: &str,
) -> Result<Vec<DecisionEntry>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT stage, action, from_state, to_state, comment, decided_by, decided_at FROM approval_decisions WHERE tenant_id = ");
    buf.bind(tenant_id.to_owned()).push(" AND request_id = ").bind(request_id.to_owned());
    buf.push(" ORDER BY decided_at, id");
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter()
        .map(|r| {
            let stage: Option<i32> = r.try_get("", "stage")?;
            Ok(DecisionEntry {
                stage: stage.and_then(|s| usize::try_from(s).ok()),
                action: r.try_get("", "action")?,
                from_state: r.try_get("", "from_state")?,
                to_state: r.try_get("", "to_state")?,
                comment: r.try_get("", "comment")?,
                decided_by: r.try_get("", "decided_by")?,
                decided_at: time::column(r, d, "decided_at")?.ok_or_else(missing)?,
            })
        })
        .collect()
}

/// Requests pending past their stage's SLA and not yet escalated, of every tenant (or one).
/// Read on the system connection.
pub async fn overdue(
    conn: &impl ConnectionTrait,
    d: Dialect,
    now: DateTime<Utc>,
    tenant_id: Option<&str>,
) -> Result<Vec<Request>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(REQUEST_COLUMNS).push(" FROM approval_requests WHERE state = ");
    buf.bind(State::PendingApproval.as_str().to_owned()).push(" AND escalated = ").bind(false);
    buf.push(" AND stage_due_at <= ").bind_ts(now);
    if let Some(t) = tenant_id {
        buf.push(" AND tenant_id = ").bind(t.to_owned());
    }
    buf.push(" ORDER BY stage_due_at LIMIT 500");
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter().map(|r| request_from_row(r, d)).collect()
}

/// The names of the tenant's roles (stages name their approvers by role name).
pub async fn role_names(conn: &impl ConnectionTrait, d: Dialect, tenant_id: &str) -> Result<Vec<String>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT name FROM roles WHERE tenant_id = ").bind(tenant_id.to_owned()).push(" ORDER BY name");
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter().map(|r| Ok(r.try_get("", "name")?)).collect()
}

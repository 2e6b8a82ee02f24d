//! Workflows in the data layer: definitions (a trigger, conditions in the filter language over
//! the record and its previous values, and actions), validated against the tenant's metadata;
//! deciding whether a committed change fires one; rendering `{{record.x}}` templates; (in
//! `storage`) storing workflows; and (in `runs`) the log of runs and steps. Executing actions
//! is the worker's job (`jobs::handlers::workflows`).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::features::webhooks::Secret;
use crate::runtime::filter::Filter;
use crate::runtime::meta::{EntityDef, FieldDef, FieldType, TenantMeta};
use crate::runtime::record::{ChangeEvent, ChangeKind, Record};
use crate::{Error, FieldError, Result};

mod runs;
pub mod schedule;
mod storage;

pub use runs::{
    DeadRun, Park, ResumedRun, Run, RunChanged, Step, claim_queued_run, claim_waiting_run, dead_runs,
    finish_run, hold_run, log_step, park_run, queue_run, requeue_run, run_by_key, runs, stale_runs,
    start_run, with_steps,
};
pub use storage::{
    TimeTriggered, delete, get, is_switched_off, list, save, set_scanned_through, tenant_of, time_triggered,
    watched,
};

/// Workflow hops after which a change no longer fires workflows (loop guard).
pub const MAX_DEPTH: u32 = 5;

/// What starts a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    RecordCreated {
        entity: String,
    },
    /// Any update, or only updates that change one of `fields`.
    RecordUpdated {
        entity: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fields: Vec<String>,
    },
    /// An update that changes `field` (to `to`, when given).
    FieldChanged {
        entity: String,
        field: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Value>,
    },
    /// An update that moves the SELECT `field` from one value to another (from `from` and to
    /// `to`, when given): a lifecycle's transition, once committed.
    Transitioned {
        entity: String,
        field: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    RecordDeleted {
        entity: String,
    },
    /// Only `runWorkflow(id, recordId)` starts it.
    Manual {
        entity: String,
    },
    /// A cron schedule (`0 9 * * MON-FRI`) in `timeZone` (default: the tenant's): at each fire
    /// time, one run per record matching the condition.
    Schedule {
        entity: String,
        cron: String,
        #[serde(rename = "timeZone", default, skip_serializing_if = "Option::is_none")]
        time_zone: Option<String>,
    },
    /// The moment a DATE_TIME `field` plus `offsetMinutes` (negative: before) passes, once per
    /// record and date value: `-1440` on `starts_at` fires 24 hours before each appointment,
    /// and again if the appointment is moved.
    RelativeDate {
        entity: String,
        field: String,
        #[serde(rename = "offsetMinutes", default)]
        offset_minutes: i64,
    },
    /// An HMAC-signed `POST /hooks/workflows/{id}` from another system, about the record named
    /// by `recordId` in the JSON body — or by the body's value of the unique `matchField`. The
    /// body is available to templates as `{{payload.…}}`. `secret` is generated when absent.
    /// A stock balance of one of `entity`'s items fell below the item's reorder level (the
    /// ledger's `reorderLevel`): once per crossing, on the item, with the crossing in
    /// `{{payload.…}}` (`warehouseId`, `onHand`, `reorderLevel`).
    StockBelowReorder {
        entity: String,
    },
    Webhook {
        entity: String,
        #[serde(rename = "matchField", default, skip_serializing_if = "Option::is_none")]
        match_field: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
    },
}

/// The largest relative-date offset: a year, in minutes.
pub const MAX_OFFSET_MINUTES: i64 = 366 * 24 * 60;

impl Trigger {
    pub fn entity(&self) -> &str {
        match self {
            Trigger::RecordCreated { entity }
            | Trigger::RecordUpdated { entity, .. }
            | Trigger::FieldChanged { entity, .. }
            | Trigger::Transitioned { entity, .. }
            | Trigger::RecordDeleted { entity }
            | Trigger::Manual { entity }
            | Trigger::Schedule { entity, .. }
            | Trigger::RelativeDate { entity, .. }
            | Trigger::StockBelowReorder { entity }
            | Trigger::Webhook { entity, .. } => entity,
        }
    }
}

/// One step of a workflow. String values may hold `{{record.field}}`, `{{record.relation.field}}`,
/// `{{previous.field}}` and `{{tenant.name}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    SendEmail {
        to: String,
        subject: String,
        body: String,
    },
    /// Sets fields of the triggering record (GraphQL field names).
    UpdateFields {
        values: Map<String, Value>,
    },
    /// Creates a record of `entity` (e.g. a follow-up task).
    CreateRecord {
        entity: String,
        values: Map<String, Value>,
    },
    /// Notifies users (ids, or `{{record.owner}}`) and/or everyone holding role `role` (by name).
    Notify {
        #[serde(default)]
        users: Vec<String>,
        #[serde(default)]
        role: Option<String>,
        title: String,
        #[serde(default)]
        body: Option<String>,
    },
    /// Makes `user` (an id or a template) the record's owner.
    AssignOwner {
        user: String,
    },
    /// POSTs JSON to `url` (`body`, or the workflow, run and record by default); internal
    /// addresses are refused unless allowed (SSRF). A non-2xx answer fails the step.
    CallWebhook {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
    },
    /// Pauses the run for `seconds` (at most 30 days); the remaining actions run afterwards on
    /// the record as it is then. The run is `waiting` meanwhile.
    Wait {
        seconds: u64,
    },
    /// Asks the tenant's AI provider (`prompt`, a template) and writes the answer into the
    /// TEXT or TEXTAREA `field` of the record — or, without `field`, emails it (`to`, `subject`).
    AiGenerate {
        prompt: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
    },
    /// Asks the tenant's AI provider to sort the record (`prompt`, a template) into one of the
    /// options of the SELECT `field`, and sets it; an answer that is not an option fails the step.
    AiClassify {
        prompt: String,
        field: String,
    },
    /// Submits the record for approval under its entity's active policy named `policy`
    /// (`approvals::flow::submit_in`), in the step's transaction.
    SubmitForApproval {
        policy: String,
    },
}

/// The longest `wait`: 30 days.
pub const MAX_WAIT_SECONDS: u64 = 30 * 24 * 3600;

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::SendEmail { .. } => "send_email",
            Action::UpdateFields { .. } => "update_fields",
            Action::CreateRecord { .. } => "create_record",
            Action::Notify { .. } => "notify",
            Action::AssignOwner { .. } => "assign_owner",
            Action::CallWebhook { .. } => "call_webhook",
            Action::Wait { .. } => "wait",
            Action::AiGenerate { .. } => "ai_generate",
            Action::AiClassify { .. } => "ai_classify",
            Action::SubmitForApproval { .. } => "submit_for_approval",
        }
    }
}

/// A workflow's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Definition {
    pub trigger: Trigger,
    /// A filter the record (after the change) must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
    /// A filter the values before an update must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_condition: Option<Value>,
    pub actions: Vec<Action>,
}

/// A stored workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub description: Option<String>,
    pub active: bool,
    pub entity_id: String,
    pub definition: Definition,
    /// The secrets signing its `call_webhook` requests, newest first (at most two: rotation).
    pub secrets: Vec<Secret>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn entity_or<'a>(
    meta: &'a TenantMeta,
    name: &str,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a EntityDef> {
    let e = meta.entity_by_name(name).map(|e| e.as_ref());
    if e.is_none() {
        errors.push(FieldError::new(path, format!("no entity named `{name}`")));
    }
    e
}

/// Names the values by GraphQL field name (a field's key is accepted too: `due_at` → `dueAt`).
fn normalize_values(e: &EntityDef, values: &mut Map<String, Value>) {
    let renamed: Vec<(String, String)> = values
        .keys()
        .filter(|k| e.field_by_graphql(k).is_none())
        .filter_map(|k| e.field_by_key(k).map(|f| (k.clone(), f.graphql_name.clone())))
        .collect();
    for (from, to) in renamed {
        if let Some(v) = values.remove(&from) {
            values.insert(to, v);
        }
    }
}

/// The field `name` names, by GraphQL name or key.
pub fn field_of<'e>(e: &'e EntityDef, name: &str) -> Option<&'e FieldDef> {
    e.field_by_graphql(name).or_else(|| e.field_by_key(name))
}

fn check_values(e: &EntityDef, values: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    for k in values.keys() {
        if k != "owner" && e.field_by_graphql(k).is_none() {
            errors.push(FieldError::new(
                format!("{path}.{k}"),
                format!("`{}` has no field `{k}`", e.name_singular),
            ));
        }
    }
}

impl Definition {
    /// Parses and validates a definition against the tenant's metadata; returns it with the
    /// id of the entity it watches.
    pub fn parse(json: &Value, meta: &TenantMeta) -> Result<(Definition, String)> {
        let mut def: Definition = serde_json::from_value(json.clone())
            .map_err(|e| Error::field("definition", format!("invalid workflow definition: {e}")))?;
        let mut errors = Vec::new();
        let Some(entity) = entity_or(meta, def.trigger.entity(), "trigger.entity", &mut errors) else {
            return Err(Error::Validation(errors));
        };
        for a in &mut def.actions {
            match a {
                Action::UpdateFields { values } => normalize_values(entity, values),
                Action::CreateRecord { entity: target, values } => {
                    if let Some(t) = meta.entity_by_name(target) {
                        normalize_values(t, values);
                    }
                }
                _ => {}
            }
        }
        let field_known = |f: &str| entity.field_by_graphql(f).or_else(|| entity.field_by_key(f)).is_some();
        match &def.trigger {
            Trigger::RecordUpdated { fields, .. } => {
                for f in fields.iter().filter(|f| !field_known(f)) {
                    errors.push(FieldError::new("trigger.fields", format!("no field `{f}`")));
                }
            }
            Trigger::FieldChanged { field, .. } if !field_known(field) => {
                errors.push(FieldError::new("trigger.field", format!("no field `{field}`")));
            }
            Trigger::Transitioned { field, from, to, .. } => {
                check_transitioned(entity, field, from, to, &mut errors)
            }
            Trigger::Schedule { cron, time_zone, .. } => {
                // The tenant's zone is checked when the tenant sets it; UTC stands in here.
                if let Err(e) = schedule::CronSchedule::parse(cron, time_zone.as_deref().unwrap_or("UTC")) {
                    let path = if e.contains("time zone") { "trigger.timeZone" } else { "trigger.cron" };
                    errors.push(FieldError::new(path, e));
                }
            }
            Trigger::RelativeDate { field, offset_minutes, .. } => {
                let def = entity.field_by_graphql(field).or_else(|| entity.field_by_key(field));
                if def.is_none_or(|f| f.ty != FieldType::Datetime) {
                    errors.push(FieldError::new("trigger.field", format!("no DATE_TIME field `{field}`")));
                }
                if offset_minutes.abs() > MAX_OFFSET_MINUTES {
                    errors.push(FieldError::new(
                        "trigger.offsetMinutes",
                        format!("must be between -{MAX_OFFSET_MINUTES} and {MAX_OFFSET_MINUTES}"),
                    ));
                }
            }
            Trigger::Webhook { match_field: Some(field), .. }
                if entity
                    .field_by_graphql(field)
                    .or_else(|| entity.field_by_key(field))
                    .is_none_or(|f| !f.unique) =>
            {
                errors.push(FieldError::new("trigger.matchField", format!("no unique field `{field}`")));
            }
            Trigger::Webhook { secret: Some(secret), .. } if secret.len() < 24 => {
                errors.push(FieldError::new("trigger.secret", "must be at least 24 characters"));
            }
            _ => {}
        }
        for (path, cond) in [("condition", &def.condition), ("previousCondition", &def.previous_condition)] {
            if let Some(c) = cond
                && let Err(Error::Validation(errs)) = Filter::parse(entity, c)
            {
                errors.extend(errs.into_iter().map(|e| {
                    FieldError::new(format!("{path}{}", e.field.trim_start_matches("filter")), e.message)
                }));
            }
        }
        if def.actions.is_empty() {
            errors.push(FieldError::new("actions", "a workflow needs at least one action"));
        }
        for (i, a) in def.actions.iter().enumerate() {
            let path = format!("actions[{i}]");
            match a {
                Action::UpdateFields { values } => {
                    check_values(entity, values, &format!("{path}.values"), &mut errors)
                }
                Action::CreateRecord { entity: target, values } => {
                    if let Some(t) = entity_or(meta, target, &format!("{path}.entity"), &mut errors) {
                        check_values(t, values, &format!("{path}.values"), &mut errors);
                    }
                }
                Action::Notify { users, role, title, .. } => {
                    if users.is_empty() && role.is_none() {
                        errors.push(FieldError::new(&path, "notify needs users or a role"));
                    }
                    if title.trim().is_empty() {
                        errors.push(FieldError::new(format!("{path}.title"), "is required"));
                    }
                }
                Action::Wait { seconds } if !(1..=MAX_WAIT_SECONDS).contains(seconds) => {
                    errors.push(FieldError::new(
                        format!("{path}.seconds"),
                        format!("must be between 1 and {MAX_WAIT_SECONDS}"),
                    ));
                }
                Action::SubmitForApproval { policy } if policy.trim().is_empty() => {
                    errors.push(FieldError::new(format!("{path}.policy"), "is required"));
                }
                Action::SendEmail { to, .. } if to.trim().is_empty() => {
                    errors.push(FieldError::new(format!("{path}.to"), "is required"));
                }
                Action::AiGenerate { field, to, subject, .. } => {
                    let text = |f: &FieldDef| matches!(f.ty, FieldType::Text | FieldType::Textarea);
                    match (field, to) {
                        (Some(f), None) if field_of(entity, f).is_some_and(text) => {}
                        (Some(f), None) => errors.push(FieldError::new(
                            format!("{path}.field"),
                            format!("no TEXT or TEXTAREA field `{f}`"),
                        )),
                        (None, Some(_)) if subject.is_some() => {}
                        _ => errors
                            .push(FieldError::new(&path, "ai_generate needs `field`, or `to` and `subject`")),
                    }
                }
                Action::AiClassify { field, .. }
                    if field_of(entity, field).is_none_or(|f| f.ty != FieldType::Select) =>
                {
                    errors
                        .push(FieldError::new(format!("{path}.field"), format!("no SELECT field `{field}`")));
                }
                _ => {}
            }
        }
        if errors.is_empty() { Ok((def, entity.id.clone())) } else { Err(Error::Validation(errors)) }
    }

    /// Gives an inbound webhook trigger without a secret `kept` (the one it had before an
    /// edit) or a new one; other triggers have none.
    pub fn ensure_secret(&mut self, kept: Option<String>) {
        if let Trigger::Webhook { secret: secret @ None, .. } = &mut self.trigger {
            *secret = Some(kept.unwrap_or_else(|| {
                format!("whsec_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
            }));
        }
    }

    /// The entities (by name) whose records its actions create.
    pub fn created_entities(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().filter_map(|a| match a {
            Action::CreateRecord { entity, .. } => Some(entity.as_str()),
            _ => None,
        })
    }

    /// Whether the conditions hold for `record` (manual runs check only these).
    pub fn conditions_hold(&self, entity: &EntityDef, record: &Record) -> bool {
        self.condition_holds(entity, record, None)
    }

    /// Whether a committed change fires this workflow (trigger and conditions).
    pub fn fires(&self, entity: &EntityDef, event: &ChangeEvent) -> bool {
        let changed = |f: &str| {
            let name =
                entity.field_by_graphql(f).or_else(|| entity.field_by_key(f)).map(|d| d.graphql_name.clone());
            name.is_some_and(|n| event.changed_fields.contains(&n))
        };
        let trigger = match (&self.trigger, event.kind) {
            (Trigger::RecordCreated { .. }, ChangeKind::Created) => true,
            (Trigger::RecordUpdated { fields, .. }, ChangeKind::Updated) => {
                fields.is_empty() || fields.iter().any(|f| changed(f))
            }
            (Trigger::FieldChanged { field, to, .. }, ChangeKind::Updated) => {
                let key = entity
                    .field_by_graphql(field)
                    .or_else(|| entity.field_by_key(field))
                    .map(|d| d.key.to_string());
                changed(field)
                    && to.as_ref().is_none_or(|want| {
                        key.and_then(|k| event.record.data.get(&k).cloned()).as_ref() == Some(want)
                    })
            }
            (Trigger::Transitioned { field, from, to, .. }, ChangeKind::Updated) => {
                moved(entity, event, field, from.as_deref(), to.as_deref())
            }
            (Trigger::RecordDeleted { .. }, ChangeKind::Deleted) => true,
            _ => false,
        };
        trigger && self.condition_holds(entity, &event.record, event.previous.as_ref())
    }

    fn condition_holds(
        &self,
        entity: &EntityDef,
        record: &Record,
        previous: Option<&Map<String, Value>>,
    ) -> bool {
        let check = |cond: &Option<Value>, r: &Record| match cond {
            None => true,
            Some(c) => Filter::parse(entity, c).map(|f| f.matches(r)).unwrap_or(false),
        };
        let before = previous.map(|data| Record { data: data.clone().into(), ..record.clone() });
        check(&self.condition, record) && before.as_ref().is_none_or(|b| check(&self.previous_condition, b))
    }
}

/// A `transitioned` trigger names a SELECT field, options of it, and (when the field has a
/// lifecycle and both ends are given) a move the lifecycle allows: else it could never fire.
fn check_transitioned(
    entity: &EntityDef,
    field: &str,
    from: &Option<String>,
    to: &Option<String>,
    errors: &mut Vec<FieldError>,
) {
    let def = entity.field_by_graphql(field).or_else(|| entity.field_by_key(field));
    let Some(def) = def.filter(|f| f.ty == FieldType::Select) else {
        errors.push(FieldError::new("trigger.field", format!("no SELECT field `{field}`")));
        return;
    };
    for (path, value) in [("trigger.from", from), ("trigger.to", to)] {
        if let Some(v) = value.as_ref().filter(|v| !def.options.contains(v)) {
            errors.push(FieldError::new(path, format!("`{v}` is not an option of `{field}`")));
        }
    }
    if let (Some(l), Some(from), Some(to)) = (&def.lifecycle, from, to)
        && def.options.contains(from)
        && !l.transitions.iter().any(|t| &t.from == from && &t.to == to)
    {
        errors.push(FieldError::new(
            "trigger.to",
            format!("the lifecycle of `{field}` has no move `{from}` → `{to}`"),
        ));
    }
}

/// The update `event` moved `field` to another value, from `from` and to `to` when given.
fn moved(entity: &EntityDef, event: &ChangeEvent, field: &str, from: Option<&str>, to: Option<&str>) -> bool {
    let Some(def) = entity.field_by_graphql(field).or_else(|| entity.field_by_key(field)) else {
        return false;
    };
    let key = def.key.as_str();
    let before = event.previous.as_ref().and_then(|p| p.get(key)).and_then(Value::as_str);
    let after = event.record.data.get(key).and_then(Value::as_str);
    before != after && from.is_none_or(|f| before == Some(f)) && to.is_none_or(|t| after == Some(t))
}

static TEMPLATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}").expect("static regex"));

/// The `{{…}}` paths a template uses.
pub fn template_paths(template: &str) -> Vec<String> {
    TEMPLATE.captures_iter(template).map(|c| c[1].to_owned()).collect()
}

/// Replaces every `{{path}}` with `lookup(path)` (empty when unknown).
pub fn render(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    TEMPLATE.replace_all(template, |c: &regex::Captures<'_>| lookup(&c[1]).unwrap_or_default()).into_owned()
}

/// A value as template text.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// The value of a field path of a record (`full_name` or `fullName`; system fields too).
pub fn field_text(entity: &EntityDef, r: &Record, name: &str) -> Option<String> {
    match name {
        "id" => Some(r.id.clone()),
        "recordNumber" => r.record_number.clone(),
        "owner" => r.owner_id.clone(),
        "createdBy" => r.created_by.clone(),
        _ => {
            let f = entity.field_by_graphql(name).or_else(|| entity.field_by_key(name))?;
            Some(r.data.get(f.key.as_str()).map(text_of).unwrap_or_default())
        }
    }
}

/// The relation field `name` of `entity`, when it is one.
pub fn relation_target(entity: &EntityDef, name: &str) -> Option<(String, String)> {
    let f = entity.field_by_graphql(name).or_else(|| entity.field_by_key(name))?;
    (f.ty == FieldType::Relation)
        .then(|| (f.key.to_string(), f.related_entity_id.clone().unwrap_or_default()))
}

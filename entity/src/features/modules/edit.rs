//! Changing modules after they are made: `updateModule` (texts and members, the switch flags
//! recomputed when members change), `deleteModule` (a custom module whose removal switches
//! nothing — its members and their data stay), `upgradeTemplate`'s merge of a newer template's
//! modules (new modules added; new members and template-only relabels merged into the existing
//! ones; every switch state kept), and which switched-off modules hold a member (the refusals
//! of work on it).

use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Members, Module, ModuleInput, by_key, define_for_template, recompute, rows};
use crate::models::{dashboard, entity_def, module, workflow};
use crate::runtime::audit::{self, Actor};
use crate::runtime::signals;
use crate::runtime::time;
use crate::{Dialect, Error, Result};

/// `updateModule`'s input: each member given replaces the stored one (an empty description
/// removes it).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleUpdate {
    pub label: Option<String>,
    pub labels: Option<Value>,
    pub description: Option<String>,
    pub entities: Option<Vec<String>>,
    pub workflows: Option<Vec<String>>,
    pub dashboards: Option<Vec<String>>,
}

impl ModuleUpdate {
    fn moves_members(&self) -> bool {
        self.entities.is_some() || self.workflows.is_some() || self.dashboards.is_some()
    }
}

/// Writes a module's texts and member ids.
async fn write(
    conn: &impl ConnectionTrait,
    row: module::Model,
    input: &ModuleInput,
    [entities, workflows, dashboards]: [Vec<String>; 3],
) -> Result<()> {
    let mut am: module::ActiveModel = row.into();
    am.label = Set(input.label.trim().to_owned());
    am.labels = Set(input.labels.clone().filter(|v| !v.is_null()));
    am.description = Set(super::description(input));
    am.entities = Set(json!(entities));
    am.workflows = Set(json!(workflows));
    am.dashboards = Set(json!(dashboards));
    am.updated_at = Set(time::now());
    module::Entity::update(am).exec(conn).await?;
    Ok(())
}

/// `updateModule`: new texts and members for module `key`, audited, in the caller's
/// transaction. When members change, the metadata version is bumped first and the switch flags
/// recomputed (an entity joining a module that is off leaves the schema).
pub async fn update(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    key: &str,
    change: &ModuleUpdate,
) -> Result<Module> {
    if change.moves_members() {
        signals::metadata_changed(conn, d, tenant_id).await?;
    }
    let row = by_key(conn, tenant_id, key).await?;
    let members = Members::load(conn, tenant_id).await?;
    let now = members.show(row.clone())?;
    let input = ModuleInput {
        key: row.key.clone(),
        label: change.label.clone().unwrap_or_else(|| now.label.clone()),
        labels: change.labels.clone().or_else(|| now.labels.clone()),
        description: change.description.clone().or_else(|| now.description.clone()),
        entities: change.entities.clone().unwrap_or_else(|| now.entities.clone()),
        workflows: change.workflows.clone().unwrap_or_else(|| now.workflows.clone()),
        dashboards: change.dashboards.clone().unwrap_or_else(|| now.dashboards.clone()),
    };
    let ids = members.resolve(&input, false)?;
    write(conn, row, &input, ids).await?;
    if change.moves_members() {
        recompute(conn, tenant_id).await?;
    }
    let module = members.show(by_key(conn, tenant_id, key).await?)?;
    let changes = json!({"key": key, "old": {"label": now.label, "entities": now.entities,
        "workflows": now.workflows, "dashboards": now.dashboards},
        "new": {"label": module.label, "entities": module.entities, "workflows": module.workflows,
        "dashboards": module.dashboards}});
    let entry =
        audit::Entry { action: "module.update", object_type: "module", object_id: Some(&module.id), changes };
    audit::append(conn, d, tenant_id, actor, &entry).await?;
    Ok(module)
}

/// The ids of every switched-off entity, workflow and dashboard of the tenant, sorted.
async fn switched_off(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<[Vec<String>; 3]> {
    let entities: Vec<String> = entity_def::Entity::find()
        .select_only()
        .column(entity_def::Column::Id)
        .filter(entity_def::Column::TenantId.eq(tenant_id))
        .filter(entity_def::Column::SwitchedOff.eq(true))
        .order_by_asc(entity_def::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    let workflows: Vec<String> = workflow::Entity::find()
        .select_only()
        .column(workflow::Column::Id)
        .filter(workflow::Column::TenantId.eq(tenant_id))
        .filter(workflow::Column::SwitchedOff.eq(true))
        .order_by_asc(workflow::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    let dashboards: Vec<String> = dashboard::Entity::find()
        .select_only()
        .column(dashboard::Column::Id)
        .filter(dashboard::Column::TenantId.eq(tenant_id))
        .filter(dashboard::Column::SwitchedOff.eq(true))
        .order_by_asc(dashboard::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    Ok([entities, workflows, dashboards])
}

/// `deleteModule`: removes module `key`, audited, in the caller's transaction. Only a custom
/// module (not a template's: switch that off instead) whose removal switches nothing on or off
/// — so a module that is off (its members would come back) or whose members another module
/// that is off also holds (they would go) is refused with `CONFLICT`, and the caller's
/// transaction, which the error rolls back, leaves it as it was. Members and data stay.
pub async fn delete(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    key: &str,
) -> Result<()> {
    let row = by_key(conn, tenant_id, key).await?;
    if let Some(template) = &row.template {
        return Err(Error::Conflict(format!(
            "module `{key}` came with the template `{template}`: switch it off instead of deleting it"
        )));
    }
    let before = switched_off(conn, tenant_id).await?;
    module::Entity::delete_by_id(row.id.clone()).exec(conn).await?;
    recompute(conn, tenant_id).await?;
    if switched_off(conn, tenant_id).await? != before {
        let why = if row.enabled {
            "another module that is off holds some of its members, which would leave the API"
        } else {
            "it is off: its members would come back; switch it on first"
        };
        return Err(Error::Conflict(format!("module `{key}` is in use: {why}")));
    }
    let changes = json!({"key": key, "label": row.label});
    let entry =
        audit::Entry { action: "module.delete", object_type: "module", object_id: Some(&row.id), changes };
    audit::append(conn, d, tenant_id, actor, &entry).await
}

/// The keys of the tenant's switched-off modules holding the entity or workflow `id`, for a
/// refusal that names them.
pub async fn off_modules_holding(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    kind: Member,
    id: &str,
) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    for m in rows(conn, tenant_id).await?.into_iter().filter(|m| !m.enabled) {
        let list = match kind {
            Member::Entity => &m.entities,
            Member::Workflow => &m.workflows,
        };
        let ids: Vec<String> = serde_json::from_value(list.clone())?;
        if ids.iter().any(|x| x == id) {
            keys.push(m.key);
        }
    }
    Ok(keys)
}

/// What kind of member [`off_modules_holding`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    Entity,
    Workflow,
}

/// A module's part of `upgradeTemplate`'s plan.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateModule {
    /// A module new in this version: created (on).
    Create(ModuleInput),
    /// An existing module of the template: the members (by name) this version adds, and its
    /// new label and translations when only the template changed them.
    Merge { key: String, added: ModuleInput, relabel: bool },
}

/// One line of `upgradeTemplate`'s plan for a module, with the operation that makes it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedModule {
    pub key: String,
    /// ADD or UPDATE.
    pub action: &'static str,
    pub detail: String,
    pub op: TemplateModule,
}

/// What a newer template does to modules: the lines of the plan,
/// and conflicts as (key, detail) — `base` the modules as applied, `new` this version's,
/// `tenant` the tenant's now.
pub fn plan_template(
    base: &[ModuleInput],
    new: &[ModuleInput],
    tenant: &[Module],
) -> (Vec<PlannedModule>, Vec<(String, String)>) {
    let (mut changes, mut conflicts) = (Vec::new(), Vec::new());
    let fresh = |now: &[String], was: &[String]| -> Vec<String> {
        now.iter().filter(|n| !was.contains(n)).cloned().collect()
    };
    for m in new {
        let mine = tenant.iter().find(|x| x.key == m.key);
        match (base.iter().find(|x| x.key == m.key), mine) {
            (None, None) => changes.push(PlannedModule {
                key: m.key.clone(),
                action: "ADD",
                detail: "new in this version".into(),
                op: TemplateModule::Create(m.clone()),
            }),
            (None, Some(_)) => {
                conflicts.push((m.key.clone(), "the tenant has its own module with this key".into()))
            }
            // The tenant deleted it: not brought back.
            (Some(_), None) => {}
            (Some(b), Some(x)) => {
                let texts_changed = b.label != m.label || b.labels != m.labels;
                let tenant_kept = x.label == b.label && x.labels == b.labels.clone().filter(|v| !v.is_null());
                if texts_changed && !tenant_kept {
                    conflicts.push((m.key.clone(), "label changed by both".into()));
                }
                let added = ModuleInput {
                    key: m.key.clone(),
                    label: m.label.clone(),
                    labels: m.labels.clone(),
                    description: m.description.clone(),
                    entities: fresh(&m.entities, &b.entities),
                    workflows: fresh(&m.workflows, &b.workflows),
                    dashboards: fresh(&m.dashboards, &b.dashboards),
                };
                let relabel = texts_changed && tenant_kept;
                let grows =
                    !(added.entities.is_empty() && added.workflows.is_empty() && added.dashboards.is_empty());
                if grows || relabel {
                    let detail = format!(
                        "merged: {} new member(s){}; switch state kept",
                        added.entities.len() + added.workflows.len() + added.dashboards.len(),
                        if relabel { ", new label" } else { "" }
                    );
                    changes.push(PlannedModule {
                        key: m.key.clone(),
                        action: "UPDATE",
                        detail,
                        op: TemplateModule::Merge { key: m.key.clone(), added, relabel },
                    });
                }
            }
        }
    }
    (changes, conflicts)
}

/// Writes `ops` of template `slug` (after its entities, workflows and dashboards exist), then
/// bumps the metadata version and recomputes the switch flags: a member joining a module that
/// is off goes with it, and every module keeps its switch state.
pub async fn apply_template(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    slug: &str,
    ops: &[&TemplateModule],
) -> Result<()> {
    if ops.is_empty() {
        return Ok(());
    }
    signals::metadata_changed(conn, d, tenant_id).await?;
    for op in ops {
        match op {
            TemplateModule::Create(m) => define_for_template(conn, tenant_id, m, slug).await?,
            TemplateModule::Merge { key, added, relabel } => {
                let row = by_key(conn, tenant_id, key).await?;
                let members = Members::load(conn, tenant_id).await?;
                let [entities, workflows, dashboards] = members.resolve(added, true)?;
                let ids = |v: &Value| serde_json::from_value::<Vec<String>>(v.clone());
                let join = |mut all: Vec<String>, more: Vec<String>| {
                    for m in more {
                        if !all.contains(&m) {
                            all.push(m);
                        }
                    }
                    all
                };
                let merged = [
                    join(ids(&row.entities)?, entities),
                    join(ids(&row.workflows)?, workflows),
                    join(ids(&row.dashboards)?, dashboards),
                ];
                let texts = ModuleInput {
                    label: if *relabel { added.label.clone() } else { row.label.clone() },
                    labels: if *relabel { added.labels.clone() } else { row.labels.clone() },
                    description: row.description.clone(),
                    ..added.clone()
                };
                write(conn, row, &texts, merged).await?;
            }
        }
    }
    recompute(conn, tenant_id).await
}

//! Modules per tenant: a module is a named group of the tenant's entities, workflows and
//! dashboards ("CRM", "Inventory", "HR"), brought by a template or defined by an administrator,
//! that an administrator switches off and on again without losing data.
//!
//! What a switch means is kept where each part is read: a `switched_off` flag on the entity's
//! definition (the engine leaves it out of the API: `TenantMeta::switched_on`), on the workflow
//! (the runner and the sweeps skip it) and on the dashboard (not shown). The flags are
//! recomputed from every module of the tenant in the switch's transaction, with the metadata
//! version bumped first (the change reaches every instance as a definition change does) and an
//! audit entry.
//!
//! A member may be in several modules: it is on while ANY module holding it is on (an entity
//! shared by CRM and Support stays while either is on). A member in no module is always on. A
//! workflow is also off while it is triggered by, or creates records of, an entity that is off:
//! it would reach into what the API no longer shows.
//!
//! A RELATION field of an entity that is on, pointing at one that is off, is hidden with its
//! target (not dropped: the records keep its values).
//!
//! `updateModule` changes a module's texts and members, `deleteModule` removes a custom module
//! whose removal switches nothing (`edit`); `upgradeTemplate` merges a newer template's modules
//! (`edit::plan_template`). A module's label is translated like every label (`labels`:
//! language code → text, shown through `runtime::i18n`). No module operation deletes data.

pub mod edit;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Deserialize;
use serde_json::{Value, json};

use super::workflows as wf;
use crate::models::{dashboard, entity_def, module, workflow};
use crate::runtime::audit::{self, Actor};
use crate::runtime::meta::TenantMeta;
use crate::runtime::{i18n, naming, signals, time};
use crate::{Dialect, Error, FieldError, Result};

/// Longest label.
const MAX_LABEL: usize = 255;

/// A stored module, its members named as the API names them: entities by `nameSingular`,
/// workflows by id, dashboards by key (members deleted since are left out).
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    pub id: String,
    pub key: String,
    pub label: String,
    /// Translations of `label`: language code → text.
    pub labels: Option<Value>,
    pub description: Option<String>,
    pub enabled: bool,
    pub entities: Vec<String>,
    pub workflows: Vec<String>,
    pub dashboards: Vec<String>,
    /// The template that brought it.
    pub template: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A module as `defineModule` takes it, and as a template declares it (entities by
/// `nameSingular`, dashboards by key; workflows by id from the API, by name in a template).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleInput {
    pub key: String,
    pub label: String,
    /// Translations of `label`: language code → text.
    #[serde(default)]
    pub labels: Option<Value>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub entities: Vec<String>,
    #[serde(default)]
    pub workflows: Vec<String>,
    #[serde(default)]
    pub dashboards: Vec<String>,
}

/// The tenant's members a module may name, read once.
pub(crate) struct Members {
    meta: TenantMeta,
    /// (id, name) of every workflow.
    workflows: Vec<(String, String)>,
    /// (id, key) of every dashboard.
    dashboards: Vec<(String, String)>,
}

impl Members {
    pub(crate) async fn load(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Members> {
        let meta = TenantMeta::load(conn, tenant_id).await?;
        let workflows = workflow::Entity::find()
            .filter(workflow::Column::TenantId.eq(tenant_id))
            .all(conn)
            .await?
            .into_iter()
            .map(|w| (w.id, w.name))
            .collect();
        let dashboards = dashboard::Entity::find()
            .filter(dashboard::Column::TenantId.eq(tenant_id))
            .all(conn)
            .await?
            .into_iter()
            .map(|d| (d.id, d.key))
            .collect();
        Ok(Members { meta, workflows, dashboards })
    }

    /// The module as the API names its members.
    pub(crate) fn show(&self, m: module::Model) -> Result<Module> {
        let ids = |v: Value| serde_json::from_value::<Vec<String>>(v);
        let entities = ids(m.entities)?
            .into_iter()
            .filter_map(|id| self.meta.entity_by_id(&id).map(|e| e.name_singular.clone()));
        let workflows =
            ids(m.workflows)?.into_iter().filter(|id| self.workflows.iter().any(|(w, _)| w == id));
        let dashboards = ids(m.dashboards)?
            .into_iter()
            .filter_map(|id| self.dashboards.iter().find(|(d, _)| *d == id).map(|(_, key)| key.clone()));
        Ok(Module {
            id: m.id,
            key: m.key,
            label: m.label,
            labels: m.labels,
            description: m.description,
            enabled: m.enabled,
            entities: entities.collect(),
            workflows: workflows.collect(),
            dashboards: dashboards.collect(),
            template: m.template,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }

    /// The ids `input` names, or one error per name that names nothing. A
    /// template's workflows are named by name (`by_name`), the API's by id.
    pub(crate) fn resolve(&self, input: &ModuleInput, by_name: bool) -> Result<[Vec<String>; 3]> {
        let mut errors = Vec::new();
        if !naming::is_identifier(&input.key) || input.key.len() > 63 {
            errors.push(FieldError::new("key", "must be an identifier of at most 63 characters"));
        }
        let label = input.label.trim();
        if label.is_empty() || label.chars().count() > MAX_LABEL {
            errors.push(FieldError::new("label", format!("must be 1 to {MAX_LABEL} characters")));
        }
        check_texts(&mut errors, input);
        let mut pick = |kind: &str, names: &[String], find: &dyn Fn(&str) -> Option<String>| {
            let mut ids = Vec::new();
            for (i, name) in names.iter().enumerate() {
                match find(name) {
                    Some(id) if !ids.contains(&id) => ids.push(id),
                    Some(_) => {}
                    None => {
                        errors.push(FieldError::new(format!("{kind}[{i}]"), format!("no {kind} `{name}`")))
                    }
                }
            }
            ids
        };
        let entities =
            pick("entities", &input.entities, &|n| self.meta.entity_by_name(n).map(|e| e.id.clone()));
        let workflows = pick("workflows", &input.workflows, &|n| {
            self.workflows
                .iter()
                .find(|(id, name)| if by_name { name == n } else { id == n })
                .map(|(id, _)| id.clone())
        });
        let dashboards = pick("dashboards", &input.dashboards, &|n| {
            self.dashboards.iter().find(|(_, key)| key == n).map(|(id, _)| id.clone())
        });
        if errors.is_empty() { Ok([entities, workflows, dashboards]) } else { Err(Error::Validation(errors)) }
    }
}

/// Longest description.
const MAX_DESCRIPTION: usize = 2000;

/// A module's translations (language tag → 1 to [`MAX_LABEL`] characters) and description.
fn check_texts(errors: &mut Vec<FieldError>, input: &ModuleInput) {
    if let Some(labels) = input.labels.as_ref().filter(|v| !v.is_null()) {
        let ok = labels.as_object().is_some_and(|m| {
            m.iter().all(|(lang, text)| {
                i18n::is_language_tag(lang)
                    && text.as_str().is_some_and(|t| !t.trim().is_empty() && t.chars().count() <= MAX_LABEL)
            })
        });
        if !ok {
            errors.push(FieldError::new(
                "labels",
                format!("must be an object of language code → label of 1 to {MAX_LABEL} characters"),
            ));
        }
    }
    if input.description.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        errors.push(FieldError::new("description", format!("must be at most {MAX_DESCRIPTION} characters")));
    }
}

/// A description as stored: trimmed, an empty one none.
fn description(input: &ModuleInput) -> Option<String> {
    input.description.as_deref().map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned)
}

pub(crate) async fn rows(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Vec<module::Model>> {
    Ok(module::Entity::find()
        .filter(module::Column::TenantId.eq(tenant_id))
        .order_by_asc(module::Column::CreatedAt)
        .order_by_asc(module::Column::Key)
        .all(conn)
        .await?)
}

/// The tenant's modules, oldest first.
pub async fn list(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Vec<Module>> {
    let members = Members::load(conn, tenant_id).await?;
    rows(conn, tenant_id).await?.into_iter().map(|m| members.show(m)).collect()
}

/// Inserts a module, on (`CONFLICT` when its key is taken), inside the caller's transaction. A
/// new module that is on switches nothing off, so no flag changes.
async fn insert(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    input: &ModuleInput,
    [entities, workflows, dashboards]: [Vec<String>; 3],
    template: Option<&str>,
) -> Result<module::Model> {
    if find_key(conn, tenant_id, &input.key).await?.is_some() {
        return Err(Error::Conflict(format!("a module with key `{}` exists", input.key)));
    }
    let now = time::now();
    let row = module::Model {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant_id.to_owned(),
        key: input.key.clone(),
        label: input.label.trim().to_owned(),
        description: description(input),
        labels: input.labels.clone().filter(|v| !v.is_null()),
        enabled: true,
        entities: json!(entities),
        workflows: json!(workflows),
        dashboards: json!(dashboards),
        template: template.map(str::to_owned),
        created_at: now,
        updated_at: now,
    };
    module::Entity::insert(module::ActiveModel::from(row.clone())).exec_without_returning(conn).await?;
    Ok(row)
}

/// `defineModule`: a new module (on), audited, in the caller's transaction.
pub async fn define(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    input: &ModuleInput,
) -> Result<Module> {
    let members = Members::load(conn, tenant_id).await?;
    let ids = members.resolve(input, false)?;
    let row = insert(conn, tenant_id, input, ids, None).await?;
    let module = members.show(row)?;
    let changes = json!({"key": module.key, "label": module.label, "entities": module.entities,
        "workflows": module.workflows, "dashboards": module.dashboards});
    let entry =
        audit::Entry { action: "module.define", object_type: "module", object_id: Some(&module.id), changes };
    audit::append(conn, d, tenant_id, actor, &entry).await?;
    Ok(module)
}

/// Creates a template's module (its workflows named by name) in the template's transaction
/// (which audits the whole template).
pub async fn define_for_template(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    input: &ModuleInput,
    template: &str,
) -> Result<()> {
    let ids = Members::load(conn, tenant_id).await?.resolve(input, true)?;
    insert(conn, tenant_id, input, ids, Some(template)).await.map(drop)
}

/// `enableModule` / `disableModule`: switches the module `key` on or off, recomputes what is
/// switched off and bumps the metadata version, audited, in the caller's transaction. Switching
/// to the state it is in changes nothing but is still answered (and audited).
pub async fn switch(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    key: &str,
    enabled: bool,
) -> Result<Module> {
    // First: the tenant row's update makes the switch wait for writes checked against the
    // definitions before it (as a definition change does), and they retry against the new ones.
    signals::metadata_changed(conn, d, tenant_id).await?;
    let row = by_key(conn, tenant_id, key).await?;
    let was = row.enabled;
    let mut am: module::ActiveModel = row.into();
    am.enabled = Set(enabled);
    am.updated_at = Set(time::now());
    module::Entity::update_many()
        .set(am)
        .filter(module::Column::TenantId.eq(tenant_id))
        .filter(module::Column::Key.eq(key))
        .exec(conn)
        .await?;
    recompute(conn, tenant_id).await?;
    let members = Members::load(conn, tenant_id).await?;
    let module = members.show(by_key(conn, tenant_id, key).await?)?;
    let action = if enabled { "module.enable" } else { "module.disable" };
    let changes = json!({"key": key, "enabled": {"old": was, "new": enabled}});
    let entry = audit::Entry { action, object_type: "module", object_id: Some(&module.id), changes };
    audit::append(conn, d, tenant_id, actor, &entry).await?;
    Ok(module)
}

/// The tenant's module `key` (`NOT_FOUND` when there is none).
pub(crate) async fn by_key(conn: &impl ConnectionTrait, tenant_id: &str, key: &str) -> Result<module::Model> {
    find_key(conn, tenant_id, key).await?.ok_or_else(|| Error::NotFound(format!("module `{key}`")))
}

async fn find_key(conn: &impl ConnectionTrait, tenant_id: &str, key: &str) -> Result<Option<module::Model>> {
    Ok(module::Entity::find()
        .filter(module::Column::TenantId.eq(tenant_id))
        .filter(module::Column::Key.eq(key))
        .one(conn)
        .await?)
}

/// Sets every member's `switched_off` flag from the tenant's modules: off when it is in some
/// module and in no module that is on.
pub(crate) async fn recompute(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<()> {
    let modules = rows(conn, tenant_id).await?;
    let meta = TenantMeta::load(conn, tenant_id).await?;
    let off = |pick: fn(&module::Model) -> &Value| -> Result<Vec<String>> {
        let (mut held, mut on) = (HashSet::new(), HashSet::new());
        for m in &modules {
            let ids: Vec<String> = serde_json::from_value(pick(m).clone())?;
            if m.enabled {
                on.extend(ids.iter().cloned());
            }
            held.extend(ids);
        }
        Ok(held.difference(&on).cloned().collect())
    };
    let entities = off(|m| &m.entities)?;
    entity_def::Entity::update_many()
        .col_expr(entity_def::Column::SwitchedOff, Expr::col(entity_def::Column::Id).is_in(entities.clone()))
        .filter(entity_def::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    // A workflow is also off when it fires on, or creates records of, an entity that is off.
    let entity_off = |id: &str| entities.iter().any(|e| e == id);
    let mut workflows = off(|m| &m.workflows)?;
    for w in wf::list(conn, tenant_id, None).await? {
        let reaches_off = entity_off(&w.entity_id)
            || w.definition
                .created_entities()
                .any(|n| meta.entity_by_name(n).is_some_and(|e| entity_off(&e.id)));
        if reaches_off && !workflows.contains(&w.id) {
            workflows.push(w.id);
        }
    }
    // A time-triggered workflow coming back on starts from now: what fell due while it was
    // off does not all fire at once.
    workflow::Entity::update_many()
        .col_expr(workflow::Column::ScannedThrough, Expr::value(time::now()))
        .filter(workflow::Column::TenantId.eq(tenant_id))
        .filter(workflow::Column::SwitchedOff.eq(true))
        .filter(workflow::Column::Id.is_not_in(workflows.clone()))
        .exec(conn)
        .await?;
    workflow::Entity::update_many()
        .col_expr(workflow::Column::SwitchedOff, Expr::col(workflow::Column::Id).is_in(workflows))
        .filter(workflow::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    let dashboards = off(|m| &m.dashboards)?;
    dashboard::Entity::update_many()
        .col_expr(dashboard::Column::SwitchedOff, Expr::col(dashboard::Column::Id).is_in(dashboards))
        .filter(dashboard::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(())
}

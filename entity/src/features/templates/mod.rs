//! Industry templates: versioned data files in `templates/` (compiled into the binary, parsed
//! and checked when first used — a unit test checks every file at build time), each with
//! entities, roles, workflows, approval policies, dashboards, Daily Focus rules and the modules grouping them. `apply` installs one into a
//! tenant in a single transaction: everything or nothing. `TEMPLATES_DIR` may add files (or
//! newer versions), read on each use; [`upgrade`] merges a newer version into a tenant.

pub mod demo;
pub mod upgrade;

use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::approvals;
use super::dashboards::{self, Dashboard};
use super::modules::{self, ModuleInput};
use super::stock::{self, StockSpec};
use super::users::roles::{self, NewRole};
use super::workflows::{self as wf, Definition, Workflow};
use crate::models::{record, tenant_template};
use crate::runtime::audit::{self, Actor};
use crate::runtime::definitions::Definitions;
use crate::runtime::definitions::input::EntityInput;
use crate::runtime::meta::{EntityDef, TenantMeta};
use crate::runtime::policy::Permissions;
use crate::runtime::time;
use crate::{Db, Error, FieldError, Result};

/// The template files, by slug.
const FILES: &[(&str, &str)] = &[
    ("blank", include_str!("../../../../templates/blank.json")),
    ("corporate-crm", include_str!("../../../../templates/corporate-crm.json")),
    ("hospital", include_str!("../../../../templates/hospital.json")),
    ("real-estate", include_str!("../../../../templates/real-estate.json")),
    ("jewellery", include_str!("../../../../templates/jewellery.json")),
    ("manufacturing", include_str!("../../../../templates/manufacturing.json")),
    ("hr", include_str!("../../../../templates/hr.json")),
    ("projects", include_str!("../../../../templates/projects.json")),
    ("support", include_str!("../../../../templates/support.json")),
];

/// A role a template brings.
#[derive(Debug, Clone, Deserialize)]
pub struct TemplateRole {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub permissions: Value,
}

/// A workflow a template brings.
#[derive(Debug, Clone, Deserialize)]
pub struct TemplateWorkflow {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub definition: Value,
}

impl TemplateWorkflow {
    /// The tenant's new, active workflow made from this one, with a signing secret of its own;
    /// its definition is checked against `meta`.
    pub fn to_workflow(&self, tenant_id: &str, meta: &TenantMeta, now: DateTime<Utc>) -> Result<Workflow> {
        let (mut definition, entity_id) = Definition::parse(&self.definition, meta)?;
        // An inbound webhook of a template gets a secret of its own in each tenant.
        definition.ensure_secret(None);
        Ok(Workflow {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant_id.to_owned(),
            name: self.name.clone(),
            description: self.description.clone(),
            active: true,
            entity_id,
            definition,
            secrets: vec![crate::features::webhooks::new_secret()],
            created_at: now,
            updated_at: now,
        })
    }
}

/// An approval policy a template brings.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplatePolicy {
    pub entity: String,
    pub name: String,
    #[serde(flatten)]
    pub definition: approvals::Definition,
}

impl TemplatePolicy {
    /// The tenant's new, active policy on `entity` made from this one (its definition already
    /// validated by the caller, who names the errors its own way).
    pub fn to_policy(&self, tenant_id: &str, entity: &EntityDef, now: DateTime<Utc>) -> approvals::Policy {
        approvals::Policy {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant_id.to_owned(),
            entity_id: entity.id.clone(),
            name: self.name.clone(),
            definition: self.definition.clone(),
            active: true,
            created_at: now,
            updated_at: now,
        }
    }
}

/// One template.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub slug: String,
    pub version: u32,
    /// Language code → text (`en` always).
    pub name: Map<String, Value>,
    pub description: Map<String, Value>,
    /// The entities, in dependency order (a relation's target comes first).
    pub entities: Vec<EntityInput>,
    pub roles: Vec<TemplateRole>,
    pub workflows: Vec<TemplateWorkflow>,
    #[serde(default)]
    pub approval_policies: Vec<TemplatePolicy>,
    pub dashboards: Vec<dashboards::DashboardSpec>,
    /// Its modules: groups of its entities, workflows (by name) and dashboards (by key) that
    /// an administrator may switch off and on (`features::modules`).
    #[serde(default)]
    pub modules: Vec<ModuleInput>,
    /// Sample records `applyTemplate(…, demoData: true)` adds (`demo`).
    #[serde(default)]
    pub demo: Vec<demo::DemoRecord>,
    /// Which of its entities and fields play the CRM's parts (`moveDeal`, `convertLead`, the
    /// timeline's notes), stored for the tenant it is applied to.
    #[serde(default)]
    pub crm_roles: Option<crate::runtime::crm_roles::CrmRoles>,
    /// Its Daily Focus rules (`features::focus`), each for a role of the template by name
    /// (every role when it names none).
    #[serde(default)]
    pub focus_rules: Vec<crate::features::focus::TemplateRule>,
    /// Stock configurations of its entities (`features::stock`): a movement ledger, bill-of-
    /// materials lines, production orders.
    #[serde(default)]
    pub stock: Vec<StockSpec>,
    /// The file as written (kept as the base of a later upgrade).
    #[serde(skip)]
    pub raw: Value,
}

/// Parses and checks one template file.
fn parse(slug: &str, text: &str) -> std::result::Result<Template, String> {
    let raw: Value = serde_json::from_str(text).map_err(|e| format!("{slug}.json: {e}"))?;
    let mut t: Template = serde_json::from_value(raw.clone()).map_err(|e| format!("{slug}.json: {e}"))?;
    if t.slug != slug {
        return Err(format!("{slug}.json names itself `{}`", t.slug));
    }
    if !t.name.contains_key("en") {
        return Err(format!("{slug}.json has no English name"));
    }
    t.raw = raw;
    Ok(t)
}

static TEMPLATES: LazyLock<std::result::Result<Vec<Template>, String>> =
    LazyLock::new(|| FILES.iter().map(|(slug, text)| parse(slug, text)).collect());

/// The built-in templates, with those of `dir` (`<slug>.json`) added or, for a higher version,
/// replacing a built-in one.
pub fn catalogue(dir: Option<&std::path::Path>) -> Result<Vec<Template>> {
    let mut out: Vec<Template> = all()?.to_vec();
    let Some(dir) = dir else { return Ok(out) };
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(out) };
    let mut files: Vec<_> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    files.sort();
    for path in files {
        let slug = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
        let t = parse(&slug, &text).map_err(Error::Internal)?;
        match out.iter_mut().find(|x| x.slug == t.slug) {
            Some(existing) if existing.version < t.version => *existing = t,
            Some(_) => {}
            None => out.push(t),
        }
    }
    Ok(out)
}

/// Every template (an error names a file that does not parse).
pub fn all() -> Result<&'static [Template]> {
    TEMPLATES.as_deref().map_err(|e| Error::Internal(e.clone()))
}

/// The template with this slug.
pub fn get(slug: &str) -> Result<Option<&'static Template>> {
    Ok(all()?.iter().find(|t| t.slug == slug))
}

/// Whether the tenant holds any live record (a template then needs `allowExistingData`).
async fn has_records(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<bool> {
    let n: Option<i64> = record::Entity::find()
        .select_only()
        .column_as(Expr::col(record::Column::Id).count(), "n")
        .filter(record::Column::DeletedAt.is_null())
        .filter(record::Column::TenantId.eq(tenant_id))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(n.unwrap_or(0) > 0)
}

/// What applying installed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub entities: usize,
    pub roles: usize,
    pub workflows: usize,
    pub approval_policies: usize,
    pub dashboards: usize,
    /// Demo records created (`demo`).
    pub demo_records: usize,
}

/// Installs `t` into the tenant in one transaction, with its demo records when `with_demo`.
/// Refused with `CONFLICT` when the tenant holds records, unless `allow_existing_data`; names
/// the template's parts would take that exist already fail validation (nothing is written
/// then).
pub async fn apply(
    db: &Db,
    tenant_id: &str,
    t: &Template,
    actor: &Actor,
    (allow_existing_data, with_demo): (bool, bool),
) -> Result<Applied> {
    let txn = db.begin_tenant_write(tenant_id).await?;
    let mut applied = apply_in(&txn, db, tenant_id, t, actor, allow_existing_data).await?;
    if with_demo {
        let meta = TenantMeta::load(&txn, tenant_id).await?;
        applied.demo_records = demo::create(&txn, db, &meta, &t.demo, actor).await?;
    }
    txn.commit().await?;
    Ok(applied)
}

/// [`apply`] inside a transaction the caller commits (signup applies its template in the
/// transaction that creates the tenant).
pub async fn apply_in(
    txn: &DatabaseTransaction,
    db: &Db,
    tenant_id: &str,
    t: &Template,
    actor: &Actor,
    allow_existing_data: bool,
) -> Result<Applied> {
    if !allow_existing_data && has_records(txn, tenant_id).await? {
        return Err(Error::Conflict(format!(
            "the tenant already has data; apply `{}` with allowExistingData: true to add it anyway",
            t.slug
        )));
    }
    let defs = Definitions::new(db, tenant_id).by(actor.clone());
    let inputs = &t.entities;
    for (i, input) in inputs.iter().enumerate() {
        defs.define_entity_in(txn, input).await.map_err(|e| prefix(e, &format!("entities[{i}]")))?;
    }
    for (i, s) in t.stock.iter().enumerate() {
        let config = Some(s.config.clone());
        stock::configure_in(txn, db.dialect, tenant_id, actor, &s.entity, config)
            .await
            .map_err(|e| prefix(e, &format!("stock[{i}]")))?;
    }
    let meta = TenantMeta::load(txn, tenant_id).await?;
    for (i, r) in t.roles.iter().enumerate() {
        create_role(txn, tenant_id, &meta, r).await.map_err(|e| prefix(e, &format!("roles[{i}]")))?;
    }
    let now = time::now();
    for (i, w) in t.workflows.iter().enumerate() {
        let wf = w.to_workflow(tenant_id, &meta, now).map_err(|e| prefix(e, &format!("workflows[{i}]")))?;
        wf::save(txn, &wf, true).await?;
    }
    let role_names = approvals::role_names(txn, tenant_id).await?;
    for (i, p) in t.approval_policies.iter().enumerate() {
        let at = format!("approvalPolicies[{i}]");
        let entity = meta.entity_by_name(&p.entity).ok_or_else(|| {
            Error::Validation(vec![FieldError::new(format!("{at}.entity"), "no such entity")])
        })?;
        p.definition.validate(entity, &role_names).map_err(|e| prefix(e, &at))?;
        approvals::save_policy(txn, &p.to_policy(tenant_id, entity, now), true).await?;
    }
    if let Some(roles) = &t.crm_roles {
        crate::features::crm::roles::save(roles, txn, db.dialect, &meta)
            .await
            .map_err(|e| prefix(e, "crmRoles"))?;
    }
    if !t.focus_rules.is_empty() {
        crate::features::focus::save_template_rules(txn, db.dialect, &meta, &t.focus_rules)
            .await
            .map_err(|e| prefix(e, "focusRules"))?;
    }
    for (i, spec) in t.dashboards.iter().enumerate() {
        spec.validate(&meta).map_err(|e| prefix(e, &format!("dashboards[{i}]")))?;
        let board = Dashboard::from_spec(tenant_id, spec, Some(&t.slug), i as i32);
        dashboards::save(txn, &board, true).await?;
    }
    for (i, m) in t.modules.iter().enumerate() {
        let at = format!("modules[{i}]");
        modules::define_for_template(txn, tenant_id, m, &t.slug).await.map_err(|e| prefix(e, &at))?;
    }
    record_applied(txn, tenant_id, t).await?;
    let applied = Applied {
        entities: inputs.len(),
        roles: t.roles.len(),
        workflows: t.workflows.len(),
        approval_policies: t.approval_policies.len(),
        dashboards: t.dashboards.len(),
        demo_records: 0,
    };
    let changes = json!({"slug": t.slug, "version": t.version, "entities": applied.entities,
        "roles": applied.roles, "workflows": applied.workflows, "dashboards": applied.dashboards,
        "modules": t.modules.iter().map(|m| m.key.as_str()).collect::<Vec<_>>()});
    let entry =
        audit::Entry { action: "template.apply", object_type: "template", object_id: Some(&t.slug), changes };
    audit::append(txn, db.dialect, tenant_id, actor, &entry).await?;
    Ok(applied)
}

/// Reports a part's errors under its path in the template (`entities[2].fields[0].key`).
fn prefix(e: Error, at: &str) -> Error {
    match e {
        Error::Validation(errs) => Error::Validation(
            errs.into_iter()
                .map(|f| FieldError::new(format!("template.{at}.{}", f.field), f.message))
                .collect(),
        ),
        other => other,
    }
}

pub(crate) async fn create_role(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    meta: &TenantMeta,
    r: &TemplateRole,
) -> Result<()> {
    let perms = Permissions::parse(&r.permissions, meta)?;
    if roles::name_taken(txn, tenant_id, &r.name, None).await? {
        return Err(Error::Validation(vec![FieldError::new(
            "name",
            format!("a role named `{}` exists", r.name),
        )]));
    }
    let new = NewRole { name: &r.name, description: r.description.clone(), permissions: perms.to_json() };
    roles::insert(txn, tenant_id, new, false, time::now()).await?;
    Ok(())
}

/// Remembers which template (and version) the tenant applied, with the template as it was:
/// the base of a later three-way upgrade.
async fn record_applied(txn: &DatabaseTransaction, tenant_id: &str, t: &Template) -> Result<()> {
    tenant_template::Entity::delete_many()
        .filter(tenant_template::Column::TenantId.eq(tenant_id))
        .filter(tenant_template::Column::Slug.eq(&t.slug))
        .exec(txn)
        .await?;
    let row = tenant_template::ActiveModel {
        tenant_id: Set(tenant_id.to_owned()),
        slug: Set(t.slug.clone()),
        version: Set(i64::from(t.version)),
        snapshot: Set(t.raw.clone()),
        applied_at: Set(time::now()),
    };
    tenant_template::Entity::insert(row).exec_without_returning(txn).await?;
    Ok(())
}

/// The template `slug` as the tenant applied it (the file as it was then), with its version.
pub(crate) async fn applied_one(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    slug: &str,
) -> Result<Option<tenant_template::Model>> {
    Ok(tenant_template::Entity::find()
        .filter(tenant_template::Column::TenantId.eq(tenant_id))
        .filter(tenant_template::Column::Slug.eq(slug))
        .one(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_file_parses_and_names_itself() {
        let all = all().expect("templates parse");
        assert_eq!(all.len(), FILES.len());
        for t in all {
            assert!(t.version >= 1, "{}", t.slug);
            for e in &t.entities {
                for f in e.fields.iter().flatten() {
                    assert!(
                        f.labels.as_ref().is_some_and(|l| l.get("hi").is_some()),
                        "{}.{} lacks a Hindi label",
                        e.name_singular,
                        f.key
                    );
                }
            }
            // Every module names the template's own parts (applying checks it again, against
            // the tenant).
            for m in &t.modules {
                let at = format!("{}: module {}", t.slug, m.key);
                assert!(m.entities.iter().all(|n| t.entities.iter().any(|e| &e.name_singular == n)), "{at}");
                assert!(m.workflows.iter().all(|n| t.workflows.iter().any(|w| &w.name == n)), "{at}");
                assert!(m.dashboards.iter().all(|k| t.dashboards.iter().any(|d| &d.key == k)), "{at}");
            }
        }
        assert!(get("corporate-crm").expect("get").is_some());
        assert!(get("nope").expect("get").is_none());
    }
}

//! `upgradeTemplate`: a newer version of an applied template merged into the tenant with a
//! three-way merge — the template as applied (the base, kept at apply time), the new version,
//! and the tenant as it is now (its own changes). For every entity, field, role, workflow and
//! dashboard: what only the template changed is applied; what only the tenant changed is kept;
//! what both changed differently is a conflict, reported and left as the tenant has it (approval
//! policies are merged the same way, by name; modules gain the members a new version adds and
//! keep their switch state, `features::modules::edit::plan_template`). Nothing
//! is ever deleted (a part the new version drops stays, with its data). A dry run reports the
//! same plan and writes nothing; a real run writes the plan and the new version in one
//! transaction.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseTransaction};
use serde_json::{Value, json};

use super::{Template, TemplatePolicy, TemplateRole, TemplateWorkflow, create_role};
use crate::features::approvals;
use crate::features::dashboards::{self, Dashboard, DashboardSpec};
use crate::features::focus;
use crate::features::modules::{self, edit::TemplateModule};
use crate::features::users::roles;
use crate::features::workflows::{self as wf, Definition, Workflow};
use crate::runtime::audit::{self, Actor};
use crate::runtime::definitions::Definitions;
use crate::runtime::definitions::input::{EntityInput, FieldInput, UpdateFieldInput};
use crate::runtime::lifecycle::Lifecycle;
use crate::runtime::meta::{FieldDef, TenantMeta};
use crate::runtime::policy::Permissions;
use crate::runtime::time;
use crate::{Db, Error, Result};

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// ENTITY, FIELD, ROLE, WORKFLOW, DASHBOARD, APPROVAL_POLICY, MODULE or FOCUS_RULES.
    pub kind: &'static str,
    /// `deal`, `deal.priority`, a role, workflow or dashboard name (FOCUS_RULES: the role's
    /// name, `*` for the rules of every role).
    pub name: String,
    /// ADD or UPDATE (changes); CONFLICT (conflicts).
    pub action: &'static str,
    pub detail: String,
}

/// What an upgrade does (or would do).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub from_version: i64,
    pub to_version: i64,
    pub changes: Vec<Change>,
    pub conflicts: Vec<Change>,
    ops: Vec<Op>,
}

#[derive(Debug, Clone)]
enum Op {
    DefineEntity(Box<EntityInput>),
    AddField(String, Box<FieldInput>),
    UpdateField(String, String, Box<UpdateFieldInput>),
    CreateRole(TemplateRole),
    UpdateRole(String, Value),
    CreateWorkflow(TemplateWorkflow),
    UpdateWorkflow(Box<Workflow>),
    CreateDashboard(DashboardSpec),
    UpdateDashboard(Box<Dashboard>),
    CreatePolicy(Box<TemplatePolicy>),
    UpdatePolicy(Box<approvals::Policy>),
    Module(Box<TemplateModule>),
    /// A role's (by name; `None`: every role's) focus rules replaced by the template's.
    FocusRules(Option<String>, Vec<focus::RuleInput>),
}

/// The compared shape of a field (what a template sets).
fn field_shape(f: &FieldInput) -> Value {
    // A lifecycle as the tenant would store it (lists defaulted), or as given if it is not one.
    let lifecycle = f.lifecycle.clone().filter(|l| !l.is_null()).map(|l| {
        serde_json::from_value::<Lifecycle>(l.clone())
            .ok()
            .and_then(|x| serde_json::to_value(x).ok())
            .unwrap_or(l)
    });
    json!({"label": f.label.trim(), "type": f.ty, "options": f.options.clone().unwrap_or_default(),
           "required": f.required.unwrap_or(false), "indexed": f.indexed.unwrap_or(false),
           "labels": f.labels.clone().unwrap_or(Value::Null), "lifecycle": lifecycle,
           "optionLabels": f.option_labels.clone().unwrap_or(Value::Null)})
}

fn def_shape(f: &FieldDef) -> Value {
    json!({"label": f.label, "type": f.ty.as_str(), "options": f.options, "required": f.required,
           "indexed": f.indexed, "labels": f.labels.clone().unwrap_or(Value::Null), "lifecycle": f.lifecycle,
           "optionLabels": f.option_labels.clone().unwrap_or(Value::Null)})
}

/// A workflow definition as stored (defaults filled in), for comparison.
fn definition_shape(raw: &Value) -> Value {
    serde_json::from_value::<Definition>(raw.clone())
        .ok()
        .and_then(|d| serde_json::to_value(d).ok())
        .unwrap_or(raw.clone())
}

/// Three-way decision for one part: `Some(true)` take the new version, `Some(false)` nothing
/// to do, `None` conflict.
fn merge3(base: &Value, new: &Value, tenant: &Value) -> Option<bool> {
    if base == new || tenant == new {
        Some(false)
    } else if tenant == base {
        Some(true)
    } else {
        None
    }
}

struct Planner<'a> {
    plan: Plan,
    meta: &'a TenantMeta,
}

impl Planner<'_> {
    /// A change the upgrade makes (`ADD`, `UPDATE`) with the operation that makes it.
    fn change(&mut self, kind: &'static str, name: String, action: &'static str, detail: String, op: Op) {
        self.plan.changes.push(Change { kind, name, action, detail });
        self.plan.ops.push(op);
    }

    /// A part the template changed and the tenant did not, updated by `op`.
    fn updated(&mut self, kind: &'static str, name: String, detail: impl Into<String>, op: Op) {
        self.change(kind, name, "UPDATE", detail.into(), op);
    }

    /// A part new in this version of the template, added by `op`.
    fn added(&mut self, kind: &'static str, name: String, op: Op) {
        self.change(kind, name, "ADD", "new in this version".into(), op);
    }

    /// A part the upgrade leaves as it is, for the reason `detail`.
    fn conflict(&mut self, kind: &'static str, name: String, detail: impl Into<String>) {
        self.plan.conflicts.push(Change { kind, name, action: "CONFLICT", detail: detail.into() });
    }

    fn entities(&mut self, base: &Template, new: &Template) -> Result<()> {
        let base_inputs: HashMap<String, EntityInput> =
            base.entities.iter().map(|e| (e.name_singular.clone(), e.clone())).collect();
        for e in new.entities.iter().cloned() {
            let name = e.name_singular.clone();
            let tenant = self.meta.entity_by_name(&name).cloned();
            let Some(b) = base_inputs.get(&name) else {
                match tenant {
                    None => self.added("ENTITY", name, Op::DefineEntity(Box::new(e))),
                    Some(_) => self.conflict("ENTITY", name, "the tenant has its own entity of this name"),
                }
                continue;
            };
            let Some(tenant) = tenant else {
                self.conflict("ENTITY", name, "deleted by the tenant; kept deleted");
                continue;
            };
            let base_fields: HashMap<&str, &FieldInput> =
                b.fields.iter().flatten().map(|f| (f.key.as_str(), f)).collect();
            for f in e.fields.iter().flatten() {
                let path = format!("{name}.{}", f.key);
                let mine = tenant.field_by_key(&f.key);
                match (base_fields.get(f.key.as_str()), mine) {
                    (None, None) => self.change(
                        "FIELD",
                        path,
                        "ADD",
                        format!("new {} field", f.ty),
                        Op::AddField(name.clone(), Box::new(f.clone())),
                    ),
                    (None, Some(m)) if def_shape(m)["type"] == json!(f.ty) => {}
                    (None, Some(_)) => {
                        self.conflict("FIELD", path, "the tenant has a field of this key with another type")
                    }
                    (Some(bf), None) if field_shape(bf) != field_shape(f) => {
                        self.conflict("FIELD", path, "removed by the tenant, changed by the template")
                    }
                    (Some(_), None) => {}
                    (Some(bf), Some(m)) => match merge3(&field_shape(bf), &field_shape(f), &def_shape(m)) {
                        Some(false) => {}
                        Some(true) => {
                            let input = UpdateFieldInput {
                                label: Some(f.label.clone()),
                                required: f.required,
                                indexed: f.indexed,
                                options: f.options.clone(),
                                labels: f.labels.clone(),
                                // Removed when the new version has none.
                                lifecycle: Some(f.lifecycle.clone().unwrap_or(Value::Null)),
                                option_labels: f.option_labels.clone(),
                                ..UpdateFieldInput::default()
                            };
                            let op = Op::UpdateField(name.clone(), f.key.clone(), Box::new(input));
                            self.updated("FIELD", path, "changed by the template", op);
                        }
                        None => self.conflict("FIELD", path, "changed by both the template and the tenant"),
                    },
                }
            }
        }
        Ok(())
    }

    fn roles(&mut self, base: &Template, new: &Template, tenant: &HashMap<String, Value>) {
        let canonical =
            |p: &Value| Permissions::parse(p, self.meta).map(|x| x.to_json()).unwrap_or(p.clone());
        for r in &new.roles {
            let name = r.name.clone();
            let mine = tenant.get(&name);
            match (base.roles.iter().find(|x| x.name == name), mine) {
                (None, None) => self.added("ROLE", name, Op::CreateRole(r.clone())),
                (None, Some(m)) if *m == canonical(&r.permissions) => {}
                (None, Some(_)) => self.conflict("ROLE", name, "the tenant has its own role of this name"),
                (Some(_), None) => self.conflict("ROLE", name, "deleted by the tenant; kept deleted"),
                (Some(b), Some(m)) => match merge3(&canonical(&b.permissions), &canonical(&r.permissions), m)
                {
                    Some(false) => {}
                    Some(true) => self.updated(
                        "ROLE",
                        name.clone(),
                        "permissions changed by the template",
                        Op::UpdateRole(name, r.permissions.clone()),
                    ),
                    None => self.conflict("ROLE", name, "permissions changed by both"),
                },
            }
        }
    }

    fn workflows(&mut self, base: &Template, new: &Template, tenant: &[Workflow]) {
        for w in &new.workflows {
            let mine = tenant.iter().find(|x| x.name == w.name);
            let mine_shape = mine.and_then(|m| serde_json::to_value(&m.definition).ok());
            match (base.workflows.iter().find(|x| x.name == w.name), mine) {
                (None, None) => self.added("WORKFLOW", w.name.clone(), Op::CreateWorkflow(w.clone())),
                (None, Some(_)) => {
                    self.conflict("WORKFLOW", w.name.clone(), "the tenant has its own workflow of this name")
                }
                (Some(_), None) => {}
                (Some(b), Some(m)) => {
                    let (bs, ns) = (definition_shape(&b.definition), definition_shape(&w.definition));
                    match merge3(&bs, &ns, mine_shape.as_ref().unwrap_or(&Value::Null)) {
                        Some(false) => {}
                        Some(true) => match Definition::parse(&w.definition, self.meta) {
                            Ok((definition, entity_id)) => {
                                let updated =
                                    Workflow { definition, entity_id, updated_at: time::now(), ..m.clone() };
                                self.updated(
                                    "WORKFLOW",
                                    w.name.clone(),
                                    "definition changed by the template",
                                    Op::UpdateWorkflow(Box::new(updated)),
                                );
                            }
                            Err(e) => self.conflict(
                                "WORKFLOW",
                                w.name.clone(),
                                format!("the new definition does not fit the tenant: {e}"),
                            ),
                        },
                        None => self.conflict("WORKFLOW", w.name.clone(), "definition changed by both"),
                    }
                }
            }
        }
    }

    fn policies(&mut self, base: &Template, new: &Template, tenant: &[approvals::Policy]) {
        let shape = |d: &approvals::Definition| serde_json::to_value(d).unwrap_or(Value::Null);
        for p in &new.approval_policies {
            let mine = tenant.iter().find(|x| x.name == p.name);
            match (base.approval_policies.iter().find(|x| x.name == p.name), mine) {
                (None, None) => {
                    self.added("APPROVAL_POLICY", p.name.clone(), Op::CreatePolicy(Box::new(p.clone())))
                }
                (None, Some(_)) => self.conflict(
                    "APPROVAL_POLICY",
                    p.name.clone(),
                    "the tenant has its own policy of this name",
                ),
                (Some(_), None) => {}
                (Some(b), Some(m)) => {
                    match merge3(&shape(&b.definition), &shape(&p.definition), &shape(&m.definition)) {
                        Some(false) => {}
                        Some(true) => {
                            let updated = approvals::Policy {
                                definition: p.definition.clone(),
                                updated_at: time::now(),
                                ..m.clone()
                            };
                            self.updated(
                                "APPROVAL_POLICY",
                                p.name.clone(),
                                "stages changed by the template",
                                Op::UpdatePolicy(Box::new(updated)),
                            );
                        }
                        None => self.conflict("APPROVAL_POLICY", p.name.clone(), "changed by both"),
                    }
                }
            }
        }
    }

    fn dashboards(&mut self, base: &Template, new: &Template, tenant: &[Dashboard]) {
        let shape = |s: &DashboardSpec| serde_json::to_value(s).unwrap_or(Value::Null);
        for d in &new.dashboards {
            let mine = tenant.iter().find(|x| x.spec.key == d.key);
            match (base.dashboards.iter().find(|x| x.key == d.key), mine) {
                (None, None) => self.added("DASHBOARD", d.key.clone(), Op::CreateDashboard(d.clone())),
                (None, Some(_)) => self.conflict(
                    "DASHBOARD",
                    d.key.clone(),
                    "the tenant has its own dashboard with this key",
                ),
                (Some(_), None) => {}
                (Some(b), Some(m)) => match merge3(&shape(b), &shape(d), &shape(&m.spec)) {
                    Some(false) => {}
                    Some(true) => {
                        let updated = Dashboard { spec: d.clone(), updated_at: time::now(), ..m.clone() };
                        self.updated(
                            "DASHBOARD",
                            d.key.clone(),
                            "changed by the template",
                            Op::UpdateDashboard(Box::new(updated)),
                        );
                    }
                    None => self.conflict("DASHBOARD", d.key.clone(), "changed by both"),
                },
            }
        }
    }
}

impl Planner<'_> {
    /// Each role's focus rules as one part: the template's new rules for a role replace the
    /// tenant's when the tenant kept the ones applied (`setFocusRules` made them its own
    /// otherwise: a conflict). A role the tenant deleted is left out (its ROLE line says so).
    fn focus_rules(&mut self, base: &Template, new: &Template, tenant_roles: &HashMap<String, String>) {
        let base_groups = focus::by_role(&base.focus_rules);
        let created: Vec<String> = self
            .plan
            .ops
            .iter()
            .filter_map(|op| if let Op::CreateRole(r) = op { Some(r.name.clone()) } else { None })
            .collect();
        let meta = self.meta;
        for group in focus::by_role(&new.focus_rules) {
            let of_role = |id: Option<&str>| {
                focus::stored_shape(meta.focus.iter().filter(|r| r.role_id.as_deref() == id))
            };
            let mine = match &group.role {
                None => of_role(None),
                Some(name) => match tenant_roles.get(name) {
                    Some(id) => of_role(Some(id)),
                    // A role this upgrade creates has no rules yet.
                    None if created.contains(name) => json!([]),
                    None => continue,
                },
            };
            let b = base_groups.iter().find(|g| g.role == group.role).map(|g| &g.rules[..]).unwrap_or(&[]);
            let (b, n) = (focus::inputs_shape(b), focus::inputs_shape(&group.rules));
            let name = group.role.clone().unwrap_or_else(|| "*".into());
            match merge3(&b, &n, &mine) {
                Some(false) => {}
                Some(true) if b == json!([]) => {
                    self.added("FOCUS_RULES", name, Op::FocusRules(group.role, group.rules))
                }
                Some(true) => self.updated(
                    "FOCUS_RULES",
                    name,
                    "changed by the template",
                    Op::FocusRules(group.role, group.rules),
                ),
                None => self.conflict("FOCUS_RULES", name, "customised by the tenant; kept"),
            }
        }
    }
}

/// The base (template as applied) and version recorded for the tenant.
async fn applied_base(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    slug: &str,
) -> Result<Option<(Template, i64)>> {
    let Some(row) = super::applied_one(conn, tenant_id, slug).await? else { return Ok(None) };
    let base: Template = serde_json::from_value(row.snapshot)?;
    Ok(Some((base, row.version)))
}

/// Plans (and unless `dry_run`, applies) the upgrade of `slug` to `new`.
pub async fn upgrade(db: &Db, tenant_id: &str, new: &Template, actor: &Actor, dry_run: bool) -> Result<Plan> {
    let txn = db.begin_tenant_write(tenant_id).await?;
    let (base, from) = applied_base(&txn, tenant_id, &new.slug)
        .await?
        .ok_or_else(|| Error::Conflict(format!("the template `{}` was never applied here", new.slug)))?;
    if i64::from(new.version) <= from {
        return Err(Error::Conflict(format!(
            "version {} is already applied (this server offers {})",
            from, new.version
        )));
    }
    let meta = TenantMeta::load(&txn, tenant_id).await?;
    let tenant_roles = roles::list(&txn, tenant_id).await?;
    let role_ids: HashMap<String, String> =
        tenant_roles.iter().map(|r| (r.name.clone(), r.id.clone())).collect();
    let roles: HashMap<String, Value> = tenant_roles.into_iter().map(|r| (r.name, r.permissions)).collect();
    let workflows = wf::list(&txn, tenant_id, None).await?;
    let boards = dashboards::list(&txn, tenant_id).await?;
    let policies = approvals::policies(&txn, tenant_id, None).await?;
    let mut p = Planner {
        plan: Plan { from_version: from, to_version: i64::from(new.version), ..Plan::default() },
        meta: &meta,
    };
    p.entities(&base, new)?;
    p.roles(&base, new, &roles);
    p.workflows(&base, new, &workflows);
    p.dashboards(&base, new, &boards);
    p.policies(&base, new, &policies);
    p.focus_rules(&base, new, &role_ids);
    let (module_changes, module_conflicts) =
        modules::edit::plan_template(&base.modules, &new.modules, &modules::list(&txn, tenant_id).await?);
    for m in module_changes {
        p.change("MODULE", m.key, m.action, m.detail, Op::Module(Box::new(m.op)));
    }
    for (key, detail) in module_conflicts {
        p.conflict("MODULE", key, detail);
    }
    let plan = p.plan;
    if dry_run {
        txn.rollback().await?;
        return Ok(plan);
    }
    write(&txn, db, tenant_id, new, actor, &plan).await?;
    txn.commit().await?;
    Ok(plan)
}

async fn write(
    txn: &DatabaseTransaction,
    db: &Db,
    tenant_id: &str,
    new: &Template,
    actor: &Actor,
    plan: &Plan,
) -> Result<()> {
    let defs = Definitions::new(db, tenant_id).by(actor.clone());
    for op in &plan.ops {
        match op {
            Op::DefineEntity(e) => defs.define_entity_in(txn, e).await?,
            Op::AddField(e, f) => defs.add_field_in(txn, e, f).await?,
            Op::UpdateField(e, k, f) => defs.update_field_in(txn, e, k, f).await?,
            _ => {}
        }
    }
    // Roles, workflows and dashboards are checked against the entities as they are now.
    let meta = TenantMeta::load(txn, tenant_id).await?;
    let now = time::now();
    for op in &plan.ops {
        match op {
            Op::CreateRole(r) => create_role(txn, tenant_id, &meta, r).await?,
            Op::UpdateRole(name, perms) => {
                let perms = Permissions::parse(perms, &meta)?;
                roles::set_permissions(txn, tenant_id, name, perms.to_json(), now).await?;
            }
            Op::CreateWorkflow(w) => wf::save(txn, &w.to_workflow(tenant_id, &meta, now)?, true).await?,
            Op::UpdateWorkflow(w) => wf::save(txn, w, false).await?,
            Op::CreateDashboard(spec) => {
                spec.validate(&meta)?;
                dashboards::save(txn, &Dashboard::from_spec(tenant_id, spec, Some(&new.slug), 50), true)
                    .await?;
            }
            Op::UpdateDashboard(b) => {
                b.spec.validate(&meta)?;
                dashboards::save(txn, b, false).await?;
            }
            Op::CreatePolicy(p) => {
                let roles = approvals::role_names(txn, tenant_id).await?;
                let entity = meta
                    .entity_by_name(&p.entity)
                    .ok_or_else(|| Error::NotFound(format!("entity `{}`", p.entity)))?;
                p.definition.validate(entity, &roles)?;
                approvals::save_policy(txn, &p.to_policy(tenant_id, entity, now), true).await?;
            }
            Op::UpdatePolicy(p) => {
                let roles = approvals::role_names(txn, tenant_id).await?;
                if let Some(entity) = meta.entity_by_id(&p.entity_id) {
                    p.definition.validate(entity, &roles)?;
                }
                approvals::save_policy(txn, p, false).await?;
            }
            Op::FocusRules(role, rules) => {
                // Looked up now: the role may be one this upgrade created above.
                let role_id = match role {
                    Some(name) => Some(
                        roles::list(txn, tenant_id)
                            .await?
                            .into_iter()
                            .find(|r| &r.name == name)
                            .ok_or_else(|| Error::NotFound(format!("role `{name}`")))?
                            .id,
                    ),
                    None => None,
                };
                focus::save(txn, db.dialect, &meta, role_id.as_deref(), rules).await?;
            }
            _ => {}
        }
    }
    // Modules last: they name the entities, workflows and dashboards written above.
    let module_ops: Vec<&TemplateModule> =
        plan.ops.iter().filter_map(|op| if let Op::Module(m) = op { Some(&**m) } else { None }).collect();
    modules::edit::apply_template(txn, db.dialect, tenant_id, &new.slug, &module_ops).await?;
    super::record_applied(txn, tenant_id, new).await?;
    let summary: Vec<String> =
        plan.changes.iter().map(|c| format!("{} {} {}", c.action, c.kind, c.name)).collect();
    let conflicts: Vec<String> =
        plan.conflicts.iter().map(|c| format!("{} {}: {}", c.kind, c.name, c.detail)).collect();
    let changes = json!({"slug": new.slug, "from": plan.from_version, "to": plan.to_version, "changes": summary, "conflicts": conflicts});
    let entry = audit::Entry {
        action: "template.upgrade",
        object_type: "template",
        object_id: Some(&new.slug),
        changes,
    };
    audit::append(txn, db.dialect, tenant_id, actor, &entry).await
}

//! GraphQL for industry templates: `templates` (every tenant sees the catalogue, in a chosen
//! language), `applyTemplate(slug, allowExistingData)` (administrators; one transaction,
//! refused with `CONFLICT` once the tenant has records unless explicitly allowed) and
//! `upgradeTemplate(slug, dryRun)` (a newer version merged in three ways; the plan with its
//! conflicts is returned, and written only without `dryRun`).

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, Type, TypeRef,
};
use entity::features::templates::upgrade::{self, Change, Plan};
use entity::features::templates::{self, Applied, Template};
use entity::runtime::audit::Actor;
use entity::runtime::naming::{demo, fields as f, types as t};

use crate::error::ApiError;
use crate::schema::args;
use crate::schema::feature::{Declared, Slot};
use crate::schema::values::{s, sync_field};
use crate::schema::{ctx, i18n};
use crate::services::Services;

/// The template `slug` of the catalogue (built-in or from `TEMPLATES_DIR`).
fn find(state: &Services, slug: &str) -> Result<Template, ApiError> {
    templates::catalogue(state.config.templates_dir.as_deref())?
        .into_iter()
        .find(|t| t.slug == slug)
        .ok_or_else(|| ApiError::NotFound(format!("template `{slug}`")))
}

/// What applying and upgrading a template start from alike: an administrator, the template
/// its `slug` argument names, and who acts in which tenant.
struct Chosen<'a> {
    state: &'a Services,
    tenant_id: &'a str,
    actor: Actor,
    slug: String,
    template: Template,
}

fn chosen<'a>(c: &ResolverContext<'a>) -> Result<Chosen<'a>, ApiError> {
    ctx::require_admin(c)?;
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let slug = args::string(c, "slug")?;
    let template = find(state, &slug)?;
    Ok(Chosen { state, tenant_id: &p.tenant_id, actor: ctx::actor(c)?, slug, template })
}

/// A localized text field of a template, in the request's language (`schema::i18n`).
fn localized(name: &str, pick: fn(&Template) -> &serde_json::Map<String, serde_json::Value>) -> Field {
    Field::new(name, TypeRef::named_nn(TypeRef::STRING), move |c| {
        FieldFuture::new(async move {
            let tpl = c.parent_value.try_downcast_ref::<Template>()?;
            Ok(Some(Value::from(i18n::languages(&c).await?.text(pick(tpl)))))
        })
    })
    .argument(i18n::lang_arg())
}

fn names(list: Vec<String>) -> Option<Value> {
    Some(Value::List(list.into_iter().map(Value::from).collect()))
}

pub fn types() -> Vec<Type> {
    let int = || TypeRef::named_nn(TypeRef::INT);
    let strings = || TypeRef::named_nn_list_nn(TypeRef::STRING);
    vec![
        Object::new(t::TEMPLATE)
            .field(sync_field::<Template>("slug", TypeRef::named_nn(TypeRef::STRING), |x| s(&x.slug)))
            .field(sync_field::<Template>("version", int(), |x| Some(Value::from(x.version))))
            .field(localized("name", |x| &x.name))
            .field(localized("description", |x| &x.description))
            .field(sync_field::<Template>("entities", strings(), |x| {
                names(x.entities.iter().map(|e| e.name_singular.clone()).collect())
            }))
            .field(sync_field::<Template>("roles", strings(), |x| {
                names(x.roles.iter().map(|r| r.name.clone()).collect())
            }))
            .field(sync_field::<Template>("workflows", strings(), |x| {
                names(x.workflows.iter().map(|w| w.name.clone()).collect())
            }))
            .field(sync_field::<Template>("dashboards", strings(), |x| {
                names(x.dashboards.iter().map(|d| d.key.clone()).collect())
            }))
            .into(),
        Object::new(t::TEMPLATE_CHANGE)
            .field(sync_field::<Change>("kind", TypeRef::named_nn(TypeRef::STRING), |x| s(x.kind)))
            .field(sync_field::<Change>("name", TypeRef::named_nn(TypeRef::STRING), |x| s(&x.name)))
            .field(sync_field::<Change>("action", TypeRef::named_nn(TypeRef::STRING), |x| s(x.action)))
            .field(sync_field::<Change>("detail", TypeRef::named_nn(TypeRef::STRING), |x| s(&x.detail)))
            .into(),
        Object::new(t::TEMPLATE_UPGRADE)
            .field(sync_field::<(Plan, bool)>("fromVersion", int(), |(p, _)| {
                Some(Value::from(p.from_version))
            }))
            .field(sync_field::<(Plan, bool)>("toVersion", int(), |(p, _)| Some(Value::from(p.to_version))))
            .field(sync_field::<(Plan, bool)>(
                "applied",
                TypeRef::named_nn(TypeRef::BOOLEAN),
                |(_, applied)| Some(Value::from(*applied)),
            ))
            .field(Field::new("changes", TypeRef::named_nn_list_nn(t::TEMPLATE_CHANGE), |c| {
                FieldFuture::new(async move {
                    let (p, _) = c.parent_value.try_downcast_ref::<(Plan, bool)>()?;
                    Ok(Some(FieldValue::list(p.changes.iter().cloned().map(FieldValue::owned_any))))
                })
            }))
            .field(Field::new("conflicts", TypeRef::named_nn_list_nn(t::TEMPLATE_CHANGE), |c| {
                FieldFuture::new(async move {
                    let (p, _) = c.parent_value.try_downcast_ref::<(Plan, bool)>()?;
                    Ok(Some(FieldValue::list(p.conflicts.iter().cloned().map(FieldValue::owned_any))))
                })
            }))
            .into(),
        Object::new(t::TEMPLATE_APPLICATION)
            .field(sync_field::<(String, Applied)>(
                "slug",
                TypeRef::named_nn(TypeRef::STRING),
                |(slug, _)| s(slug),
            ))
            .field(sync_field::<(String, Applied)>("entities", int(), |(_, a)| Some(Value::from(a.entities))))
            .field(sync_field::<(String, Applied)>("roles", int(), |(_, a)| Some(Value::from(a.roles))))
            .field(sync_field::<(String, Applied)>("workflows", int(), |(_, a)| {
                Some(Value::from(a.workflows))
            }))
            .field(sync_field::<(String, Applied)>("approvalPolicies", int(), |(_, a)| {
                Some(Value::from(a.approval_policies))
            }))
            .field(sync_field::<(String, Applied)>("dashboards", int(), |(_, a)| {
                Some(Value::from(a.dashboards))
            }))
            .into(),
    ]
}

pub fn queries() -> Vec<Field> {
    vec![
        Field::new(f::TEMPLATES, TypeRef::named_nn_list_nn(t::TEMPLATE), |c| {
            FieldFuture::new(async move {
                let dir = ctx::state(&c)?.config.templates_dir.clone();
                let all = templates::catalogue(dir.as_deref()).map_err(ApiError::from)?;
                Ok(Some(FieldValue::list(all.into_iter().map(FieldValue::owned_any))))
            })
        })
        .description("The industry templates this server offers (applyTemplate, or signup's `template`)."),
    ]
}

pub fn mutations() -> Vec<Field> {
    vec![
        Field::new(f::APPLY_TEMPLATE, TypeRef::named_nn(t::TEMPLATE_APPLICATION), |c| {
            FieldFuture::new(async move {
                let ch = chosen(&c)?;
                let flags = (args::flag(&c, "allowExistingData")?, args::flag(&c, demo::DEMO_DATA)?);
                let applied = templates::apply(&ch.state.db, ch.tenant_id, &ch.template, &ch.actor, flags)
                    .await
                    .map_err(ApiError::from)?;
                Ok(Some(FieldValue::owned_any((ch.slug, applied))))
            })
        })
        .argument(InputValue::new("slug", TypeRef::named_nn(TypeRef::STRING)))
        .argument(InputValue::new("allowExistingData", TypeRef::named(TypeRef::BOOLEAN)))
        .argument(InputValue::new(demo::DEMO_DATA, TypeRef::named(TypeRef::BOOLEAN)).description(demo::DEMO_DATA_DOC))
        .description("Installs a template (entities, roles, workflows, approval policies, dashboards) in one transaction."),
        Field::new(f::UPGRADE_TEMPLATE, TypeRef::named_nn(t::TEMPLATE_UPGRADE), |c| {
            FieldFuture::new(async move {
                let ch = chosen(&c)?;
                let dry_run = args::flag(&c, "dryRun")?;
                let plan = upgrade::upgrade(&ch.state.db, ch.tenant_id, &ch.template, &ch.actor, dry_run)
                    .await
                    .map_err(ApiError::from)?;
                Ok(Some(FieldValue::owned_any((plan, !dry_run))))
            })
        })
        .argument(InputValue::new("slug", TypeRef::named_nn(TypeRef::STRING)))
        .argument(InputValue::new("dryRun", TypeRef::named(TypeRef::BOOLEAN)))
        .description("Merges the newer version of an applied template: template-only changes are applied, the tenant's own are kept, both-changed parts are conflicts (kept as the tenant has them). `dryRun` only reports."),
    ]
}

/// Industry templates: every role lists them; administrators apply and upgrade.
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Member, |_| queries())],
    mutations: &[(Slot::Admin, |_| mutations())],
    types: |_| types(),
    ..Declared::EMPTY
};

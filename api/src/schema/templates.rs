//! GraphQL for industry templates: `templates` (every tenant sees the catalogue, in a chosen
//! language) and `applyTemplate(slug, allowExistingData)` (administrators; one transaction,
//! refused with `CONFLICT` once the tenant has records unless explicitly allowed).

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, Type, TypeRef,
};
use entity::runtime::naming::{fields as f, types as t};
use entity::runtime::templates::{self, Applied, Template};

use super::ctx;
use super::values::{s, sync_field};
use crate::error::ApiError;

/// A localized text field of a template (`lang` argument, English by default).
fn localized(name: &str, pick: fn(&Template) -> &serde_json::Map<String, serde_json::Value>) -> Field {
    Field::new(name, TypeRef::named_nn(TypeRef::STRING), move |c| {
        FieldFuture::new(async move {
            let tpl = c.parent_value.try_downcast_ref::<&'static Template>()?;
            let lang = lang(&c)?;
            Ok(Some(Value::from(Template::text(pick(tpl), &lang))))
        })
    })
    .argument(InputValue::new("lang", TypeRef::named(TypeRef::STRING)))
}

fn lang(c: &ResolverContext<'_>) -> async_graphql::Result<String> {
    Ok(c.args
        .get("lang")
        .filter(|v| !v.is_null())
        .map(|v| v.string().map(str::to_owned))
        .transpose()?
        .unwrap_or_else(|| "en".into()))
}

fn names(list: Vec<String>) -> Option<Value> {
    Some(Value::List(list.into_iter().map(Value::from).collect()))
}

pub fn types() -> Vec<Type> {
    let int = || TypeRef::named_nn(TypeRef::INT);
    let strings = || TypeRef::named_nn_list_nn(TypeRef::STRING);
    vec![
        Object::new(t::TEMPLATE)
            .field(sync_field::<&'static Template>(
                "slug",
                TypeRef::named_nn(TypeRef::STRING),
                |x| s(&x.slug),
            ))
            .field(sync_field::<&'static Template>("version", int(), |x| Some(Value::from(x.version))))
            .field(localized("name", |x| &x.name))
            .field(localized("description", |x| &x.description))
            .field(sync_field::<&'static Template>("entities", strings(), |x| {
                names(x.entity_inputs().unwrap_or_default().into_iter().map(|e| e.name_singular).collect())
            }))
            .field(sync_field::<&'static Template>("roles", strings(), |x| {
                names(x.roles.iter().map(|r| r.name.clone()).collect())
            }))
            .field(sync_field::<&'static Template>("workflows", strings(), |x| {
                names(x.workflows.iter().map(|w| w.name.clone()).collect())
            }))
            .field(sync_field::<&'static Template>("dashboards", strings(), |x| {
                names(x.dashboards.iter().map(|d| d.key.clone()).collect())
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
        Field::new(f::TEMPLATES, TypeRef::named_nn_list_nn(t::TEMPLATE), |_| {
            FieldFuture::new(async move {
                let all = templates::all().map_err(ApiError::from)?;
                Ok(Some(FieldValue::list(all.iter().map(FieldValue::owned_any))))
            })
        })
        .description("The industry templates this server offers (applyTemplate, or signup's `template`)."),
    ]
}

pub fn mutations() -> Vec<Field> {
    vec![
        Field::new(f::APPLY_TEMPLATE, TypeRef::named_nn(t::TEMPLATE_APPLICATION), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let slug = c.args.try_get("slug")?.string()?.to_owned();
                let allow = c
                    .args
                    .get("allowExistingData")
                    .filter(|v| !v.is_null())
                    .map(|v| v.boolean())
                    .transpose()?
                    .unwrap_or(false);
                let tpl = templates::get(&slug)
                    .map_err(ApiError::from)?
                    .ok_or_else(|| ApiError::NotFound(format!("template `{slug}`")))?;
                let applied = templates::apply(&state.db, &p.tenant_id, tpl, &ctx::actor(&c)?, allow)
                    .await
                    .map_err(ApiError::from)?;
                Ok(Some(FieldValue::owned_any((slug, applied))))
            })
        })
        .argument(InputValue::new("slug", TypeRef::named_nn(TypeRef::STRING)))
        .argument(InputValue::new("allowExistingData", TypeRef::named(TypeRef::BOOLEAN)))
        .description("Installs a template (entities, roles, workflows, approval policies, dashboards) in one transaction."),
    ]
}

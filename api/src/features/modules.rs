//! GraphQL for modules per tenant (administrators): `modules` lists the tenant's modules with
//! whether each is on; `defineModule` groups entities, workflows and dashboards under a key;
//! `enableModule` / `disableModule` switch one (audited, one transaction). A module switched
//! off takes its entities out of the tenant's schema, its workflows out of the runner and its
//! dashboards out of sight, and switching it on brings them back with every record as it was
//! (`entity::features::modules`).

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Type, TypeRef,
};
use entity::features::modules::{self, Module, ModuleInput};
use entity::runtime::naming::{fields as f, types as t};

use crate::error::ApiError;
use crate::schema::args::{self, arg_json};
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot, admin_types};
use crate::schema::values::{s, sync_field, ts};
use crate::services::Txn;

fn strings(items: &[String]) -> Option<Value> {
    Some(Value::List(items.iter().cloned().map(Value::from).collect()))
}

pub fn types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let names = || TypeRef::named_nn_list_nn(TypeRef::STRING);
    vec![
        Object::new(t::MODULE)
            .description("A named group of the tenant's entities, workflows and dashboards, switched on and off as one.")
            .field(sync_field::<Module>("id", TypeRef::named_nn(TypeRef::ID), |m| s(&m.id)))
            .field(sync_field::<Module>("key", string(), |m| s(&m.key)))
            .field(sync_field::<Module>("label", string(), |m| s(&m.label)))
            .field(
                sync_field::<Module>("enabled", TypeRef::named_nn(TypeRef::BOOLEAN), |m| Some(Value::from(m.enabled)))
                    .description("Off: its entities are absent from the schema (records kept), its workflows do not fire, its dashboards are hidden."),
            )
            .field(sync_field::<Module>("entities", names(), |m| strings(&m.entities)).description("Entity names (nameSingular)."))
            .field(
                sync_field::<Module>("workflows", TypeRef::named_nn_list_nn(TypeRef::ID), |m| strings(&m.workflows))
                    .description("Workflow ids."),
            )
            .field(sync_field::<Module>("dashboards", names(), |m| strings(&m.dashboards)).description("Dashboard keys."))
            .field(sync_field::<Module>("template", TypeRef::named(TypeRef::STRING), |m| {
                m.template.as_deref().and_then(s)
            }))
            .field(sync_field::<Module>("createdAt", TypeRef::named_nn(t::DATE_TIME), |m| ts(&m.created_at)))
            .field(sync_field::<Module>("updatedAt", TypeRef::named_nn(t::DATE_TIME), |m| ts(&m.updated_at)))
            .into(),
        InputObject::new(t::MODULE_INPUT)
            .field(InputValue::new("key", string()).description("A snake_case key, unique in the tenant."))
            .field(InputValue::new("label", string()))
            .field(InputValue::new("entities", TypeRef::named_nn_list(TypeRef::STRING)).description("Entity names."))
            .field(InputValue::new("workflows", TypeRef::named_nn_list(TypeRef::ID)).description("Workflow ids."))
            .field(InputValue::new("dashboards", TypeRef::named_nn_list(TypeRef::STRING)).description("Dashboard keys."))
            .into(),
    ]
}

pub fn queries() -> Vec<Field> {
    vec![
        Field::new(f::MODULES, TypeRef::named_nn_list_nn(t::MODULE), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let list = state
                    .in_tenant(&p.tenant_id, Txn::Read, async |txn| modules::list(txn, &p.tenant_id).await)
                    .await?;
                Ok(Some(FieldValue::list(list.into_iter().map(FieldValue::owned_any))))
            })
        })
        .description("The tenant's modules, oldest first, with whether each is on."),
    ]
}

/// `enableModule` / `disableModule`.
fn switch(name: &str, on: bool, description: &str) -> Field {
    Field::new(name, TypeRef::named_nn(t::MODULE), move |c| {
        FieldFuture::new(async move {
            ctx::require_admin(&c)?;
            let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
            let (key, actor, d) = (args::string(&c, "key")?, ctx::actor(&c)?, state.db.dialect);
            let module = state
                .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
                    modules::switch(txn, d, &p.tenant_id, &actor, &key, on).await
                })
                .await?;
            Ok(Some(FieldValue::owned_any(module)))
        })
    })
    .argument(InputValue::new("key", TypeRef::named_nn(TypeRef::STRING)))
    .description(description)
}

pub fn mutations() -> Vec<Field> {
    vec![
        Field::new(f::DEFINE_MODULE, TypeRef::named_nn(t::MODULE), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let mut raw = arg_json(&c, "input")?.unwrap_or_default();
                // An explicit null list is no list.
                if let Some(fields) = raw.as_object_mut() {
                    fields.retain(|_, v| !v.is_null());
                }
                let input: ModuleInput =
                    serde_json::from_value(raw).map_err(|e| ApiError::BadRequest(format!("input: {e}")))?;
                let (actor, d) = (ctx::actor(&c)?, state.db.dialect);
                let module = state
                    .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
                        modules::define(txn, d, &p.tenant_id, &actor, &input).await
                    })
                    .await?;
                Ok(Some(FieldValue::owned_any(module)))
            })
        })
        .argument(InputValue::new("input", TypeRef::named_nn(t::MODULE_INPUT)))
        .description(
            "Groups entities, workflows and dashboards into a module (on); CONFLICT when the key is taken.",
        ),
        switch(
            f::ENABLE_MODULE,
            true,
            "Switches a module on: its entities' types, records and operations are back in the schema at once.",
        ),
        switch(
            f::DISABLE_MODULE,
            false,
            "Switches a module off: its entities vanish from the schema (records kept), its workflows stop firing, its dashboards are hidden. An entity or workflow stays while any other module holding it is on.",
        ),
    ]
}

/// Modules per tenant (administrators).
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Admin, |_| queries())],
    mutations: &[(Slot::Admin, |_| mutations())],
    types: |a| admin_types(a, types),
    ..Declared::EMPTY
};

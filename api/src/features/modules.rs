//! GraphQL for modules per tenant (administrators): `modules` lists the tenant's modules with
//! whether each is on; `defineModule` groups entities, workflows and dashboards under a key;
//! `updateModule` changes its label, translations, description and members; `deleteModule`
//! removes a custom module that switches nothing; `enableModule` / `disableModule` switch one
//! (each audited, one transaction). A module switched off takes its entities out of the
//! tenant's schema, its workflows out of the runner and its dashboards out of sight, and
//! switching it on brings them back with every record as it was (`entity::features::modules`).
//! Work that would still reach into a switched-off module — `runWorkflow`, an inbound webhook,
//! an approval on one of its records — is refused here (`refuse_*`: FORBIDDEN, reason
//! `module_disabled`). A module's label is shown in the request's language (`schema::i18n`).

use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Type, TypeRef,
};
use entity::features::modules::edit::{self, Member, ModuleUpdate};
use entity::features::modules::{self, Module, ModuleInput};
use entity::features::workflows::{self as wf, Workflow};
use entity::runtime::i18n::Languages;
use entity::runtime::meta::EntityDef;
use entity::runtime::naming::{fields as f, types as t};
use sea_orm::ConnectionTrait;

use crate::error::ApiError;
use crate::schema::args::{self, arg_json};
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot, admin_types};
use crate::schema::i18n;
use crate::schema::values::{json, parent, s, sync_field, ts};
use crate::services::Txn;

/// A module shown in a request's languages.
struct ModuleView {
    module: Module,
    langs: Arc<Languages>,
}

/// `modules` as views in the languages of `c`.
async fn views(c: &ResolverContext<'_>, list: Vec<Module>) -> async_graphql::Result<FieldValue<'static>> {
    let langs = i18n::languages(c).await?;
    let views = list.into_iter().map(|module| ModuleView { module, langs: langs.clone() });
    Ok(FieldValue::list(views.map(FieldValue::owned_any)))
}

/// One module as a view in the languages of `c`.
async fn view(c: &ResolverContext<'_>, module: Module) -> async_graphql::Result<FieldValue<'static>> {
    Ok(FieldValue::owned_any(ModuleView { module, langs: i18n::languages(c).await? }))
}

/// The words of a refusal naming the switched-off modules `keys`.
fn off_words(keys: &[String]) -> String {
    match keys {
        [] => "a module it reaches into is switched off".into(),
        keys => format!(
            "it belongs to the switched-off module{} {}",
            if keys.len() > 1 { "s" } else { "" },
            keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// FORBIDDEN (`module_disabled`) when workflow `w` is switched off with its modules (or with
/// the entity it fires on): `runWorkflow` and inbound webhooks would otherwise start it.
pub async fn refuse_off_workflow(conn: &impl ConnectionTrait, w: &Workflow) -> Result<(), ApiError> {
    if !wf::is_switched_off(conn, &w.tenant_id, &w.id).await? {
        return Ok(());
    }
    let mut keys = edit::off_modules_holding(conn, &w.tenant_id, Member::Workflow, &w.id).await?;
    for k in edit::off_modules_holding(conn, &w.tenant_id, Member::Entity, &w.entity_id).await? {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    Err(ApiError::ModuleOff(format!("workflow `{}` is switched off: {}", w.name, off_words(&keys))))
}

/// FORBIDDEN (`module_disabled`) when entity `e` is switched off with its modules: its records
/// take no approval requests or decisions until the module is on again.
pub async fn refuse_off_entity(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    e: &EntityDef,
) -> Result<(), ApiError> {
    if !e.switched_off {
        return Ok(());
    }
    let keys = edit::off_modules_holding(conn, tenant_id, Member::Entity, &e.id).await?;
    Err(ApiError::ModuleOff(format!("{} are switched off: {}", e.label_plural, off_words(&keys))))
}

fn strings(items: &[String]) -> Option<Value> {
    Some(Value::List(items.iter().cloned().map(Value::from).collect()))
}

pub fn types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let names = || TypeRef::named_nn_list_nn(TypeRef::STRING);
    vec![
        Object::new(t::MODULE)
            .description("A named group of the tenant's entities, workflows and dashboards, switched on and off as one.")
            .field(sync_field::<ModuleView>("id", TypeRef::named_nn(TypeRef::ID), |m| s(&m.module.id)))
            .field(sync_field::<ModuleView>("key", string(), |m| s(&m.module.key)))
            .field(
                Field::new("label", string(), |c| {
                    FieldFuture::new(async move {
                        let m = parent::<ModuleView>(&c)?;
                        let langs = i18n::own_or(&c, &m.langs).await?;
                        Ok(Some(Value::from(langs.label(&m.module.label, m.module.labels.as_ref()))))
                    })
                })
                .argument(i18n::lang_arg())
                .description("The label in the request's language (its base text when it has no translation)."),
            )
            .field(
                sync_field::<ModuleView>("labels", TypeRef::named(t::JSON), |m| m.module.labels.as_ref().and_then(json))
                    .description("Its translations: language code → label."),
            )
            .field(sync_field::<ModuleView>("description", TypeRef::named(TypeRef::STRING), |m| {
                m.module.description.as_deref().and_then(s)
            }))
            .field(
                sync_field::<ModuleView>("enabled", TypeRef::named_nn(TypeRef::BOOLEAN), |m| Some(Value::from(m.module.enabled)))
                    .description("Off: its entities are absent from the schema (records kept), its workflows do not fire, its dashboards are hidden."),
            )
            .field(sync_field::<ModuleView>("entities", names(), |m| strings(&m.module.entities)).description("Entity names (nameSingular)."))
            .field(
                sync_field::<ModuleView>("workflows", TypeRef::named_nn_list_nn(TypeRef::ID), |m| strings(&m.module.workflows))
                    .description("Workflow ids."),
            )
            .field(sync_field::<ModuleView>("dashboards", names(), |m| strings(&m.module.dashboards)).description("Dashboard keys."))
            .field(sync_field::<ModuleView>("template", TypeRef::named(TypeRef::STRING), |m| {
                m.module.template.as_deref().and_then(s)
            }))
            .field(sync_field::<ModuleView>("createdAt", TypeRef::named_nn(t::DATE_TIME), |m| ts(&m.module.created_at)))
            .field(sync_field::<ModuleView>("updatedAt", TypeRef::named_nn(t::DATE_TIME), |m| ts(&m.module.updated_at)))
            .into(),
        InputObject::new(t::MODULE_INPUT)
            .field(InputValue::new("key", string()).description("A snake_case key, unique in the tenant."))
            .field(InputValue::new("label", string()))
            .field(InputValue::new("labels", TypeRef::named(t::JSON)).description("Translations of the label: language code → label."))
            .field(InputValue::new("description", TypeRef::named(TypeRef::STRING)))
            .field(InputValue::new("entities", TypeRef::named_nn_list(TypeRef::STRING)).description("Entity names."))
            .field(InputValue::new("workflows", TypeRef::named_nn_list(TypeRef::ID)).description("Workflow ids."))
            .field(InputValue::new("dashboards", TypeRef::named_nn_list(TypeRef::STRING)).description("Dashboard keys."))
            .into(),
        InputObject::new(t::UPDATE_MODULE_INPUT)
            .description("What to change of a module; a member left out stays as it is, a list given replaces the stored one.")
            .field(InputValue::new("label", TypeRef::named(TypeRef::STRING)))
            .field(InputValue::new("labels", TypeRef::named(t::JSON)).description("Translations of the label: language code → label."))
            .field(InputValue::new("description", TypeRef::named(TypeRef::STRING)).description("An empty text removes it."))
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
                Ok(Some(views(&c, list).await?))
            })
        })
        .argument(i18n::lang_arg())
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
            Ok(Some(view(&c, module).await?))
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
                let input: ModuleInput = input(&c)?;
                let (actor, d) = (ctx::actor(&c)?, state.db.dialect);
                let module = state
                    .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
                        modules::define(txn, d, &p.tenant_id, &actor, &input).await
                    })
                    .await?;
                Ok(Some(view(&c, module).await?))
            })
        })
        .argument(InputValue::new("input", TypeRef::named_nn(t::MODULE_INPUT)))
        .description(
            "Groups entities, workflows and dashboards into a module (on); CONFLICT when the key is taken.",
        ),
        Field::new(f::UPDATE_MODULE, TypeRef::named_nn(t::MODULE), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let (key, change): (String, ModuleUpdate) = (args::string(&c, "key")?, input(&c)?);
                let (actor, d) = (ctx::actor(&c)?, state.db.dialect);
                let module = state
                    .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
                        edit::update(txn, d, &p.tenant_id, &actor, &key, &change).await
                    })
                    .await?;
                Ok(Some(view(&c, module).await?))
            })
        })
        .argument(InputValue::new("key", TypeRef::named_nn(TypeRef::STRING)))
        .argument(InputValue::new("input", TypeRef::named_nn(t::UPDATE_MODULE_INPUT)))
        .description(
            "Changes a module's label, translations, description or members; new members follow its switch at once.",
        ),
        Field::new(f::DELETE_MODULE, TypeRef::named_nn(TypeRef::BOOLEAN), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let (key, actor, d) = (args::string(&c, "key")?, ctx::actor(&c)?, state.db.dialect);
                state
                    .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
                        edit::delete(txn, d, &p.tenant_id, &actor, &key).await
                    })
                    .await?;
                Ok(Some(Value::from(true)))
            })
        })
        .argument(InputValue::new("key", TypeRef::named_nn(TypeRef::STRING)))
        .description(
            "Deletes a custom module whose removal switches nothing on or off (CONFLICT otherwise, and for a \
             template's module). Its entities, workflows, dashboards and records stay.",
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

/// The `input` argument as `T`, an explicit null member being no member.
fn input<T: serde::de::DeserializeOwned>(c: &ResolverContext<'_>) -> Result<T, ApiError> {
    let mut raw = arg_json(c, "input")?.unwrap_or_default();
    if let Some(fields) = raw.as_object_mut() {
        fields.retain(|_, v| !v.is_null());
    }
    serde_json::from_value(raw).map_err(|e| ApiError::BadRequest(format!("input: {e}")))
}

/// Modules per tenant (administrators).
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Admin, |_| queries())],
    mutations: &[(Slot::Admin, |_| mutations())],
    types: |a| admin_types(a, types),
    ..Declared::EMPTY
};

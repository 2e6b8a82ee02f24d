//! GraphQL for dashboards: `dashboards` and `dashboard(id)` (the ones the caller's role may
//! see; administrators see all), `createDashboard` / `updateDashboard` / `deleteDashboard`
//! (administrators), whose widgets are given as JSON or typed (`widgets`).
//! `widgets { data }` computes each widget on the server in the same request, under the
//! caller's row rules and in the tenant's time zone; a widget over an entity the caller may
//! not read has `data: null`. `dashboardChanged(id)` pushes a dashboard again when records under
//! its widgets change (`live`).

use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Type, TypeRef,
};
use entity::features::dashboards::{self, Dashboard, DashboardSpec, Scope, Widget};
use entity::features::templates::Template;
use entity::runtime::audit;
use entity::runtime::meta::TenantMeta;
use entity::runtime::naming::{fields as f, types as t};
use entity::runtime::policy::Action;

use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::schema::args::{self, arg_json};
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot};
use crate::schema::typed;
use crate::schema::values::{json, parent, s, sync_field, ts};
use crate::services::{Services, Txn};

pub mod live;
pub mod widgets;

/// What every widget of one dashboard is computed with, loaded once per dashboard: the
/// tenant's entities, its time zone and one "now" for all periods.
struct Env {
    meta: TenantMeta,
    tz: chrono_tz::Tz,
    now: chrono::DateTime<chrono::Utc>,
}

/// One widget with its place.
#[derive(Clone)]
struct WidgetView {
    index: usize,
    widget: Widget,
    env: Arc<Env>,
}

fn lang_arg() -> InputValue {
    InputValue::new("lang", TypeRef::named(TypeRef::STRING))
}

pub fn types(admin: bool) -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let mut types: Vec<Type> = vec![
        Object::new(t::DASHBOARD)
            .field(sync_field::<Arc<Dashboard>>("id", TypeRef::named_nn(TypeRef::ID), |b| s(&b.id)))
            .field(sync_field::<Arc<Dashboard>>("key", string(), |b| s(&b.spec.key)))
            .field(
                Field::new("name", string(), |c| {
                    FieldFuture::new(async move {
                        let b = parent::<Arc<Dashboard>>(&c)?;
                        Ok(Some(Value::from(Template::text(&b.spec.name, &ctx::lang(&c)?))))
                    })
                })
                .argument(lang_arg()),
            )
            .field(sync_field::<Arc<Dashboard>>("roles", TypeRef::named_nn_list_nn(TypeRef::STRING), |b| {
                Some(Value::List(b.spec.roles.iter().cloned().map(Value::from).collect()))
            }))
            .field(sync_field::<Arc<Dashboard>>("template", TypeRef::named(TypeRef::STRING), |b| {
                b.template.as_deref().and_then(s)
            }))
            .field(sync_field::<Arc<Dashboard>>("updatedAt", TypeRef::named_nn(t::DATE_TIME), |b| {
                ts(&b.updated_at)
            }))
            .field(Field::new("widgets", TypeRef::named_nn_list_nn(t::DASHBOARD_WIDGET), |c| {
                FieldFuture::new(async move {
                    let b = parent::<Arc<Dashboard>>(&c)?;
                    let state = ctx::state(&c)?;
                    let meta = TenantMeta::load_for(&state.db, &ctx::principal(&c)?.tenant_id)
                        .await
                        .map_err(ApiError::from)?;
                    let env = Arc::new(Env {
                        meta,
                        tz: ctx::tenant_zone(&c).await?,
                        now: entity::runtime::time::now(),
                    });
                    let views =
                        b.spec.widgets.iter().cloned().enumerate().map(|(index, widget)| WidgetView {
                            index,
                            widget,
                            env: env.clone(),
                        });
                    Ok(Some(FieldValue::list(views.map(FieldValue::owned_any))))
                })
            }))
            .into(),
        Object::new(t::DASHBOARD_WIDGET)
            .field(sync_field::<WidgetView>("index", TypeRef::named_nn(TypeRef::INT), |w| {
                Some(Value::from(w.index))
            }))
            .field(sync_field::<WidgetView>("type", string(), |w| s(w.widget.kind())))
            .field(sync_field::<WidgetView>("entity", string(), |w| s(w.widget.entity())))
            .field(
                Field::new("title", string(), |c| {
                    FieldFuture::new(async move {
                        let w = parent::<WidgetView>(&c)?;
                        Ok(Some(Value::from(Template::text(w.widget.title(), &ctx::lang(&c)?))))
                    })
                })
                .argument(lang_arg()),
            )
            .field(
                sync_field::<WidgetView>("config", TypeRef::named_nn(t::JSON), |w| {
                    serde_json::to_value(&w.widget).ok().as_ref().and_then(json)
                })
                .description(widgets::CONFIG_DOC),
            )
            .field(
                Field::new("data", TypeRef::named(t::JSON), |c| {
                    FieldFuture::new(async move {
                        let w = parent::<WidgetView>(&c)?;
                        Ok(widget_data(&c, w).await?.as_ref().and_then(json))
                    })
                })
                .description(widgets::DATA_DOC),
            )
            .into(),
    ];
    if admin {
        let [name, widgets, widget_list] = widgets::input_fields();
        types.push(
            InputObject::new(t::DASHBOARD_INPUT)
                .field(
                    InputValue::new("key", string()).description("A snake_case key, unique in the tenant."),
                )
                .field(name)
                .field(
                    InputValue::new("roles", TypeRef::named_nn_list(TypeRef::STRING))
                        .description("The names of the roles that see it (none: everyone)."),
                )
                .field(widgets)
                .field(widget_list)
                .into(),
        );
        types.extend(widgets::types());
    }
    types
}

/// A widget's data for the caller, or `None` when its role may not read the entity.
async fn widget_data(c: &ResolverContext<'_>, w: &WidgetView) -> Result<Option<serde_json::Value>, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let Some(e) = w.env.meta.entity_by_name(w.widget.entity()).cloned() else { return Ok(None) };
    if !p.permissions.can(&e, Action::Read) {
        return Ok(None);
    }
    let row = ctx::row_filter(c, &e)?;
    let env = &w.env;
    let scope = Scope { db: &state.db, tenant_id: &p.tenant_id, meta: &env.meta, tz: env.tz, now: env.now };
    Ok(Some(scope.data(&w.widget, row.as_ref()).await?))
}

async fn visible(c: &ResolverContext<'_>) -> Result<Vec<Dashboard>, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let all = state
        .in_tenant(&p.tenant_id, Txn::Read, async |txn| dashboards::list(txn, &p.tenant_id).await)
        .await?;
    Ok(all.into_iter().filter(|b| b.visible_to(&p.role, p.permissions.admin)).collect())
}

/// Dashboard `id` if `p` may see it (`dashboard`, `dashboardChanged`).
async fn visible_board(state: &Services, p: &Principal, id: &str) -> Result<Option<Dashboard>, ApiError> {
    let found = state
        .in_tenant(&p.tenant_id, Txn::Read, async |txn| dashboards::get(txn, &p.tenant_id, id).await)
        .await?;
    Ok(found.filter(|b| b.visible_to(&p.role, p.permissions.admin)))
}

pub fn queries() -> Vec<Field> {
    vec![
        Field::new(f::DASHBOARDS, TypeRef::named_nn_list_nn(t::DASHBOARD), |c| {
            FieldFuture::new(async move {
                let list = visible(&c).await?;
                Ok(Some(FieldValue::list(list.into_iter().map(|b| FieldValue::owned_any(Arc::new(b))))))
            })
        })
        .description("The dashboards your role may see (administrators: all)."),
        Field::new(f::DASHBOARD, TypeRef::named(t::DASHBOARD), |c| {
            FieldFuture::new(async move {
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let found = visible_board(state, p, &args::string(&c, "id")?).await?;
                Ok(found.map(|b| FieldValue::owned_any(Arc::new(b))))
            })
        })
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID))),
    ]
}

/// Creates (`id` None) or replaces a dashboard from `input`.
async fn save(c: &ResolverContext<'_>, id: Option<String>) -> Result<Dashboard, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let raw = arg_json(c, "input")?.and_then(|v| v.as_object().cloned()).unwrap_or_default();
    let (raw, renames) = widgets::with_widgets(raw)?;
    let spec: DashboardSpec =
        serde_json::from_value(raw).map_err(|e| ApiError::BadRequest(format!("input: {e}")))?;
    let d = state.db.dialect;
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let meta = TenantMeta::load(&txn, &p.tenant_id).await?;
    spec.validate(&meta).map_err(|e| typed::rename_paths(e.into(), &renames))?;
    let (board, insert) = match id {
        Some(id) => {
            let old = dashboards::get(&txn, &p.tenant_id, &id)
                .await?
                .ok_or_else(|| ApiError::NotFound("dashboard".into()))?;
            (Dashboard { spec, updated_at: entity::runtime::time::now(), ..old }, false)
        }
        None => (Dashboard::from_spec(&p.tenant_id, &spec, None, 100), true),
    };
    dashboards::save(&txn, &board, insert).await?;
    let action = if insert { "dashboard.create" } else { "dashboard.update" };
    let entry = audit::Entry {
        action,
        object_type: "dashboard",
        object_id: Some(&board.id),
        changes: serde_json::json!({"key": board.spec.key, "widgets": board.spec.widgets.len()}),
    };
    audit::append(&txn, d, &p.tenant_id, &ctx::actor(c)?, &entry).await?;
    txn.commit().await?;
    Ok(board)
}

pub fn mutations() -> Vec<Field> {
    let input = || InputValue::new("input", TypeRef::named_nn(t::DASHBOARD_INPUT));
    let id = || InputValue::new("id", TypeRef::named_nn(TypeRef::ID));
    vec![
        Field::new(f::CREATE_DASHBOARD, TypeRef::named_nn(t::DASHBOARD), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                Ok(Some(FieldValue::owned_any(Arc::new(save(&c, None).await?))))
            })
        })
        .argument(input()),
        Field::new(f::UPDATE_DASHBOARD, TypeRef::named_nn(t::DASHBOARD), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let id = args::string(&c, "id")?;
                Ok(Some(FieldValue::owned_any(Arc::new(save(&c, Some(id)).await?))))
            })
        })
        .argument(id())
        .argument(input()),
        crate::schema::deletion::field(f::DELETE_DASHBOARD, "dashboard", |txn, t, id| {
            Box::pin(dashboards::delete(txn, t, id))
        }),
    ]
}

/// Dashboards: every role reads those shown to it; administrators make them.
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Member, |_| queries())],
    mutations: &[(Slot::Admin, |_| mutations())],
    subscriptions: |_| vec![live::subscription()],
    types: |a| types(a.permissions.admin),
    ..Declared::EMPTY
};

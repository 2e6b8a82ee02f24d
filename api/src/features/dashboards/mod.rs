//! GraphQL for dashboards: `dashboards` and `dashboard(id)` (the ones the caller's role may
//! see; administrators see all), `createDashboard` / `updateDashboard` / `deleteDashboard`
//! (administrators), whose widgets are given as JSON or typed (`widgets`), and
//! `updateDashboardLayout` (`layout`). Names and titles are shown in the request's language
//! (`schema::i18n`).
//! `widgets { data }` computes each widget on the server in the same request, under the
//! caller's row rules and in the tenant's time zone; a widget over an entity the caller may
//! not read has `data: null`. `dashboardChanged(id)` pushes a dashboard again when records under
//! its widgets change (`live`).

use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Type, TypeRef,
};
use entity::features::dashboards::{self, Dashboard, DashboardSpec, Placed, Scope};
use entity::runtime::audit;
use entity::runtime::i18n::Languages;
use entity::runtime::meta::TenantMeta;
use entity::runtime::naming::{fields as f, types as t};
use entity::runtime::policy::Action;

use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::schema::args::{self, arg_json};
use crate::schema::feature::{Declared, Slot};
use crate::schema::typed;
use crate::schema::values::{json, parent, s, sync_field, ts};
use crate::schema::{ctx, i18n};
use crate::services::{Services, Txn};

pub mod layout;
pub mod live;
pub mod widgets;

/// A dashboard with the languages its texts are shown in.
#[derive(Clone)]
pub struct BoardView {
    pub board: Arc<Dashboard>,
    pub langs: Arc<Languages>,
}

impl BoardView {
    /// `board` shown in the languages of this field's request.
    async fn of(c: &ResolverContext<'_>, board: Dashboard) -> Result<FieldValue<'static>, ApiError> {
        Ok(FieldValue::owned_any(BoardView { board: Arc::new(board), langs: i18n::languages(c).await? }))
    }
}

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
    placed: Placed,
    env: Arc<Env>,
    langs: Arc<Languages>,
}

pub fn types(admin: bool) -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let mut types: Vec<Type> = vec![
        Object::new(t::DASHBOARD)
            .field(sync_field::<BoardView>("id", TypeRef::named_nn(TypeRef::ID), |b| s(&b.board.id)))
            .field(sync_field::<BoardView>("key", string(), |b| s(&b.board.spec.key)))
            .field(
                Field::new("name", string(), |c| {
                    FieldFuture::new(async move {
                        let b = parent::<BoardView>(&c)?;
                        Ok(Some(Value::from(i18n::own_or(&c, &b.langs).await?.text(&b.board.spec.name))))
                    })
                })
                .argument(i18n::lang_arg()),
            )
            .field(
                sync_field::<BoardView>("names", TypeRef::named_nn(t::JSON), |b| {
                    serde_json::to_value(&b.board.spec.name).ok().as_ref().and_then(json)
                })
                .description("The name in every language: language code → text."),
            )
            .field(sync_field::<BoardView>("roles", TypeRef::named_nn_list_nn(TypeRef::STRING), |b| {
                Some(Value::List(b.board.spec.roles.iter().cloned().map(Value::from).collect()))
            }))
            .field(sync_field::<BoardView>("template", TypeRef::named(TypeRef::STRING), |b| {
                b.board.template.as_deref().and_then(s)
            }))
            .field(sync_field::<BoardView>("updatedAt", TypeRef::named_nn(t::DATE_TIME), |b| {
                ts(&b.board.updated_at)
            }))
            .field(Field::new("widgets", TypeRef::named_nn_list_nn(t::DASHBOARD_WIDGET), |c| {
                FieldFuture::new(async move {
                    let view = parent::<BoardView>(&c)?;
                    let b = &view.board;
                    let state = ctx::state(&c)?;
                    // A widget over an entity its modules switched off shows no data.
                    let meta = TenantMeta::load_for(&state.db, &ctx::principal(&c)?.tenant_id)
                        .await
                        .map_err(ApiError::from)?
                        .switched_on();
                    let env = Arc::new(Env {
                        meta,
                        tz: ctx::tenant_zone(&c).await?,
                        now: entity::runtime::time::now(),
                    });
                    let views = b.spec.widgets.iter().cloned().enumerate().map(|(index, placed)| {
                        WidgetView { index, placed, env: env.clone(), langs: view.langs.clone() }
                    });
                    Ok(Some(FieldValue::list(views.map(FieldValue::owned_any))))
                })
            }))
            .into(),
        Object::new(t::DASHBOARD_WIDGET)
            .field(sync_field::<WidgetView>("index", TypeRef::named_nn(TypeRef::INT), |w| {
                Some(Value::from(w.index))
            }))
            .field(
                sync_field::<WidgetView>("id", TypeRef::named_nn(TypeRef::ID), |w| {
                    s(&w.placed.id_at(w.index))
                })
                .description("Its id on the dashboard (`updateDashboardLayout` names it by this)."),
            )
            .field(sync_field::<WidgetView>("type", string(), |w| s(w.placed.widget.kind())))
            .field(sync_field::<WidgetView>("entity", string(), |w| s(w.placed.widget.entity())))
            .field(
                Field::new("title", string(), |c| {
                    FieldFuture::new(async move {
                        let w = parent::<WidgetView>(&c)?;
                        Ok(Some(Value::from(i18n::own_or(&c, &w.langs).await?.text(w.placed.widget.title()))))
                    })
                })
                .argument(i18n::lang_arg()),
            )
            .field(
                sync_field::<WidgetView>("titles", TypeRef::named_nn(t::JSON), |w| {
                    serde_json::to_value(w.placed.widget.title()).ok().as_ref().and_then(json)
                })
                .description("The title in every language: language code → text."),
            )
            .field(sync_field::<WidgetView>("position", TypeRef::named(t::WIDGET_POSITION), |w| {
                w.placed.layout.position.map(layout::position_value)
            }))
            .field(sync_field::<WidgetView>("chartType", TypeRef::named(t::WIDGET_CHART_TYPE), |w| {
                w.placed.layout.chart_type.as_deref().map(layout::chart_type_value)
            }))
            .field(sync_field::<WidgetView>("icon", TypeRef::named(TypeRef::STRING), |w| {
                w.placed.layout.icon.as_deref().and_then(s)
            }))
            .field(sync_field::<WidgetView>("color", TypeRef::named(TypeRef::STRING), |w| {
                w.placed.layout.color.as_deref().and_then(s)
            }))
            .field(
                sync_field::<WidgetView>("config", TypeRef::named_nn(t::JSON), |w| {
                    serde_json::to_value(&w.placed).ok().as_ref().and_then(json)
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
    types.extend(layout::output_types());
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
        types.push(layout::input_type().into());
    }
    types
}

/// A widget's data for the caller, or `None` when its role may not read the entity.
async fn widget_data(c: &ResolverContext<'_>, w: &WidgetView) -> Result<Option<serde_json::Value>, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let widget = &w.placed.widget;
    let Some(e) = w.env.meta.entity_by_name(widget.entity()).cloned() else { return Ok(None) };
    if !p.permissions.can(&e, Action::Read) {
        return Ok(None);
    }
    let row = ctx::row_filter(c, &e)?;
    let env = &w.env;
    let scope = Scope {
        db: &state.db,
        tenant_id: &p.tenant_id,
        meta: &env.meta,
        tz: env.tz,
        now: env.now,
        langs: &w.langs,
    };
    Ok(Some(scope.data(widget, row.as_ref()).await?))
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
                let langs = i18n::languages(&c).await?;
                let views = list.into_iter().map(|b| BoardView { board: Arc::new(b), langs: langs.clone() });
                Ok(Some(FieldValue::list(views.map(FieldValue::owned_any))))
            })
        })
        .argument(i18n::lang_arg())
        .description("The dashboards your role may see (administrators: all)."),
        Field::new(f::DASHBOARD, TypeRef::named(t::DASHBOARD), |c| {
            FieldFuture::new(async move {
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                match visible_board(state, p, &args::string(&c, "id")?).await? {
                    Some(b) => Ok(Some(BoardView::of(&c, b).await?)),
                    None => Ok(None),
                }
            })
        })
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
        .argument(i18n::lang_arg()),
    ]
}

/// Creates (`id` None) or replaces a dashboard from `input`.
async fn save(c: &ResolverContext<'_>, id: Option<String>) -> Result<Dashboard, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let raw = arg_json(c, "input")?.and_then(|v| v.as_object().cloned()).unwrap_or_default();
    let (raw, renames) = widgets::with_widgets(raw)?;
    let spec: DashboardSpec =
        serde_json::from_value(raw).map_err(|e| ApiError::BadRequest(format!("input: {e}")))?;
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let meta = TenantMeta::load(&txn, &p.tenant_id).await?;
    spec.validate(&meta).map_err(|e| typed::rename_paths(e.into(), &renames))?;
    let (board, insert) = match id {
        Some(id) => (
            Dashboard { spec, updated_at: entity::runtime::time::now(), ..stored(c, &txn, &id).await? },
            false,
        ),
        None => (Dashboard::from_spec(&p.tenant_id, &spec, None, 100), true),
    };
    let action = if insert { "dashboard.create" } else { "dashboard.update" };
    let changes = serde_json::json!({"key": board.spec.key, "widgets": board.spec.widgets.len()});
    write(c, txn, &board, insert, action, changes).await?;
    Ok(board)
}

/// The caller's tenant's dashboard `id`, inside `txn`, or `NOT_FOUND`.
async fn stored(
    c: &ResolverContext<'_>,
    txn: &sea_orm::DatabaseTransaction,
    id: &str,
) -> Result<Dashboard, ApiError> {
    let tenant = &ctx::principal(c)?.tenant_id;
    dashboards::get(txn, tenant, id).await?.ok_or_else(|| ApiError::NotFound("dashboard".into()))
}

/// Saves `board` with its audit entry and commits `txn`: the one write of every dashboard
/// mutation.
async fn write(
    c: &ResolverContext<'_>,
    txn: sea_orm::DatabaseTransaction,
    board: &Dashboard,
    insert: bool,
    action: &'static str,
    changes: serde_json::Value,
) -> Result<(), ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    dashboards::save(&txn, board, insert).await?;
    let entry = audit::Entry { action, object_type: "dashboard", object_id: Some(&board.id), changes };
    audit::append(&txn, state.db.dialect, &p.tenant_id, &ctx::actor(c)?, &entry).await?;
    txn.commit().await?;
    Ok(())
}

pub fn mutations() -> Vec<Field> {
    let input = || InputValue::new("input", TypeRef::named_nn(t::DASHBOARD_INPUT));
    let id = || InputValue::new("id", TypeRef::named_nn(TypeRef::ID));
    vec![
        Field::new(f::CREATE_DASHBOARD, TypeRef::named_nn(t::DASHBOARD), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let board = save(&c, None).await?;
                Ok(Some(BoardView::of(&c, board).await?))
            })
        })
        .argument(input()),
        Field::new(f::UPDATE_DASHBOARD, TypeRef::named_nn(t::DASHBOARD), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let id = args::string(&c, "id")?;
                let board = save(&c, Some(id)).await?;
                Ok(Some(BoardView::of(&c, board).await?))
            })
        })
        .argument(id())
        .argument(input()),
        layout::mutation(),
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

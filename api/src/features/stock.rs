//! GraphQL for the stock engine (`entity::runtime::stock`): `stockOnHand(item, warehouse)` —
//! an item's balances, for a caller who may read the item (within its row rule) — and
//! `explodeBom(item, quantity)` — the components a quantity of an item needs over every level
//! of its bill of materials — each present when the tenant has a ledger (a bill of materials)
//! whose items the role may read; and `configureStock(entity, config)` for administrators:
//! an entity's stock configuration (a movement ledger, bill-of-materials lines, production
//! orders), checked against the definitions.

use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, Type, TypeRef,
};
use entity::features::stock::configure_in;
use entity::runtime::meta::{EntityDef, TenantMeta};
use entity::runtime::naming::stock as n;
use entity::runtime::naming::types as t;
use entity::runtime::stock::def::StockConfig;
use entity::runtime::stock::{self, Requirement};
use entity::runtime::store::Balance;

use crate::error::{ApiError, gql};
use crate::schema::access::{EntityAccess, SchemaAccess};
use crate::schema::args::{self, arg_json};
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot};
use crate::schema::resolvers::store;
use crate::schema::values::{s, sync_field};
use crate::services::Txn;

fn float(x: f64) -> Option<Value> {
    async_graphql::Number::from_f64(x).map(Value::Number)
}

/// `StockBalance` and `BomRequirement`.
fn types() -> Vec<Type> {
    let id = || TypeRef::named_nn(TypeRef::ID);
    vec![
        Object::new(n::STOCK_BALANCE)
            .description("The quantity of one item on hand in one warehouse.")
            .field(sync_field::<Balance>("item", id(), |b| s(&b.item_id)))
            .field(sync_field::<Balance>("warehouse", id(), |b| s(&b.warehouse_id)))
            .field(sync_field::<Balance>("quantity", TypeRef::named_nn(TypeRef::FLOAT), |b| float(b.quantity)))
            .into(),
        Object::new(n::BOM_REQUIREMENT)
            .description("A component an explosion needs, over every path to it.")
            .field(sync_field::<Requirement>("component", id(), |r| s(&r.component)))
            .field(
                sync_field::<Requirement>("quantity", TypeRef::named_nn(TypeRef::FLOAT), |r| float(r.quantity))
                    .description("How much of it the quantity asked for needs in all."),
            )
            .field(
                sync_field::<Requirement>("level", TypeRef::named_nn(TypeRef::INT), |r| Some(Value::from(r.level)))
                    .description("The deepest level it stands on (1: a direct component)."),
            )
            .field(
                sync_field::<Requirement>("leaf", TypeRef::named_nn(TypeRef::BOOLEAN), |r| Some(Value::from(r.leaf)))
                    .description("It has no bill of materials of its own: it is bought, not made (what production consumes)."),
            )
            .into(),
    ]
}

/// The item entities the role may read that a ledger (`ledger: true`) or a bill of materials
/// holds.
fn item_entities(access: &SchemaAccess, ledger: bool) -> Vec<Arc<EntityAccess>> {
    let meta = &access.meta;
    access
        .entities
        .iter()
        .filter(|a| {
            if ledger {
                stock::ledger_of(meta, &a.full.id).is_some()
            } else {
                stock::bom_of(meta, &a.full.id).is_some()
            }
        })
        .cloned()
        .collect()
}

/// The item `id` as the caller may read it: its entity, or `NOT_FOUND`.
async fn readable_item<'i>(
    c: &ResolverContext<'_>,
    items: &'i [Arc<EntityAccess>],
    id: &str,
) -> async_graphql::Result<&'i Arc<EntityAccess>> {
    let store = store(c)?;
    for a in items {
        let row = ctx::row_filter(c, &a.full)?;
        if store.get(&a.view, id, row.as_ref()).await.map_err(gql)?.is_some() {
            return Ok(a);
        }
    }
    Err(ApiError::NotFound("item".into()).into())
}

fn stock_on_hand() -> Field {
    Field::new(n::STOCK_ON_HAND, TypeRef::named_nn_list_nn(n::STOCK_BALANCE), |c| {
        FieldFuture::new(async move {
            let access = ctx::access(&c)?;
            let items = item_entities(access, true);
            let item = args::record_id_named(&c, "item")?;
            readable_item(&c, &items, &item).await?;
            let warehouse = args::opt_record_id_named(&c, "warehouse")?;
            let balances = store(&c)?.balances(&item, warehouse.as_deref()).await.map_err(gql)?;
            Ok(Some(FieldValue::list(balances.into_iter().map(FieldValue::owned_any))))
        })
    })
    .argument(InputValue::new("item", TypeRef::named_nn(TypeRef::ID)))
    .argument(InputValue::new("warehouse", TypeRef::named(TypeRef::ID)).description("Only this warehouse."))
    .description("The item's quantities on hand, one per warehouse that has seen it (by warehouse id).")
}

fn bom_entity<'m>(
    meta: &'m TenantMeta,
    item: &EntityAccess,
) -> async_graphql::Result<(&'m EntityDef, &'m stock::def::Bom)> {
    stock::bom_of(meta, &item.full.id).ok_or_else(|| ApiError::NotFound("bill of materials".into()).into())
}

fn explode_bom() -> Field {
    Field::new(n::EXPLODE_BOM, TypeRef::named_nn_list_nn(n::BOM_REQUIREMENT), |c| {
        FieldFuture::new(async move {
            let access = ctx::access(&c)?;
            let items = item_entities(access, false);
            let item = args::record_id_named(&c, "item")?;
            let quantity = c.args.try_get("quantity")?.f64()?;
            if !(quantity.is_finite() && quantity > 0.0) {
                let e = entity::FieldError::new("quantity", "must be a positive number");
                return Err(ApiError::Validation(vec![e]).into());
            }
            let a = readable_item(&c, &items, &item).await?;
            let (e, b) = bom_entity(&access.meta, a)?;
            let needs = store(&c)?.explode_bom(e, b, &item, quantity).await.map_err(gql)?;
            Ok(Some(FieldValue::list(needs.into_iter().map(FieldValue::owned_any))))
        })
    })
    .argument(InputValue::new("item", TypeRef::named_nn(TypeRef::ID)))
    .argument(InputValue::new("quantity", TypeRef::named_nn(TypeRef::FLOAT)))
    .description(
        "The components `quantity` of the item needs over every level of its bill of materials, one per component (summed over every path to it), by level.",
    )
}

fn configure_stock() -> Field {
    Field::new(n::CONFIGURE_STOCK, TypeRef::named_nn(TypeRef::BOOLEAN), |c| {
        FieldFuture::new(async move {
            ctx::require_admin(&c)?;
            let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
            let (name, actor, d) = (args::string(&c, "entity")?, ctx::actor(&c)?, state.db.dialect);
            let config: Option<StockConfig> = match arg_json(&c, "config")? {
                Some(v) => Some(serde_json::from_value(v).map_err(|e| {
                    ApiError::Validation(vec![entity::FieldError::new("config", e.to_string())])
                })?),
                None => None,
            };
            state
                .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
                    configure_in(txn, d, &p.tenant_id, &actor, &name, config).await
                })
                .await?;
            Ok(Some(Value::from(true)))
        })
    })
    .argument(InputValue::new("entity", TypeRef::named_nn(TypeRef::STRING)).description("The entity (`nameSingular`)."))
    .argument(InputValue::new("config", TypeRef::named(t::JSON)).description(
        "`{ledger: {item, warehouse, toWarehouse, quantity, kind, receipt, issue, transfer, allowNegative, reorderLevel}}`, `{bom: {parent, component, quantity}}` or `{production: {item, quantity, warehouse, status, completed, ledger, bom}}` (field keys); null clears it.",
    ))
    .description("Makes an entity a stock movement ledger, a bill-of-materials line or a production order (administrators).")
}

/// `stockOnHand` and `explodeBom` where the tenant has them and the role reads their items.
fn queries(access: &SchemaAccess) -> Vec<Field> {
    let mut out = Vec::new();
    if !item_entities(access, true).is_empty() {
        out.push(stock_on_hand());
    }
    if !item_entities(access, false).is_empty() {
        out.push(explode_bom());
    }
    out
}

/// The stock engine's operations.
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Records, queries)],
    mutations: &[(Slot::Admin, |_| vec![configure_stock()])],
    types: |a| {
        if item_entities(a, true).is_empty() && item_entities(a, false).is_empty() {
            Vec::new()
        } else {
            types()
        }
    },
    ..Declared::EMPTY
};

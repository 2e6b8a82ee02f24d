//! The record store's side of the stock engine (`runtime::stock`): in a write's transaction,
//! after it took the tenant's audit head (which orders the tenant's writers to their commit),
//! a movement's balance changes (or a completed production order's consumption and receipt)
//! upserted in (item, warehouse) order, a shortfall refused with nothing written, and each
//! crossing below a reorder level sent to the outbox; and the reads — balances and
//! bill-of-materials explosions. Balances are locked by stock writes alone, and only under
//! the head, so a writer never waits for one while another waits for the head it holds.

use std::collections::HashMap;

use sea_orm::{QueryResult, Statement};

use super::{COLUMNS, Store, push_live_among};
use crate::pipeline::Exec;
use crate::runtime::meta::{EntityDef, TenantMeta};
use crate::runtime::outbox;
use crate::runtime::record::Record;
use crate::runtime::stock::def::{Bom, Ledger};
use crate::runtime::stock::{self, Moves, PathRow, Requirement, Values};
use crate::runtime::time;
use crate::sql_buf::SqlBuf;
use crate::{Error, FieldError, Result};

/// One balance as `stockOnHand` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Balance {
    pub item_id: String,
    pub warehouse_id: String,
    pub quantity: f64,
}

impl Store<'_> {
    /// Moves the stock a write of `entity` moves (`before`/`after`: its stored values), in its
    /// transaction: nothing, and no statement, for an entity without a stock configuration. A
    /// production order completes only by a create or an update (`production`): a restore
    /// brings back no consumption.
    pub(super) async fn move_stock(
        &self,
        txn: &impl Exec,
        meta: &TenantMeta,
        entity: &EntityDef,
        (before, after): (Values<'_>, Values<'_>),
        production: bool,
    ) -> Result<()> {
        let Some(config) = entity.stock.as_deref() else { return Ok(()) };
        if let Some(l) = &config.ledger {
            let moves = stock::movement_moves(entity, l, before, after)?;
            self.book(txn, meta, (entity, l), &moves, &stock::graphql_name(entity, &l.quantity)).await?;
        }
        let Some(p) = config.production.as_ref().filter(|_| production) else { return Ok(()) };
        let Some(order) = stock::completed(entity, p, before, after)? else { return Ok(()) };
        let ledger = stock::configured(meta, &p.ledger, |c| c.ledger.as_ref(), "stock ledger")?;
        let (bom_entity, b) = stock::configured(meta, &p.bom, |c| c.bom.as_ref(), "bill of materials")?;
        let needs = self.explode_in(txn, bom_entity, b, &order.item, stock::as_number(order.units)).await?;
        if needs.is_empty() {
            let field = stock::graphql_name(entity, &p.item);
            return Err(Error::Validation(vec![FieldError::new(field, "the item has no bill of materials")]));
        }
        let mut moves = Moves::new();
        // Made of what is bought: the explosion's leaves, each taken where the order is made.
        for n in needs.iter().filter(|n| n.leaf) {
            *moves.entry((n.component.clone(), order.warehouse.clone())).or_insert(0) -=
                stock::units_of_float(n.quantity);
        }
        *moves.entry((order.item.clone(), order.warehouse.clone())).or_insert(0) += order.units;
        moves.retain(|_, u| *u != 0);
        self.book(txn, meta, ledger, &moves, &stock::graphql_name(entity, &p.status)).await
    }

    /// Books `moves` on the balances of `ledger`: refused on `field` when an issue would take a
    /// balance below zero (unless the ledger allows it), and each reorder crossing written to
    /// the outbox.
    async fn book(
        &self,
        txn: &impl Exec,
        meta: &TenantMeta,
        (ledger_entity, l): (&EntityDef, &Ledger),
        moves: &Moves,
        field: &str,
    ) -> Result<()> {
        if moves.is_empty() {
            return Ok(());
        }
        let mut buf = SqlBuf::new(self.d());
        stock::push_upsert(&mut buf, self.tenant_id, moves, time::now());
        let mut after = Vec::new();
        for row in txn.query_all(buf.into_statement()).await? {
            let quantity: i64 = row.try_get("", "quantity")?;
            after.push((
                row.try_get::<String>("", "item_id")?,
                row.try_get::<String>("", "warehouse_id")?,
                quantity,
            ));
        }
        let short: Vec<String> = after
            .iter()
            .filter(|(item, warehouse, now)| {
                *now < 0 && moves.get(&(item.clone(), warehouse.clone())).is_some_and(|m| *m < 0)
            })
            .map(|(item, warehouse, now)| {
                let moved = moves.get(&(item.clone(), warehouse.clone())).copied().unwrap_or(0);
                format!(
                    "item {item} at {warehouse}: {} on hand, {} needed",
                    stock::as_number(now - moved),
                    stock::as_number(-moved)
                )
            })
            .collect();
        if !short.is_empty() && !l.allow_negative {
            // The write's transaction rolls back: no balance moves, no record is written.
            return Err(Error::Validation(vec![FieldError::new(
                field,
                format!("not enough stock: {}", short.join("; ")),
            )]));
        }
        let Some(level_key) = &l.reorder_level else { return Ok(()) };
        let Some(items) = stock::target_of(meta, ledger_entity, &l.item) else { return Ok(()) };
        let falling: Vec<&str> =
            moves.iter().filter(|(_, m)| **m < 0).map(|((item, _), _)| item.as_str()).collect();
        if falling.is_empty() {
            return Ok(());
        }
        let mut buf = SqlBuf::new(self.d());
        buf.push("SELECT ").push(COLUMNS);
        push_live_among(&mut buf, self.tenant_id, &falling);
        let mut levels = HashMap::new();
        for row in txn.query_all(buf.into_statement()).await? {
            let r = Record::from_row(&row)?;
            if let Ok(Some(level)) = stock::units_of(r.data.get(level_key.as_str())) {
                levels.insert(r.id.clone(), level);
            }
        }
        for alert in stock::crossings(&items.id, moves, &after, &levels) {
            outbox::write(txn, self.d(), self.tenant_id, &alert).await?;
        }
        Ok(())
    }

    /// The components `quantity` of `item` needs over its bill of materials `(e, b)`, read in
    /// `txn` by one recursive statement.
    async fn explode_in(
        &self,
        txn: &impl Exec,
        e: &EntityDef,
        b: &Bom,
        item: &str,
        quantity: f64,
    ) -> Result<Vec<Requirement>> {
        let rows = txn.query_all(self.explosion(e, b, item, quantity)?).await?;
        requirements(&rows, e, b)
    }

    /// The statement of an explosion (`stock::push_explosion`).
    fn explosion(&self, e: &EntityDef, b: &Bom, item: &str, quantity: f64) -> Result<Statement> {
        let mut buf = SqlBuf::new(self.d());
        stock::push_explosion(&mut buf, self.tenant_id, e, b, item, quantity)?;
        Ok(buf.into_statement())
    }

    /// `explodeBom`: the components `quantity` of `item` needs over the bill of materials
    /// `(e, b)`, aggregated per component.
    pub async fn explode_bom(
        &self,
        e: &EntityDef,
        b: &Bom,
        item: &str,
        quantity: f64,
    ) -> Result<Vec<Requirement>> {
        let statement = self.explosion(e, b, item, quantity)?;
        let mut txn = self.reader().await?;
        let rows = txn.query_all(statement).await;
        txn.done().await?;
        requirements(&rows?, e, b)
    }

    /// `stockOnHand`: the balances of `item`, in `warehouse` only when given, by warehouse.
    pub async fn balances(&self, item: &str, warehouse: Option<&str>) -> Result<Vec<Balance>> {
        let mut buf = SqlBuf::new(self.d());
        buf.push("SELECT item_id, warehouse_id, quantity FROM stock_balances WHERE tenant_id = ");
        buf.bind(self.tenant_id.to_owned()).push(" AND item_id = ").bind(item.to_owned());
        if let Some(w) = warehouse {
            buf.push(" AND warehouse_id = ").bind(w.to_owned());
        }
        buf.push(" ORDER BY warehouse_id");
        let mut txn = self.reader().await?;
        let rows = txn.query_all(buf.into_statement()).await;
        txn.done().await?;
        rows?
            .iter()
            .map(|r| -> Result<Balance> {
                Ok(Balance {
                    item_id: r.try_get("", "item_id")?,
                    warehouse_id: r.try_get("", "warehouse_id")?,
                    quantity: stock::as_number(r.try_get("", "quantity")?),
                })
            })
            .collect()
    }
}

/// The explosion's rows, aggregated per component (`stock::aggregate`).
fn requirements(rows: &[QueryResult], e: &EntityDef, b: &Bom) -> Result<Vec<Requirement>> {
    let mut paths = Vec::new();
    for row in rows {
        paths.push(PathRow {
            component: row.try_get("", "component")?,
            quantity: row.try_get("", "qty")?,
            level: row.try_get("", "level")?,
            cycle: row.try_get::<i32>("", "cyc")? != 0,
            leaf: row.try_get::<i32>("", "leaf")? != 0,
        });
    }
    stock::aggregate(paths, e, b)
}

//! An entity's stock configuration as plain data (`entity_defs.stock`), shared by the
//! definitions (`meta`), the record store and the API: which of its fields make it a stock
//! movement (a ledger), a bill-of-materials line or a production order. Every name is a field
//! key of the entity (an entity's `nameSingular` where it says so); `stock::check` proves them
//! against the tenant's definitions before they are stored.

use serde::{Deserialize, Serialize};

/// What an entity is to the stock engine: any one of the three parts (usually exactly one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StockConfig {
    /// Its records are stock movements: each moves the balances of its item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<Ledger>,
    /// Its records are bill-of-materials lines: `quantity` of `component` per `parent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bom: Option<Bom>,
    /// Its records are production orders: completing one consumes components and receives
    /// the finished item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production: Option<Production>,
}

/// A movement entity's fields: a receipt adds `quantity` of `item` at `warehouse`, an issue
/// takes it away there, a transfer takes it at `warehouse` and adds it at `to_warehouse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ledger {
    /// RELATION to the item entity.
    pub item: String,
    /// RELATION to the warehouse (or plant) entity: where a receipt or an issue happens, and
    /// where a transfer starts.
    pub warehouse: String,
    /// RELATION to the same warehouse entity: where a transfer ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_warehouse: Option<String>,
    /// NUMBER: how much moves (never negative).
    pub quantity: String,
    /// SELECT: the kind of movement, one of the three options below.
    pub kind: String,
    /// The `kind` option of a goods receipt (+).
    pub receipt: String,
    /// The `kind` option of an issue (−).
    pub issue: String,
    /// The `kind` option of a transfer (− at `warehouse`, + at `to_warehouse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<String>,
    /// Whether an issue may take a balance below zero (refused when `false`, the default).
    #[serde(default)]
    pub allow_negative: bool,
    /// NUMBER field of the item entity: a balance falling below it fires the item's
    /// `stock_below_reorder` workflows, once per crossing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reorder_level: Option<String>,
}

/// A bill-of-materials line entity's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bom {
    /// RELATION to the item entity: the assembly.
    pub parent: String,
    /// RELATION to the same item entity: what goes into it.
    pub component: String,
    /// NUMBER: how much of `component` one unit of `parent` takes.
    pub quantity: String,
}

/// A production order entity's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Production {
    /// RELATION to the item entity: what is produced.
    pub item: String,
    /// NUMBER: how much of it.
    pub quantity: String,
    /// RELATION to the warehouse entity: where the components are taken and the item received.
    pub warehouse: String,
    /// SELECT: the order's status.
    pub status: String,
    /// The `status` option that completes the order: moving into it moves the stock.
    pub completed: String,
    /// The entity (`nameSingular`) whose ledger the order moves (its balances and rules).
    pub ledger: String,
    /// The entity (`nameSingular`) holding the bill-of-materials lines.
    pub bom: String,
}

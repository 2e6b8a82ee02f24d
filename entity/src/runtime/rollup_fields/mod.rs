//! ROLLUP fields: a field of a parent entity whose value is COUNT / SUM / MIN / MAX / AVG over
//! the live records of a child entity that point at the parent through one of the child's
//! RELATION fields, optionally only those matching a filter — `invoice.total` =
//! SUM(`invoice_line.amount`) over `invoice_line.invoice`.
//!
//! Not to be confused with `runtime::rollups`, the aggregate cache *cells* (counts and money
//! sums per SELECT group) that answer `…Aggregate` queries without a scan. A rollup *field* is
//! a value stored in each parent record's `data`, so it is read, filtered, sorted, indexed and
//! aggregated exactly like a stored field of its result type: `FieldDef::ty` is that type
//! (NUMBER for COUNT, the measured field's type otherwise), and every map over `FieldType`
//! treats the field as one. What makes it a rollup is `FieldDef::rollup` (the `field_defs.rollup`
//! column): its public type is `ROLLUP`, no input writes it, and the engine does:
//!
//! - `define`: checks a definition (`FieldInput.rollup`) against the tenant's entities;
//! - `maintain`: recomputes the parents a child write touches, in that write's transaction;
//! - `maintain::backfill`: recomputes every rollup field in a definition change's transaction
//!   (a new rollup over existing data, or records a change rewrote);
//! - `compute`: the one SQL aggregation both use, over the children as the transaction sees them.

use serde_json::Value;

use super::filter::{Filter, Target};
use super::meta::{EntityDef, FieldDef, TenantMeta};
use crate::{Error, Result};

mod compute;
pub mod def;
pub(crate) mod define;
mod maintain;

pub use def::{Function, Rollup, TYPE_NAME};
pub use maintain::{Plan, backfill, lock_for_many, seed};

impl Rollup {
    /// The public form (`FieldDefinition.rollup`, as `FieldInput.rollup` takes it): the child
    /// entity by name.
    pub fn public(&self, meta: &TenantMeta) -> Value {
        let entity = meta.entity_by_id(&self.entity_id).map(|e| e.name_singular.clone());
        let mut out = serde_json::json!({
            "entity": entity, "relation": self.relation, "function": self.function.as_str(),
        });
        if let Some(f) = &self.field {
            out["field"] = Value::from(f.clone());
        }
        if let Some(f) = &self.filter {
            out["filter"] = f.clone();
        }
        out
    }
}

/// One rollup field with everything it reads resolved against the tenant's definitions.
pub(crate) struct Source<'m> {
    pub parent: &'m EntityDef,
    /// The rollup field (on `parent`).
    pub field: &'m FieldDef,
    pub function: Function,
    pub child: &'m EntityDef,
    /// The child's RELATION field pointing at `parent`.
    pub relation: &'m FieldDef,
    /// The child's measured field (COUNT may have none: it counts records).
    pub measure: Option<&'m FieldDef>,
    pub filter: Option<Filter>,
}

impl<'m> Source<'m> {
    fn resolve(meta: &'m TenantMeta, parent: &'m EntityDef, field: &'m FieldDef, r: &Rollup) -> Result<Self> {
        let broken = |what: &str| Error::Internal(format!("rollup field {}: {what} is gone", field.key));
        let child = meta.entity_by_id(&r.entity_id).ok_or_else(|| broken("the child entity"))?;
        let relation = child.field_by_key(&r.relation).ok_or_else(|| broken("the relation"))?;
        let measure = match &r.field {
            Some(k) => Some(child.field_by_key(k).ok_or_else(|| broken("the measured field"))?),
            None => None,
        };
        let filter = r.filter.as_ref().map(|v| Filter::parse(child, v)).transpose()?;
        Ok(Source { parent, field, function: r.function, child, relation, measure, filter })
    }
}

/// Every rollup field of the tenant (`child`: only those over that entity's records).
pub(crate) fn sources<'m>(meta: &'m TenantMeta, child: Option<&str>) -> Result<Vec<Source<'m>>> {
    let mut out = Vec::new();
    for parent in &meta.entities {
        for field in &parent.fields {
            let Some(r) = &field.rollup else { continue };
            if child.is_none_or(|c| c == r.entity_id) {
                out.push(Source::resolve(meta, parent, field, r)?);
            }
        }
    }
    Ok(out)
}

/// The rollup fields that read `child`'s field `key` (`None`: any of its records), as
/// `entity.field` names: removing what one reads is refused while it does.
pub fn readers_of(meta: &TenantMeta, child_id: &str, key: Option<&str>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for s in sources(meta, Some(child_id))? {
        let reads = |k: &str| {
            s.relation.key == k
                || s.measure.is_some_and(|m| m.key == k)
                || s.filter
                    .as_ref()
                    .is_some_and(|f| f.targets().iter().any(|t| matches!(t, Target::Field(f) if f.key == k)))
        };
        if key.is_none_or(reads) {
            out.push(format!("{}.{}", s.parent.name_singular, s.field.key));
        }
    }
    Ok(out)
}

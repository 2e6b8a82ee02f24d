//! The records a time trigger owes a run each: every live record of the workflow's entity
//! that matches a filter, read page by page, each with the run key that keeps its run to one
//! however many scanners race.

use entity::runtime::filter::Filter;
use entity::runtime::meta::EntityDef;
use entity::runtime::sql::SortKey;
use entity::runtime::store::{ListArgs, Store};
use entity::{Db, Result};
use serde_json::Value;

/// Records read per page.
const PAGE: u64 = 200;

/// The runs a time trigger owes: (record id, run key) pairs.
pub(super) type Due = Vec<(String, String)>;

/// Every live record matching `filter`, as (id, run key). Read before the writes: SQLite
/// must not hold its single writer while paging.
pub(super) async fn matching(
    db: &Db,
    tenant_id: &str,
    entity: &EntityDef,
    filter: Option<Value>,
    order: Option<SortKey>,
    key: impl Fn(&str, &Value) -> String,
) -> Result<Due> {
    let filter = filter.map(|f| Filter::parse(entity, &f)).transpose()?;
    let store = Store::new(db, tenant_id);
    let mut due = Vec::new();
    let mut after = None;
    loop {
        let args = ListArgs {
            filter: filter.clone(),
            order: order.clone().into_iter().collect(),
            first: Some(PAGE),
            after: after.take(),
            ..ListArgs::default()
        };
        let page = store.list(entity, &args, PAGE).await?;
        for r in &page.records {
            let data = Value::Object((*r.data).clone());
            due.push((r.id.clone(), key(&r.id, &data)));
        }
        match (page.has_next, page.end_cursor()) {
            (true, Some(c)) => after = Some(c),
            _ => break,
        }
    }
    Ok(due)
}

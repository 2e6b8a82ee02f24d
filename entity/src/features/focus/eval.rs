//! A caller's Daily Focus: each rule that applies to their role, over an entity they may read,
//! becomes one item — the records its filter (placeholders replaced for the caller and day)
//! matches within the caller's row rule, counted and the first `limit` of them in the rule's
//! order (one page statement and one COUNT per rule, never one per record). A rule whose
//! filter or order names a field the caller may not read gives no item: a mission never
//! counts records by what the caller cannot see. Items with no record are left out.

use serde_json::Value;

use super::placeholders::Clock;
use crate::Result;
use crate::features::crm::timeline::title_of;
use crate::runtime::filter::Filter;
use crate::runtime::focus_rules::FocusRule;
use crate::runtime::meta::EntityDef;
use crate::runtime::sql::parse_order;
use crate::runtime::store::{ListArgs, Store};

/// One record an item links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    pub id: String,
    pub record_number: Option<String>,
    /// What to call it: its first readable text value, else its record number, else its id.
    pub label: String,
}

/// One mission of a caller's list.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub rule_id: String,
    pub position: i32,
    /// The entity's `nameSingular`.
    pub entity: String,
    pub title: String,
    pub badge: Option<String>,
    /// Every matching record the caller may see.
    pub count: i64,
    /// The filter with its placeholders replaced: what `<entities>(filter:)` takes to list
    /// them all (the caller's row rule applies there as here).
    pub filter: Value,
    pub order_by: Value,
    pub records: Vec<Linked>,
}

/// A rule, the caller's view of its entity (only the fields they may read) and their row
/// rule on it (`None`: every record).
pub struct Scoped<'a> {
    pub rule: &'a FocusRule,
    pub view: &'a EntityDef,
    pub row: Option<Filter>,
}

/// The list arguments of a rule for the caller, with its substituted filter; `None` when the
/// filter or order does not hold for the caller's view (a field they may not read, or one a
/// later definition change removed).
pub fn plan(s: &Scoped<'_>, clock: &Clock) -> Option<(Value, ListArgs)> {
    let filter = clock.substitute(&s.rule.filter).ok()?;
    let parsed = match &filter {
        Value::Object(m) if m.is_empty() => None,
        f => Some(Filter::parse(s.view, f).ok()?),
    };
    let order = match &s.rule.order_by {
        Value::Array(items) => parse_order(s.view, items).ok()?,
        _ => Vec::new(),
    };
    let args = ListArgs {
        filter: parsed,
        order,
        first: Some(u64::from(s.rule.limit)),
        with_total: true,
        ..ListArgs::default()
    };
    Some((filter, args.restrict(s.row.as_ref())))
}

/// The title template with `{count}` and `{entity}` (the entity's label, singular for one
/// record) filled in.
pub fn title(template: &str, count: i64, view: &EntityDef) -> String {
    let label = if count == 1 { &view.label_singular } else { &view.label_plural };
    template.replace("{count}", &count.to_string()).replace("{entity}", label)
}

/// The caller's items for `rules` (already those of their role, over entities they read), by
/// position.
pub async fn items(store: &Store<'_>, rules: &[Scoped<'_>], clock: &Clock) -> Result<Vec<Item>> {
    let mut out = Vec::new();
    for s in rules {
        let Some((filter, args)) = plan(s, clock) else { continue };
        let page = store.list(s.view, &args, u64::from(s.rule.limit)).await?;
        let count = page.total.unwrap_or(0);
        if count == 0 {
            continue;
        }
        out.push(Item {
            rule_id: s.rule.id.clone(),
            position: s.rule.position,
            entity: s.rule.entity.clone(),
            title: title(&s.rule.title, count, s.view),
            badge: s.rule.badge.clone(),
            count,
            filter,
            order_by: s.rule.order_by.clone(),
            records: page
                .records
                .iter()
                .map(|r| Linked {
                    id: r.id.clone(),
                    record_number: r.record_number.clone(),
                    label: title_of(s.view, r),
                })
                .collect(),
        });
    }
    out.sort_by_key(|i| i.position);
    Ok(out)
}

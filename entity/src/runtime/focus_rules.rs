//! Daily Focus rules as plain data: for one role (or every role), an entity, a filter in its
//! filter language that may hold the focus placeholders (`features::focus::placeholders`), an
//! order, how many records an item links, a title template and a badge. They are stored per
//! tenant (`focus_rules`) and loaded with the tenant's definitions (`TenantMeta::focus`), so a
//! `dailyFocus` or a `focusChanged` costs no read of them; a change bumps the metadata
//! version. This is the plain data; the loader reads it, `features::focus` checks, stores and
//! evaluates it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One Daily Focus rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FocusRule {
    pub id: String,
    /// The role it is for; `None`: every role.
    pub role_id: Option<String>,
    /// Where its item stands in a list (ascending).
    pub position: i32,
    /// The entity's `nameSingular`.
    pub entity: String,
    /// The filter, as `<entities>(filter:)` takes it, placeholders unsubstituted.
    pub filter: Value,
    /// The order, as `<entities>(orderBy:)` takes it (`[{"field": "AMOUNT", "direction": "DESC"}]`).
    pub order_by: Value,
    /// How many records the item links (the count covers them all).
    pub limit: u32,
    /// The title template (`Call {count} high-value {entity}`).
    pub title: String,
    /// A short tag shown beside the title (`overdue`, `pending`).
    pub badge: Option<String>,
}

impl FocusRule {
    /// Whether the rule applies to a caller of role `role_id`.
    pub fn applies_to(&self, role_id: &str) -> bool {
        self.role_id.as_deref().is_none_or(|r| r == role_id)
    }
}

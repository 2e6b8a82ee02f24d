//! Every GraphQL name of the product comes from here: platform type and root-field names, the
//! names generated for each entity, and the identifier rules. Definition validation uses the
//! same functions, so a name that validates is exactly the name the schema will carry.

pub mod ai;
pub mod confidence;
pub mod crm;
pub mod demo;
pub mod focus;
pub mod hierarchy;
pub mod mentions;
mod platform;
pub mod stock;
pub mod tenant_export;
pub mod uids;

use std::collections::BTreeSet;

pub use platform::{change_kinds, fields, types};

/// Every platform type name, the CRM's, Daily Focus' and the confidence meter's included (taken names for collision checks).
pub fn platform_type_names() -> BTreeSet<&'static str> {
    let mut s = platform::platform_type_names();
    s.extend(crm::TYPE_NAMES.iter().copied());
    s.extend(focus::types::ALL.iter().copied());
    s.extend(confidence::TYPE_NAMES.iter().copied());
    s
}

/// Every platform root field name, the CRM's, Daily Focus' and the confidence meter's included (taken names for collision checks).
pub fn platform_root_fields() -> BTreeSet<&'static str> {
    let mut s = platform::platform_root_fields();
    s.extend(crm::ROOT_FIELDS.iter().copied());
    s.extend(focus::fields::ALL.iter().copied());
    s.extend(confidence::ROOT_FIELDS.iter().copied());
    s
}

/// System fields every entity type has; field keys may not camelCase to these.
pub const SYSTEM_FIELDS: &[&str] =
    &["id", "recordNumber", "createdAt", "updatedAt", "createdBy", "owner", "deletedAt", "version"];

/// Names a tenant identifier may not take at all (`__typename`-like and the filter combinators).
pub const RESERVED_FIELD_NAMES: &[&str] = &["and", "or", "not", "search", "typename"];

/// `true` for `snake_case` / `camelCase` identifiers of at most 63 characters.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let starts_lower = matches!(chars.next(), Some('a'..='z'));
    starts_lower
        && s.len() <= 63
        && !s.contains("__")
        && !s.ends_with('_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `true` for names GraphQL accepts (`/^[_A-Za-z][_0-9A-Za-z]*$/`, not starting with `__`).
pub fn is_graphql_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('_' | 'a'..='z' | 'A'..='Z'))
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

/// `full_name` → `fullName` (camelCase stays as it is).
pub fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper_next = false;
    for c in s.chars() {
        if c == '_' {
            upper_next = !out.is_empty();
        } else if upper_next {
            out.extend(c.to_uppercase());
            upper_next = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `purchase_requisition` → `PurchaseRequisition`.
pub fn pascal(s: &str) -> String {
    let c = camel(s);
    let mut chars = c.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `fullName` / `full_name` → `FULL_NAME`.
pub fn screaming(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for (i, c) in camel(s).chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_uppercase());
    }
    out
}

/// The record type's field listing the values a lifecycle field may move to next, for the
/// caller (`status` → `statusTransitions`).
pub fn transitions_field(graphql_name: &str) -> String {
    format!("{graphql_name}Transitions")
}

/// The GraphQL name of a field key (`full_name` → `fullName`).
pub fn field_name(key: &str) -> String {
    camel(key)
}

/// Every name generated for one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityNames {
    pub type_name: String,
    pub connection: String,
    pub edge: String,
    pub filter: String,
    pub order_by: String,
    pub field_enum: String,
    pub change: String,
    pub create_input: String,
    pub update_input: String,
    pub aggregate: String,
    pub aggregate_values: String,
    pub date_group: String,
    pub query_one: String,
    pub query_many: String,
    pub query_aggregate: String,
    pub create: String,
    pub update: String,
    pub delete: String,
    pub restore: String,
    pub changed: String,
    /// Bulk writes: `createDeals(inputs)`, `updateDeals(ids | filter, input)`,
    /// `deleteDeals(ids | filter)`, answering a `DealBulkResult`.
    pub create_many: String,
    pub update_many: String,
    pub delete_many: String,
    pub bulk_result: String,
}

impl EntityNames {
    pub fn new(name_singular: &str, name_plural: &str) -> Self {
        let t = pascal(name_singular);
        let one = camel(name_singular);
        let many = camel(name_plural);
        let ts = pascal(name_plural);
        EntityNames {
            create_many: format!("create{ts}"),
            update_many: format!("update{ts}"),
            delete_many: format!("delete{ts}"),
            bulk_result: format!("{t}BulkResult"),
            connection: format!("{t}Connection"),
            edge: format!("{t}Edge"),
            filter: format!("{t}Filter"),
            order_by: format!("{t}OrderBy"),
            field_enum: format!("{t}Field"),
            change: format!("{t}Change"),
            create_input: format!("Create{t}Input"),
            update_input: format!("Update{t}Input"),
            aggregate: format!("{t}Aggregate"),
            aggregate_values: format!("{t}AggregateValues"),
            date_group: format!("{t}DateGroup"),
            query_aggregate: format!("{many}Aggregate"),
            create: format!("create{t}"),
            update: format!("update{t}"),
            delete: format!("delete{t}"),
            restore: format!("restore{t}"),
            changed: format!("{one}Changed"),
            query_one: one,
            query_many: many,
            type_name: t,
        }
    }

    /// Type names this entity generates.
    pub fn type_names(&self) -> [&str; 13] {
        [
            &self.type_name,
            &self.connection,
            &self.edge,
            &self.filter,
            &self.order_by,
            &self.field_enum,
            &self.change,
            &self.create_input,
            &self.update_input,
            &self.aggregate,
            &self.aggregate_values,
            &self.date_group,
            &self.bulk_result,
        ]
    }

    /// Root field names this entity generates.
    pub fn root_fields(&self) -> [&str; 11] {
        [
            &self.query_one,
            &self.query_many,
            &self.query_aggregate,
            &self.create,
            &self.update,
            &self.delete,
            &self.restore,
            &self.changed,
            &self.create_many,
            &self.update_many,
            &self.delete_many,
        ]
    }
}

/// The name of the reverse side of relation `field` (defined on `source`) on its target type:
/// `deals` (MANY_TO_ONE) or `deal` (ONE_TO_ONE); `dealsByReferrer` when the source has an
/// earlier relation field to the same target.
pub fn reverse_field(
    source_singular: &str,
    source_plural: &str,
    field_key: &str,
    one_to_one: bool,
    first_to_target: bool,
) -> String {
    let base = if one_to_one { camel(source_singular) } else { camel(source_plural) };
    if first_to_target { base } else { format!("{base}By{}", pascal(field_key)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversions() {
        assert_eq!(camel("full_name"), "fullName");
        assert_eq!(camel("fullName"), "fullName");
        assert_eq!(pascal("purchase_requisition"), "PurchaseRequisition");
        assert_eq!(screaming("fullName"), "FULL_NAME");
        assert_eq!(screaming("full_name"), "FULL_NAME");
        assert_eq!(screaming("amount2"), "AMOUNT2");
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("deal"));
        assert!(is_identifier("full_name"));
        assert!(is_identifier("fullName"));
        for bad in ["", "Deal", "1deal", "full name", "a__b", "deal_", "déal", "x;drop"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn reverse_names() {
        assert_eq!(reverse_field("deal", "deals", "contact", false, true), "deals");
        assert_eq!(reverse_field("deal", "deals", "referrer", false, false), "dealsByReferrer");
        assert_eq!(reverse_field("passport", "passports", "person", true, true), "passport");
    }
}

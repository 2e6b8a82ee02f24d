//! The runtime entity engine: tenant metadata (`meta`), GraphQL naming rules (`naming`), value
//! validation (`value`), the filter language (`filter`) and its SQL compilation (`sql`), cursors
//! (`cursor`), the record store (`store`), definition changes (`definitions`), formula
//! fields (`formula`), full-text search (`search`), the CRM's roles (`crm_roles`) and
//! the Daily Focus rules (`focus_rules`).

pub mod aggregate;
pub mod audit;
pub mod calendar;
pub mod crm_roles;
pub mod cursor;
pub mod decimal;
pub mod definitions;
pub mod field_key;
pub mod field_type;
pub mod figures;
pub mod filter;
pub mod focus_rules;
pub mod formula;
pub mod hierarchy;
pub mod i18n;
pub mod indexes;
pub mod lifecycle;
pub mod loader;
pub mod mentions;
pub mod meta;
pub mod naming;
pub mod outbox;
pub mod personal;
pub mod policy;
pub mod record;
pub mod rollup_fields;
pub mod rollups;
pub mod search;
pub mod show;
pub mod signals;
pub mod slot;
pub mod sql;
pub mod stock;
pub mod store;
pub mod time;
pub mod uid;
pub mod value;

pub use meta::{EntityDef, FieldDef, FieldType, RelationKind, TenantMeta};

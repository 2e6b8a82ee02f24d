//! The runtime entity engine: tenant metadata (`meta`), GraphQL naming rules (`naming`), value
//! validation (`value`), the filter language (`filter`) and its SQL compilation (`sql`), cursors
//! (`cursor`), the record store (`store`) and definition changes (`definitions`).

pub mod aggregate;
pub mod approvals;
pub mod audit;
pub mod calendar;
pub mod crm;
pub mod cursor;
pub mod dashboards;
pub mod dead_jobs;
pub mod definitions;
pub mod emails;
pub mod filter;
pub mod indexes;
pub mod meta;
pub mod naming;
pub mod notifications;
pub mod outbox;
pub mod policy;
pub mod rollups;
pub mod schedule;
pub mod signals;
pub mod sql;
pub mod store;
pub mod templates;
pub mod time;
pub mod value;
pub mod webhooks;
pub mod workflows;

pub use meta::{EntityDef, FieldDef, FieldType, RelationKind, TenantMeta};

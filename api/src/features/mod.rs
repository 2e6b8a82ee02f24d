//! The product's features in the GraphQL layer: each module adds its types and operations to a
//! tenant's schema on top of the engine's (`crate::schema`: platform operations and every
//! entity's generated API), and resolves them through its data layer in `entity::features`.

pub mod admin;
pub mod approvals;
pub mod crm;
pub mod dashboards;
pub mod dead_jobs;
pub mod notifications;
pub mod templates;
pub mod webhooks;
pub mod workflows;

//! The product's features in the GraphQL layer: each module adds its types and operations to a
//! tenant's schema on top of the engine's (`crate::schema`: platform operations and every
//! entity's generated API), and resolves them through its data layer in `entity::features`.

pub mod admin;
pub mod ai;
pub mod approvals;
pub mod confidence;
pub mod crm;
pub mod dashboards;
pub mod dead_jobs;
pub mod exports;
pub mod files;
pub mod focus;
pub mod gdpr;
pub mod hierarchy;
pub mod imports;
pub mod memory;
pub mod modules;
pub mod notifications;
pub mod oidc;
pub mod password_reset;
pub mod profile;
pub mod search;
pub mod stock;
pub mod templates;
pub mod tenant;
pub mod tenant_export;
pub mod two_factor;
pub mod uids;
pub mod webhooks;
pub mod workflows;

use crate::schema::feature::Features;

/// Every feature, in the order their fields stand in each slot of the schema (the SDL's order:
/// append, do not reorder).
pub static ALL: Features = &[
    &notifications::FEATURE,
    &admin::FEATURE,
    &workflows::FEATURE,
    &webhooks::FEATURE,
    &approvals::FEATURE,
    &dead_jobs::FEATURE,
    &templates::FEATURE,
    &dashboards::FEATURE,
    &tenant::FEATURE,
    &crm::FEATURE,
    &profile::FEATURE,
    &modules::FEATURE,
    &password_reset::FEATURE,
    &two_factor::FEATURE,
    &oidc::FEATURE,
    &exports::FEATURE,
    &files::FEATURE,
    &gdpr::FEATURE,
    &search::FEATURE,
    &imports::FEATURE,
    &tenant_export::FEATURE,
    &ai::FEATURE,
    &memory::FEATURE,
    &hierarchy::FEATURE,
    &uids::FEATURE,
    &stock::FEATURE,
    &focus::FEATURE,
    &confidence::FEATURE,
];

//! The product's features in the data layer, each in its own module and each owning its
//! storage: workflows, approvals, webhooks, emails, notifications, dashboards, industry
//! templates, CSV imports, modules (groups of entities, workflows and dashboards switched on and off), the
//! CRM operations, exports (CSV, JSON Lines), the dead-letter view, the document vault's files, the AI gateway's providers, usage and budgets, Customer Memory, Daily Focus, the Deal Confidence Meter, stock configuration, and users and roles (with sessions, invitations and API
//! keys). They are built on the engine
//! (`crate::runtime`: metadata, the record store, the filter language, the audit trail and the
//! outbox) and the engine knows none of them, except that the outbox's reader enum lists the
//! events they write (`runtime::outbox::events`).

pub mod ai;
pub mod approvals;
pub mod confidence;
pub mod crm;
pub mod dashboards;
pub mod dead_jobs;
pub mod emails;
pub mod exports;
pub mod files;
pub mod focus;
pub mod gdpr;
pub mod imports;
pub mod memory;
pub mod modules;
pub mod notifications;
pub(crate) mod rows;
pub mod stock;
pub mod templates;
pub mod users;
pub mod webhooks;
pub mod workflows;

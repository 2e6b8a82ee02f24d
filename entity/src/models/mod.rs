//! SeaORM models of every platform table: tenants, users, roles, sessions, entity and field
//! definitions, the change-event outbox, workflows with their runs and steps, approval policies
//! with their requests and decisions, the CRM's roles, Daily Focus rules, confidence weights,
//! scores and signals, dashboards, modules, CSV imports and their row errors, export jobs,
//! applied templates, password resets, TOTP secrets and recovery codes, uploaded files, AI
//! providers, usage and budgets, customer memories, the audit chain, and the engine's records,
//! record counters, rollups, search entries, UIDs and their counters, and stock balances.
//! Tenant records themselves are read and written by `runtime::store` with compiled SQL,
//! because their columns are defined at runtime: `record` names only their fixed columns.

pub mod ai_budget;
pub mod ai_provider;
pub mod ai_usage;
pub mod api_key;
pub mod approval_decision;
pub mod approval_policy;
pub mod approval_request;
pub mod audit_head;
pub mod audit_log;
pub mod confidence_score;
pub mod confidence_signal;
pub mod confidence_weight;
pub mod crm_role;
pub mod customer_memory;
pub mod dashboard;
pub mod email;
pub mod entity_def;
pub mod export_job;
pub mod field_def;
pub mod file;
pub mod focus_rule;
pub mod import;
pub mod import_error;
pub mod module;
pub mod notification;
pub mod oidc_identity;
pub mod oidc_login;
pub mod oidc_provider;
pub mod outbox;
pub mod password_reset;
pub mod record;
pub mod record_closure;
pub mod record_counter;
pub mod record_rollup;
pub mod record_search;
pub mod record_uid;
pub mod retired_refresh_token;
pub mod role;
pub mod session;
pub mod stock_balance;
pub mod subject_key;
pub mod tenant;
pub mod tenant_template;
pub mod totp_recovery_code;
pub mod uid_counter;
pub mod user;
pub mod user_attribute;
pub mod user_totp;
pub mod webhook;
pub mod webhook_delivery;
pub mod workflow;
pub mod workflow_run;
pub mod workflow_step;

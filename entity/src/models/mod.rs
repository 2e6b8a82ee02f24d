//! SeaORM models of the platform tables (tenants, users, roles, sessions, entity and field
//! definitions, the change-event outbox, workflows with their runs and steps, approval policies
//! with their requests and decisions). Tenant records themselves are read and written by
//! `runtime::store` with compiled SQL, because their columns are defined at runtime.

pub mod api_key;
pub mod approval_decision;
pub mod approval_policy;
pub mod approval_request;
pub mod email;
pub mod entity_def;
pub mod field_def;
pub mod notification;
pub mod outbox;
pub mod retired_refresh_token;
pub mod role;
pub mod session;
pub mod tenant;
pub mod user;
pub mod webhook;
pub mod webhook_delivery;
pub mod workflow;
pub mod workflow_run;
pub mod workflow_step;

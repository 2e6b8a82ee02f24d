//! `it`: the black-box integration suite of Alphery OS. One server per test binary (SQLite by
//! default, PostgreSQL with `ALPHERY_TEST_DATABASE_URL`), driven over real HTTP and WebSocket;
//! every test signs up a fresh tenant. See `tests/run.sh` to run it on both backends.

mod harness;

/// As the server binary's, so the in-process server weighs its schema cache as in production.
#[global_allocator]
static ALLOCATOR: alphery_api::alloc::Counting<std::alloc::System> =
    alphery_api::alloc::Counting(std::alloc::System);

mod fixtures;

mod access;
mod aggregates;
mod ai;
mod approvals;
mod attachments;
mod audit;
mod auth;
mod bulk;
mod clock;
mod compiled;
mod confidence;
mod confidence_emails;
mod confidence_engine;
mod confidence_field;
mod crm_roles;
mod customer_memory;
mod dashboards;
mod date_buckets;
mod dead_jobs;
mod demo;
mod emails;
mod entities;
mod error_codes;
mod export;
mod field_types;
mod filters;
mod focus;
mod focus_live;
mod formulas;
mod gdpr;
mod graphiql;
mod hierarchy;
mod http;
mod i18n;
mod import_batches;
mod imports;
mod inbound;
mod indexes;
mod inputs;
mod instances;
mod isolation;
mod leases;
mod lifecycles;
mod limits;
mod live_dashboards;
mod live_instances;
mod live_lists;
mod live_modules;
mod live_news;
mod models;
mod module_changes;
mod modules;
mod notifications;
mod observability;
mod oidc;
mod pagination;
mod password_reset;
mod plans;
mod processes;
mod property;
mod rate_limits;
mod record_ids;
mod records;
mod relations;
mod responses;
mod rls;
mod rollup_fields;
mod rollups;
mod round_trips;
mod schema_cache;
mod sdl;
mod search;
mod startup;
mod stock;
mod subscriptions;
mod templates;
mod templates_business;
mod tenant_export;
mod timeline;
mod two_factor;
mod typed_inputs;
mod uids;
mod upgrades;
mod users;
mod webhooks;
mod workflows;

//! The AI gateway and Customer Memory. `ai_providers`: a tenant's model providers (wire format
//! `openai` or `anthropic`, base URL, model, prices per million tokens) with the API key sealed
//! under the server key (`api_key_sealed`; only `key_hint`, its last four characters, is ever
//! shown). `ai_usage`: one row per model call (tokens in and out, estimated cost in micro-USD,
//! who and which feature, how it ended). `ai_budgets`: a tenant's monthly budget in micro-USD.
//! `customer_memories`: each refresh of a record's memory as a new version — the extractive
//! facts with their citations and, when a provider answered, the model's summary beside them.
//! All four under row-level security on PostgreSQL.

use sea_orm_migration::prelude::*;

use crate::ddl;
use crate::m20261204_000025_rls_empty_tenant::rls_for_new_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables this migration creates under row-level security.
pub const TABLES: [&str; 4] = ["ai_providers", "ai_usage", "ai_budgets", "customer_memories"];

const UP: &str = r#"
CREATE TABLE ai_providers (
    id VARCHAR(36) PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL,
    wire_format VARCHAR(16) NOT NULL,
    base_url TEXT NOT NULL,
    model VARCHAR(200) NOT NULL,
    api_key_sealed TEXT NOT NULL,
    key_hint VARCHAR(16) NOT NULL,
    input_price DOUBLE PRECISION NOT NULL DEFAULT 0,
    output_price DOUBLE PRECISION NOT NULL DEFAULT 0,
    active {bool} NOT NULL DEFAULT TRUE,
    created_at {ts} NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE TABLE ai_usage (
    id VARCHAR(36) PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider_id VARCHAR(36),
    user_id VARCHAR(36),
    feature VARCHAR(64) NOT NULL,
    model VARCHAR(200) NOT NULL,
    tokens_in BIGINT NOT NULL,
    tokens_out BIGINT NOT NULL,
    cost_micros BIGINT NOT NULL,
    status VARCHAR(16) NOT NULL,
    error TEXT,
    created_at {ts} NOT NULL
);
CREATE INDEX ai_usage_by_time ON ai_usage (tenant_id, created_at);
CREATE TABLE ai_budgets (
    tenant_id VARCHAR(36) PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    monthly_micros BIGINT NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE TABLE customer_memories (
    id VARCHAR(36) PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    entity_id VARCHAR(36) NOT NULL,
    record_id VARCHAR(36) NOT NULL,
    version BIGINT NOT NULL,
    facts {json} NOT NULL,
    model_summary TEXT,
    model_citations {json},
    refreshed_at {ts} NOT NULL,
    UNIQUE (tenant_id, record_id, version)
)
"#;

const DOWN: &str =
    "DROP TABLE customer_memories;\nDROP TABLE ai_budgets;\nDROP TABLE ai_usage;\nDROP TABLE ai_providers";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        for t in TABLES {
            ddl::run_on_postgres(manager, &rls_for_new_table(t, "SELECT, INSERT, UPDATE, DELETE")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, DOWN).await
    }
}

//! The Deal Confidence Meter. `confidence_weights`: a tenant's weights (one JSON document per
//! tenant; a tenant without a row has the seed weights). `confidence_scores`: every computed
//! score of a pipeline record, with the factors explaining it, the stage it was computed in
//! (and since when), the outcome once the record closed — the history calibration reads — and
//! `latest` on the newest one, which the nightly pass selects by. `confidence_signals`: the
//! inbound events that feed the score (a proposal viewed), one row per event. All three under
//! row-level security on PostgreSQL.

use sea_orm_migration::prelude::*;

use crate::ddl;
use crate::m20261204_000025_rls_empty_tenant::rls_for_new_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables this migration creates under row-level security.
pub const TABLES: [&str; 3] = ["confidence_weights", "confidence_scores", "confidence_signals"];

const UP: &str = r#"
CREATE TABLE confidence_weights (
    tenant_id VARCHAR(36) PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    weights {json} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE TABLE confidence_scores (
    id VARCHAR(36) PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    entity_id VARCHAR(36) NOT NULL,
    record_id VARCHAR(36) NOT NULL,
    version BIGINT NOT NULL,
    score INTEGER NOT NULL,
    factors {json} NOT NULL,
    stage VARCHAR(255),
    stage_since {ts} NOT NULL,
    outcome VARCHAR(8),
    latest {bool} NOT NULL,
    computed_at {ts} NOT NULL,
    UNIQUE (tenant_id, record_id, version)
);
CREATE INDEX confidence_scores_due ON confidence_scores (tenant_id, latest, computed_at);
CREATE INDEX confidence_scores_by_entity ON confidence_scores (tenant_id, entity_id, record_id, version);
CREATE TABLE confidence_signals (
    id VARCHAR(36) PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    entity_id VARCHAR(36) NOT NULL,
    record_id VARCHAR(36) NOT NULL,
    signal VARCHAR(32) NOT NULL,
    at {ts} NOT NULL,
    created_at {ts} NOT NULL
);
CREATE INDEX confidence_signals_by_record ON confidence_signals (tenant_id, record_id, signal)
"#;

const DOWN: &str =
    "DROP TABLE confidence_signals;\nDROP TABLE confidence_scores;\nDROP TABLE confidence_weights";

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

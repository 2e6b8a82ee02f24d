//! Outgoing webhooks: subscriptions of a tenant to event types, with up to two active signing
//! secrets (rotation), and the delivery log (one row per webhook and event: the unique key makes
//! a re-relayed event deliver once).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261121_000003_access::rls_for_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE webhooks (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url VARCHAR(2048) NOT NULL,
    description TEXT,
    events {json} NOT NULL,
    secrets {json} NOT NULL,
    active {bool} NOT NULL,
    created_at {ts} NOT NULL
);
CREATE INDEX webhooks_tenant_idx ON webhooks (tenant_id, active);
CREATE TABLE webhook_deliveries (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    webhook_id VARCHAR(36) NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_key VARCHAR(100) NOT NULL,
    event_type VARCHAR(200) NOT NULL,
    payload {json} NOT NULL,
    status VARCHAR(16) NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    response_status INTEGER,
    last_error TEXT,
    created_at {ts} NOT NULL,
    delivered_at {ts},
    UNIQUE (webhook_id, event_key)
);
CREATE INDEX webhook_deliveries_idx ON webhook_deliveries (tenant_id, webhook_id, created_at)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            for t in ["webhooks", "webhook_deliveries"] {
                ddl::run(manager, &rls_for_table(t, "SELECT, INSERT, UPDATE, DELETE")).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "DROP TABLE webhook_deliveries;\nDROP TABLE webhooks").await
    }
}

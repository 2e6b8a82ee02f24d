//! OpenID Connect sign-in per tenant: the tenant's identity providers (`oidc_providers`, the
//! client secret sealed with the server's key, never stored in clear), the logins under way
//! between `startOidcLogin` and `completeOidcLogin` (`oidc_logins`, keyed by the hash of their
//! `state`, single use, with the PKCE verifier and nonce they must be completed with), and which
//! provider subject is which user (`oidc_identities`). Under row-level security like every
//! tenant table, with the policy reading the tenant setting as migration 25 made every policy do.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261121_000003_access::rls_for_table;
use crate::m20261204_000025_rls_empty_tenant::TENANT;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables this migration adds, each under the tenant policy on PostgreSQL.
pub const TABLES: [&str; 3] = ["oidc_providers", "oidc_logins", "oidc_identities"];

const UP: &str = r#"
CREATE TABLE oidc_providers (
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider_key VARCHAR(64) NOT NULL,
    issuer VARCHAR(2048) NOT NULL,
    client_id VARCHAR(512) NOT NULL,
    client_secret_sealed TEXT NOT NULL,
    scopes {json} NOT NULL,
    default_role VARCHAR(100) NOT NULL,
    allow_signup {bool} NOT NULL,
    allowed_email_domains {json} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, provider_key)
);
CREATE TABLE oidc_logins (
    state_hash VARCHAR(64) PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider_key VARCHAR(64) NOT NULL,
    nonce VARCHAR(128) NOT NULL,
    code_verifier VARCHAR(128) NOT NULL,
    redirect_uri VARCHAR(2048) NOT NULL,
    expires_at {ts} NOT NULL
);
CREATE INDEX oidc_logins_expiry ON oidc_logins (tenant_id, expires_at);
CREATE TABLE oidc_identities (
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider_key VARCHAR(64) NOT NULL,
    subject VARCHAR(255) NOT NULL,
    user_id VARCHAR(36) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, provider_key, subject)
)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            for t in TABLES {
                ddl::run(manager, &rls_for_table(t, "SELECT, INSERT, UPDATE, DELETE")).await?;
                // As every tenant policy since migration 25: an empty setting is an unset one.
                let policy = format!(
                    "ALTER POLICY {t}_tenant ON {t} USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
                );
                ddl::run(manager, &policy).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "DROP TABLE oidc_identities;\nDROP TABLE oidc_logins;\nDROP TABLE oidc_providers")
            .await
    }
}

//! `emails.entity_id` and `emails.record_id`: the record an email is about (a workflow's
//! `send_email` on a record), null for one about none (an invitation, a password reset). The
//! timeline finds a record's emails, and the confidence meter its last email touch, by the
//! index `(tenant_id, record_id, sent_at)` instead of matching idempotency keys against
//! workflow runs. Emails queued before are linked from their run (`wf:<run>:<position>`).
//! `emails` is under row-level security already (migration 3): new columns need no policy.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE emails ADD COLUMN entity_id VARCHAR(36);
ALTER TABLE emails ADD COLUMN record_id VARCHAR(36);
UPDATE emails SET
    record_id = (SELECT r.record_id FROM workflow_runs r
        WHERE r.id = substr(emails.idempotency_key, 4, 36) AND r.tenant_id = emails.tenant_id
        AND emails.idempotency_key LIKE ('wf:' || r.id || ':%')),
    entity_id = (SELECT w.entity_id FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id
        WHERE r.id = substr(emails.idempotency_key, 4, 36) AND r.tenant_id = emails.tenant_id
        AND emails.idempotency_key LIKE ('wf:' || r.id || ':%'))
    WHERE idempotency_key LIKE 'wf:%';
CREATE INDEX emails_by_record ON emails (tenant_id, record_id, sent_at)
"#;

const DOWN: &str = "DROP INDEX emails_by_record;
ALTER TABLE emails DROP COLUMN record_id;
ALTER TABLE emails DROP COLUMN entity_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, DOWN).await
    }
}

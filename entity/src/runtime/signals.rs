//! Access signals that every server instance must hear (they close sockets): a session or
//! API key revoked, a role's permissions or a user's role changed. Written to the outbox in
//! the transaction of the change, so every instance's tailer publishes them after commit.

use sea_orm::ConnectionTrait;
use serde_json::json;

use super::store::write_outbox;
use crate::{Dialect, Result};

/// Outbox topic: `{"sessionId"}` (a session id or an API key id) was revoked.
pub const TOPIC_SESSION_REVOKED: &str = "session.revoked";
/// Outbox topic: `{"roleId"?, "userId"?}` — what a holder of that role, or that user, may
/// access has changed.
pub const TOPIC_ACCESS_CHANGED: &str = "access.changed";

pub async fn session_revoked(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    session_id: &str,
) -> Result<()> {
    write_outbox(txn, d, tenant_id, TOPIC_SESSION_REVOKED, &json!({ "sessionId": session_id })).await
}

pub async fn access_changed(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    role_id: Option<&str>,
    user_id: Option<&str>,
) -> Result<()> {
    write_outbox(txn, d, tenant_id, TOPIC_ACCESS_CHANGED, &json!({ "roleId": role_id, "userId": user_id }))
        .await
}

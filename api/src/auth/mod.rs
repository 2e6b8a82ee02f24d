//! Authentication: who is calling. Passwords (`password`), access and refresh tokens
//! (`tokens`), and the session operations signup/login/refresh/logout (`service`). Every
//! request and socket resolves its credential to a `Principal` through `authenticate`, which
//! checks the server-side session, so a revoked session stops working at once.

pub mod password;
pub mod service;
pub mod tokens;

use sea_orm::ConnectionTrait;

use crate::error::ApiError;
use crate::state::AppState;
use entity::runtime::sql::SqlBuf;

/// The authenticated caller of a request or socket.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant_id: String,
    pub user_id: String,
    pub session_id: String,
    /// Role name (`owner`, `admin`, `member`, …).
    pub role: String,
    /// The tenant's metadata version when the request started (selects the schema).
    pub metadata_version: i64,
    /// When the access token expires (unix seconds): sockets close then.
    pub token_exp: u64,
}

impl Principal {
    /// Owners and admins may change definitions.
    pub fn can_define(&self) -> bool {
        matches!(self.role.as_str(), "owner" | "admin")
    }
}

/// Resolves a bearer access token to its principal, checking signature, claims and the
/// session row (revoked or expired sessions, deactivated users).
pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let claims = state.keys.verify(token)?;
    let d = state.db.dialect;
    let mut buf = SqlBuf::new(d);
    buf.push(
        "SELECT s.revoked_at IS NULL AS live, s.expires_at, u.is_active, r.name AS role, \
         t.metadata_version FROM sessions s JOIN users u ON u.id = s.user_id \
         JOIN roles r ON r.id = u.role_id JOIN tenants t ON t.id = s.tenant_id WHERE s.id = ",
    );
    buf.bind(claims.sid.clone()).push(" AND s.user_id = ").bind(claims.sub.clone());
    buf.push(" AND s.tenant_id = ").bind(claims.tid.clone());
    let txn = state.db.begin_tenant(&claims.tid, false).await?;
    let row = txn
        .query_one_raw(buf.into_statement())
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("session not found".into()))?;
    txn.commit().await?;
    let live: bool = row.try_get("", "live")?;
    let active: bool = row.try_get("", "is_active")?;
    let expires_at = tokens::timestamp_col(&row, d, "expires_at")?;
    if !live || !active || expires_at <= chrono::Utc::now() {
        return Err(ApiError::Unauthenticated("session revoked or expired".into()));
    }
    Ok(Principal {
        tenant_id: claims.tid,
        user_id: claims.sub,
        session_id: claims.sid,
        role: row.try_get("", "role")?,
        metadata_version: row.try_get("", "metadata_version")?,
        token_exp: claims.exp,
    })
}

//! Authentication: who is calling. Passwords (`password`), access and refresh tokens
//! (`tokens`), and the session operations signup/login/refresh/logout (`service`). Every
//! request and socket resolves its credential to a `Principal` through `authenticate` (user
//! access tokens: signature, claims, then the server-side session row) or `authenticate_key`
//! (API keys), so a revoked session or key stops working at once. What they resolve to is
//! kept in `cache` (evicted by every revocation, role or definition change).

pub mod cache;
pub mod password;
pub mod service;
pub mod tokens;

use std::sync::Arc;

use entity::Dialect;
use entity::runtime::policy::Permissions;
use entity::sql_buf::SqlBuf;
use sea_orm::{ConnectionTrait, QueryResult};

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller of a request or socket.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant_id: String,
    /// The user (for an API key: the user who created it, on whose behalf it acts).
    pub user_id: String,
    /// The session (user tokens) or the API key id (integrations): revoking it ends access.
    pub session_id: String,
    /// Set when the caller is an API key.
    pub api_key_id: Option<String>,
    pub role_id: String,
    /// Role name (`owner`, `admin`, `member`, …).
    pub role: String,
    /// The role's parsed permissions.
    pub permissions: Arc<Permissions>,
    /// The tenant's metadata version when the request started (selects the schema).
    pub metadata_version: i64,
    /// When the credential expires (unix seconds): sockets close then.
    pub token_exp: u64,
}

/// Parses a permissions column (JSONB, or JSON text on SQLite).
pub fn permissions_col(row: &QueryResult, d: Dialect, col: &str) -> Result<Permissions, ApiError> {
    let v: serde_json::Value = match d {
        Dialect::Postgres => row.try_get("", col)?,
        Dialect::Sqlite => serde_json::from_str(&row.try_get::<String>("", col)?)
            .map_err(|e| ApiError::Internal(format!("permissions json: {e}")))?,
    };
    Ok(Permissions::from_stored(&v))
}

/// Resolves a bearer access token to its principal, checking signature, claims and the
/// session row (revoked or expired sessions, deactivated users).
pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let claims = state.keys.verify(token)?;
    let key = cache::CredentialKey::Session(&claims.sid);
    if let Some(mut p) = state.auth_cache.get(&key)
        && p.user_id == claims.sub
        && p.tenant_id == claims.tid
    {
        p.token_exp = claims.exp;
        return Ok(p);
    }
    let read_at = std::time::Instant::now();
    let d = state.db.dialect;
    let mut buf = SqlBuf::new(d);
    buf.push(
        "SELECT s.revoked_at IS NULL AS live, s.expires_at, u.is_active, r.id AS role_id, r.name AS role, \
         r.permissions, t.metadata_version FROM sessions s JOIN users u ON u.id = s.user_id \
         JOIN roles r ON r.id = u.role_id JOIN tenants t ON t.id = s.tenant_id WHERE s.id = ",
    );
    buf.bind(claims.sid.clone()).push(" AND s.user_id = ").bind(claims.sub.clone());
    buf.push(" AND s.tenant_id = ").bind(claims.tid.clone());
    let txn = state.db.begin_tenant_read(&claims.tid).await?;
    let row = txn
        .query_one_raw(buf.into_statement())
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("session not found".into()))?;
    txn.commit().await?;
    let live: bool = row.try_get("", "live")?;
    let active: bool = row.try_get("", "is_active")?;
    let expires_at = entity::runtime::time::column(&row, d, "expires_at")?
        .ok_or_else(|| ApiError::Internal("session without expiry".into()))?;
    if !live || !active || expires_at <= chrono::Utc::now() {
        return Err(ApiError::Unauthenticated("session revoked or expired".into()));
    }
    let p = Principal {
        tenant_id: claims.tid,
        user_id: claims.sub,
        session_id: claims.sid.clone(),
        api_key_id: None,
        role_id: row.try_get("", "role_id")?,
        role: row.try_get("", "role")?,
        permissions: Arc::new(permissions_col(&row, d, "permissions")?),
        metadata_version: row.try_get("", "metadata_version")?,
        token_exp: claims.exp,
    };
    state.auth_cache.put(&cache::CredentialKey::Session(&claims.sid), &p, Some(expires_at), read_at);
    Ok(p)
}

/// Resolves an `X-Api-Key` to its principal: the key's role, acting for its creator.
pub async fn authenticate_key(state: &AppState, key: &str) -> Result<Principal, ApiError> {
    let invalid = || ApiError::Unauthenticated("invalid API key".into());
    let tenant_id = tokens::api_key_tenant(key).ok_or_else(invalid)?;
    let hash = tokens::hash_refresh(key);
    let cache_key = cache::CredentialKey::ApiKey(&hash);
    if let Some(p) = state.auth_cache.get(&cache_key).filter(|p| p.tenant_id == tenant_id) {
        return Ok(p);
    }
    let read_at = std::time::Instant::now();
    let d = state.db.dialect;
    let mut buf = SqlBuf::new(d);
    buf.push(
        "SELECT k.id, k.created_by, k.revoked_at IS NULL AS live, r.id AS role_id, r.name AS role, \
         r.permissions, t.metadata_version FROM api_keys k JOIN roles r ON r.id = k.role_id \
         JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = ",
    );
    buf.bind(hash.clone()).push(" AND k.tenant_id = ").bind(tenant_id.to_owned());
    let txn = state.db.begin_tenant_read(tenant_id).await?;
    let row = txn.query_one_raw(buf.into_statement()).await?.ok_or_else(invalid)?;
    txn.commit().await?;
    if !row.try_get::<bool>("", "live")? {
        return Err(ApiError::Unauthenticated("API key revoked".into()));
    }
    let id: String = row.try_get("", "id")?;
    let p = Principal {
        tenant_id: tenant_id.to_owned(),
        user_id: row.try_get::<Option<String>>("", "created_by")?.unwrap_or_default(),
        session_id: id.clone(),
        api_key_id: Some(id),
        role_id: row.try_get("", "role_id")?,
        role: row.try_get("", "role")?,
        permissions: Arc::new(permissions_col(&row, d, "permissions")?),
        metadata_version: row.try_get("", "metadata_version")?,
        // Keys do not expire; revoking one closes its sockets.
        token_exp: u64::MAX / 4,
    };
    state.auth_cache.put(&cache_key, &p, None, read_at);
    Ok(p)
}

//! Authentication: who is calling. Passwords (`password`), access and refresh tokens
//! (`tokens`), the session operations signup/login/refresh/logout (`service`), TOTP codes
//! (`totp`) and the second factor of a sign-in (`second_factor`), sign-in through a tenant's
//! OpenID Connect providers (`oidc`), and the sealing of secrets at rest (`sealed`: TOTP
//! secrets, OIDC client secrets). Every request and socket resolves
//! its credential to a `Principal` through `authenticate` (user access tokens: signature,
//! claims, then the server-side session row) or `authenticate_key` (API keys), so a revoked
//! session or key stops working at once. What they resolve to is kept in `cache` (evicted by
//! every revocation, role or definition change).

pub mod cache;
pub mod oidc;
pub mod password;
pub mod principal;
pub mod second_factor;
pub mod service;
pub mod tokens;
pub mod totp;

use entity::features::users::{Access, api_keys, sessions};

use crate::error::ApiError;
use crate::services::Services;
use principal::Principal;

/// Resolves a bearer access token to its principal, checking signature, claims and the
/// session row (revoked or expired sessions, deactivated users).
pub async fn authenticate(state: &Services, token: &str) -> Result<Principal, ApiError> {
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
    let txn = state.db.begin_tenant_read(&claims.tid).await?;
    let session = sessions::access(&txn, &claims.tid, &claims.sid, &claims.sub)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("session not found".into()))?;
    txn.commit().await?;
    let expires_at = session.expires_at;
    if !session.live || !session.active || expires_at <= chrono::Utc::now() {
        return Err(ApiError::Unauthenticated("session revoked or expired".into()));
    }
    let Access { role_id, role, permissions, metadata_version, tenant_deleting, attributes, time_zone } =
        session.access;
    let p = Principal {
        tenant_id: claims.tid,
        user_id: claims.sub,
        session_id: claims.sid.clone(),
        api_key_id: None,
        role_id,
        role,
        permissions,
        metadata_version,
        tenant_deleting,
        token_exp: claims.exp,
        attributes,
        time_zone,
    };
    state.auth_cache.put(&cache::CredentialKey::Session(&claims.sid), &p, Some(expires_at), read_at);
    Ok(p)
}

/// Resolves an `X-Api-Key` to its principal: the key's role, acting for its creator.
pub async fn authenticate_key(state: &Services, key: &str) -> Result<Principal, ApiError> {
    let invalid = || ApiError::Unauthenticated("invalid API key".into());
    let tenant_id = tokens::api_key_tenant(key).ok_or_else(invalid)?;
    let hash = tokens::hash_refresh(key);
    let cache_key = cache::CredentialKey::ApiKey(&hash);
    if let Some(p) = state.auth_cache.get(&cache_key).filter(|p| p.tenant_id == tenant_id) {
        return Ok(p);
    }
    let read_at = std::time::Instant::now();
    let txn = state.db.begin_tenant_read(tenant_id).await?;
    let key = api_keys::access(&txn, tenant_id, &hash).await?.ok_or_else(invalid)?;
    txn.commit().await?;
    if !key.live {
        return Err(ApiError::Unauthenticated("API key revoked".into()));
    }
    let Access { role_id, role, permissions, metadata_version, tenant_deleting, attributes, time_zone } =
        key.access;
    let p = Principal {
        tenant_id: tenant_id.to_owned(),
        user_id: key.created_by.unwrap_or_default(),
        session_id: key.id.clone(),
        api_key_id: Some(key.id),
        role_id,
        role,
        permissions,
        metadata_version,
        tenant_deleting,
        // Keys do not expire; revoking one closes its sockets.
        token_exp: u64::MAX / 4,
        attributes,
        time_zone,
    };
    state.auth_cache.put(&cache_key, &p, None, read_at);
    Ok(p)
}

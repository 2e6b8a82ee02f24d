//! The second factor of a sign-in: for a user with TOTP on, `login` (and `resetPassword`, so a
//! stolen mailbox does not bypass it) needs a current code, or one of the recovery codes, in
//! the transaction that opens the session. A code's time step is spent by its use (no replay
//! within its window); a recovery code is spent for good. A user without TOTP passes as
//! before, with nothing read.

use entity::features::users::two_factor;
use entity::models::user;
use sea_orm::ConnectionTrait;

use super::totp;
use crate::error::ApiError;
use crate::services::Services;

/// `extensions.reason` of a sign-in that needs a two-factor code and has none.
pub const TOTP_REQUIRED: &str = "totp_required";
/// `extensions.reason` of a sign-in whose two-factor code is wrong, expired or already used.
pub const TOTP_INVALID: &str = "totp_invalid";

/// What a user's sealed secret is bound to (`entity::sealed::Sealer`).
pub fn context(tenant_id: &str, user_id: &str) -> String {
    format!("totp:{tenant_id}:{user_id}")
}

/// Whether `code` — a TOTP code of the user's enabled secret, or one of their unused recovery
/// codes — passes, spending it when it does. False for a user without TOTP on.
pub async fn verify(
    state: &Services,
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
    code: &str,
) -> Result<bool, ApiError> {
    let Some(row) = two_factor::find(conn, tenant_id, user_id).await?.filter(|t| t.enabled) else {
        return Ok(false);
    };
    if !totp::looks_like_code(code) {
        let spent = two_factor::use_recovery(conn, tenant_id, user_id, &totp::recovery_hash(code)).await?;
        if spent {
            two_factor::audit_recovery_used(conn, state.db.dialect, tenant_id, user_id).await?;
        }
        return Ok(spent);
    }
    let secret = state.sealer.open(&row.secret, &context(tenant_id, user_id)).ok_or_else(|| {
        // Only a changed server key (or an altered row) does this: an administrator's
        // `resetUserTotp` lets the user in again.
        ApiError::Internal(format!("the TOTP secret of user {user_id} does not open with the server key"))
    })?;
    match totp::matching_step(&secret, code, totp::now_secs()) {
        Some(step) => Ok(two_factor::use_step(conn, tenant_id, user_id, step).await?),
        None => Ok(false),
    }
}

/// Why user `u`, whose password was right, may not sign in with `code` (`None`: they may; a
/// code was spent if one was needed).
pub async fn refusal(
    state: &Services,
    conn: &impl ConnectionTrait,
    u: &user::Model,
    code: Option<&str>,
) -> Result<Option<ApiError>, ApiError> {
    if !u.totp_enabled {
        return Ok(None);
    }
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(Some(ApiError::Refused {
            message: "two-factor sign-in is on for this account: send `totpCode` (or a recovery code)".into(),
            reason: TOTP_REQUIRED,
        }));
    };
    if verify(state, conn, &u.tenant_id, &u.id, code).await? {
        return Ok(None);
    }
    Ok(Some(ApiError::Refused {
        message: "invalid, expired or already used two-factor code".into(),
        reason: TOTP_INVALID,
    }))
}

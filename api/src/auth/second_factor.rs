//! The second factor of a sign-in: for a user with TOTP on, `login` (and `resetPassword`, so a
//! stolen mailbox does not bypass it) needs a current code, or one of the recovery codes, in
//! the transaction that opens the session. A code's time step is spent by its use (no replay
//! within its window); a recovery code is spent for good. A user without TOTP passes as
//! before, with nothing read. Wrong codes are counted on the user's row and lock the second
//! factor for a while (`totp_locked`), on every instance alike.

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
/// `extensions.reason` of a sign-in refused because too many wrong codes came lately
/// (`two_factor::LOCK_AFTER` within `two_factor::LOCK_WINDOW_MINUTES`), whatever its code.
pub const TOTP_LOCKED: &str = "totp_locked";

/// What a user's sealed secret is bound to (`entity::sealed::Sealer`).
pub fn context(tenant_id: &str, user_id: &str) -> String {
    format!("totp:{tenant_id}:{user_id}")
}

/// What a presented code came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Right, and now spent.
    Passed,
    /// Wrong, expired or already used (counted towards the lockout); or the user has no
    /// two-factor sign-in on.
    Wrong,
    /// Not even looked at: too many wrong codes lately (`two_factor::locked`).
    Locked,
}

impl Check {
    /// The error of a code that did not pass, in the words of a sign-in (`None`: it passed).
    pub fn sign_in_refusal(self) -> Option<ApiError> {
        match self {
            Check::Passed => None,
            Check::Wrong => Some(ApiError::Refused {
                message: "invalid, expired or already used two-factor code".into(),
                reason: TOTP_INVALID,
            }),
            Check::Locked => Some(locked_error()),
        }
    }
}

/// The refusal of a locked second factor.
pub fn locked_error() -> ApiError {
    ApiError::Refused {
        message: format!(
            "too many wrong two-factor codes: try again within {} minutes, or ask an administrator to unlock it",
            two_factor::LOCK_WINDOW_MINUTES
        ),
        reason: TOTP_LOCKED,
    }
}

/// Checks `code` — a TOTP code of the user's enabled secret, or one of their unused recovery
/// codes — spending it when it passes. A wrong code is counted (the caller commits its
/// transaction even on a refusal, so the count holds); a locked second factor is refused
/// without looking at the code, so guesses made during the lock learn nothing.
pub async fn verify(
    state: &Services,
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
    code: &str,
) -> Result<Check, ApiError> {
    let Some(row) = two_factor::find(conn, tenant_id, user_id).await?.filter(|t| t.enabled) else {
        return Ok(Check::Wrong);
    };
    if two_factor::locked(&row, chrono::Utc::now()).is_some() {
        return Ok(Check::Locked);
    }
    let passed = if totp::looks_like_code(code) {
        let secret = state.sealer.open(&row.secret, &context(tenant_id, user_id)).ok_or_else(|| {
            // Only a changed server key (or an altered row) does this: an administrator's
            // `resetUserTotp` lets the user in again.
            ApiError::Internal(format!("the TOTP secret of user {user_id} does not open with the server key"))
        })?;
        match totp::matching_step(&secret, code, totp::now_secs()) {
            Some(step) => two_factor::use_step(conn, tenant_id, user_id, step).await?,
            None => false,
        }
    } else {
        let spent = two_factor::use_recovery(conn, tenant_id, user_id, &totp::recovery_hash(code)).await?;
        if spent {
            two_factor::audit_recovery_used(conn, state.db.dialect, tenant_id, user_id).await?;
        }
        spent
    };
    if !passed {
        two_factor::count_failure(conn, tenant_id, user_id).await?;
        return Ok(Check::Wrong);
    }
    if row.failed_codes > 0 {
        two_factor::clear_failures(conn, tenant_id, user_id).await?;
    }
    Ok(Check::Passed)
}

/// Why user `u`, whose password was right, may not sign in with `code` (`None`: they may; a
/// code was spent if one was needed). The caller commits its transaction on a refusal too, so
/// that a wrong code counts.
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
    Ok(verify(state, conn, &u.tenant_id, &u.id, code).await?.sign_in_refusal())
}

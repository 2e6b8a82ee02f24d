//! TOTP two-factor sign-in in the data layer: enrolment (a pending secret), confirmation (the
//! secret turns on with a set of recovery codes), the single use of a code's time step or of a
//! recovery code at sign-in, and turning it off (by the user, or an administrator's reset).
//! The secret arrives sealed and the recovery codes hashed: the cryptography and the RFC 6238
//! arithmetic are the API's (`api::auth::totp`). Every use is a conditional statement, so of
//! two concurrent sign-ins with one code only one passes.
//!
//! Wrong codes are counted on the user's row ([`count_failure`], one statement), not in a
//! process: [`LOCK_AFTER`] of them within [`LOCK_WINDOW_MINUTES`] lock the second factor
//! ([`locked`]) on every instance until the window passes, a right code is accepted after it, or
//! an administrator unlocks it ([`admin_unlock`]). New recovery codes replace the old ones at
//! once ([`replace_recovery`]).

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

use super::profile::Me;
use super::{Admin, OWNER_ROLE, UserView, accounts, audit_user, roles};
use crate::models::{tenant, totp_recovery_code as recovery, user, user_totp};
use crate::runtime::audit;
use crate::runtime::time;
use crate::{Dialect, Error, Result};

/// The TOTP row of a user (pending or enabled), if any.
pub async fn find(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<user_totp::Model>> {
    Ok(user_totp::Entity::find_by_id(user_id.to_owned())
        .filter(user_totp::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await?)
}

/// Whom a new secret is for, as an authenticator app names it.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub email: String,
    pub tenant_slug: String,
}

/// `enrollTotp`: a new pending secret (`sealed`) for the caller, replacing a pending one.
/// `CONFLICT` when two-factor is already on (turn it off first).
pub async fn enroll(
    conn: &impl ConnectionTrait,
    d: Dialect,
    me: &Me<'_>,
    sealed: String,
) -> Result<Enrolled> {
    if find(conn, me.tenant_id, me.user_id).await?.is_some_and(|t| t.enabled) {
        return Err(Error::Conflict("two-factor sign-in is already on: turn it off first".into()));
    }
    let u = accounts::find(conn, me.tenant_id, me.user_id).await?;
    let t = tenant::Entity::find_by_id(me.tenant_id.to_owned())
        .one(conn)
        .await?
        .ok_or_else(|| Error::NotFound("tenant".into()))?;
    delete_secret(conn, me.tenant_id, me.user_id).await?;
    user_totp::ActiveModel {
        user_id: Set(me.user_id.to_owned()),
        tenant_id: Set(me.tenant_id.to_owned()),
        secret: Set(sealed),
        enabled: Set(false),
        last_step: Set(None),
        failed_codes: Set(0),
        failed_since: Set(None),
        created_at: Set(time::now()),
    }
    .insert(conn)
    .await?;
    audit_user(conn, d, (me.tenant_id, me.user_id), me.actor, "user.totp_enroll", json!({})).await?;
    Ok(Enrolled { email: u.email, tenant_slug: t.slug })
}

/// `confirmTotp`: turns the caller's pending secret on, its first code having matched time
/// step `step`, with the recovery codes whose hashes are `codes`.
pub async fn confirm(
    conn: &impl ConnectionTrait,
    d: Dialect,
    me: &Me<'_>,
    step: u64,
    codes: Vec<String>,
) -> Result<()> {
    let turned = user_totp::Entity::update_many()
        .col_expr(user_totp::Column::Enabled, Expr::value(true))
        .col_expr(user_totp::Column::LastStep, Expr::value(step as i64))
        .filter(user_totp::Column::UserId.eq(me.user_id))
        .filter(user_totp::Column::TenantId.eq(me.tenant_id))
        .filter(user_totp::Column::Enabled.eq(false))
        .exec(conn)
        .await?;
    if turned.rows_affected != 1 {
        return Err(Error::Conflict("no pending two-factor enrolment: call enrollTotp first".into()));
    }
    insert_recovery(conn, me.tenant_id, me.user_id, codes).await?;
    set_flag(conn, me.tenant_id, me.user_id, true).await?;
    audit_user(conn, d, (me.tenant_id, me.user_id), me.actor, "user.totp_enable", json!({})).await
}

/// Stores the recovery codes whose hashes are `codes`.
async fn insert_recovery(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
    codes: Vec<String>,
) -> Result<()> {
    let rows = codes.into_iter().map(|code_hash| recovery::ActiveModel {
        tenant_id: Set(tenant_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        code_hash: Set(code_hash),
    });
    recovery::Entity::insert_many(rows).exec_without_returning(conn).await?;
    Ok(())
}

/// Deletes every recovery code of the user.
async fn delete_recovery(conn: &impl ConnectionTrait, tenant_id: &str, user_id: &str) -> Result<()> {
    recovery::Entity::delete_many()
        .filter(recovery::Column::TenantId.eq(tenant_id))
        .filter(recovery::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// `regenerateRecoveryCodes`: the caller's recovery codes become those whose hashes are
/// `codes`; every older one stops working in this same transaction. `CONFLICT` when two-factor
/// sign-in is not on.
pub async fn replace_recovery(
    conn: &impl ConnectionTrait,
    d: Dialect,
    me: &Me<'_>,
    codes: Vec<String>,
) -> Result<()> {
    if !find(conn, me.tenant_id, me.user_id).await?.is_some_and(|t| t.enabled) {
        return Err(Error::Conflict("two-factor sign-in is not on".into()));
    }
    let count = codes.len();
    delete_recovery(conn, me.tenant_id, me.user_id).await?;
    insert_recovery(conn, me.tenant_id, me.user_id, codes).await?;
    let changes = json!({"codes": count});
    audit_user(conn, d, (me.tenant_id, me.user_id), me.actor, "user.totp_recovery_regenerate", changes).await
}

/// Wrong codes that lock a user's second factor…
pub const LOCK_AFTER: i32 = 5;
/// …when they come within this many minutes (counted from the first of them).
pub const LOCK_WINDOW_MINUTES: i64 = 15;

/// The start of the window of wrong codes that still count at `now`.
fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::minutes(LOCK_WINDOW_MINUTES)
}

/// Whether `row`'s second factor is locked at `now`: [`LOCK_AFTER`] wrong codes within the
/// window. Until when, if it is.
pub fn locked(row: &user_totp::Model, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let since = row.failed_since.filter(|s| *s > window_start(now))?;
    (row.failed_codes >= LOCK_AFTER).then(|| since + Duration::minutes(LOCK_WINDOW_MINUTES))
}

/// Counts a wrong code for the user, in one statement (two instances counting at once both
/// count): a count older than the window starts over at one.
pub async fn count_failure(conn: &impl ConnectionTrait, tenant_id: &str, user_id: &str) -> Result<()> {
    let now = time::now();
    let stale = || {
        Expr::col(user_totp::Column::FailedSince)
            .is_null()
            .or(Expr::col(user_totp::Column::FailedSince).lt(window_start(now)))
    };
    let count = Expr::case(stale(), 1).finally(Expr::col(user_totp::Column::FailedCodes).add(1));
    let since = Expr::case(stale(), now).finally(Expr::col(user_totp::Column::FailedSince));
    user_totp::Entity::update_many()
        .col_expr(user_totp::Column::FailedCodes, count.into())
        .col_expr(user_totp::Column::FailedSince, since.into())
        .filter(user_totp::Column::UserId.eq(user_id))
        .filter(user_totp::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Forgets the user's wrong codes (a right code, or an administrator's unlock).
pub async fn clear_failures(conn: &impl ConnectionTrait, tenant_id: &str, user_id: &str) -> Result<()> {
    user_totp::Entity::update_many()
        .col_expr(user_totp::Column::FailedCodes, Expr::value(0))
        .col_expr(user_totp::Column::FailedSince, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(user_totp::Column::UserId.eq(user_id))
        .filter(user_totp::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// `unlockUserTotp`: an administrator forgets a user's wrong codes (the second factor stays
/// on). `CONFLICT` when the user has no two-factor sign-in on.
pub async fn admin_unlock(
    conn: &impl ConnectionTrait,
    d: Dialect,
    admin: &Admin<'_>,
    user_id: &str,
) -> Result<UserView> {
    let u = accounts::find(conn, admin.tenant_id, user_id).await?;
    let role = roles::find(conn, admin.tenant_id, &u.role_id).await?;
    if roles::is_owner(&role) && admin.role != OWNER_ROLE {
        return Err(Error::Forbidden("only owners may unlock an owner's two-factor sign-in".into()));
    }
    let row = find(conn, admin.tenant_id, &u.id).await?.filter(|t| t.enabled);
    let Some(row) = row else {
        return Err(Error::Conflict("this user has no two-factor sign-in on".into()));
    };
    clear_failures(conn, admin.tenant_id, &u.id).await?;
    let changes = json!({"failedCodes": row.failed_codes});
    audit_user(conn, d, (admin.tenant_id, &u.id), admin.actor, "user.totp_unlock", changes).await?;
    Ok(UserView::of(&u, role.name))
}

/// `users.totp_enabled`, which sign-in reads with the user.
async fn set_flag(conn: &impl ConnectionTrait, tenant_id: &str, user_id: &str, on: bool) -> Result<()> {
    user::Entity::update_many()
        .col_expr(user::Column::TotpEnabled, Expr::value(on))
        .col_expr(user::Column::UpdatedAt, Expr::value(time::now()))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Spends time step `step` of the user's enabled secret: false when a code of that step or a
/// later one was already accepted (a replayed code).
pub async fn use_step(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
    step: u64,
) -> Result<bool> {
    let step = step as i64;
    let res = user_totp::Entity::update_many()
        .col_expr(user_totp::Column::LastStep, Expr::value(step))
        .filter(user_totp::Column::UserId.eq(user_id))
        .filter(user_totp::Column::TenantId.eq(tenant_id))
        .filter(user_totp::Column::Enabled.eq(true))
        .filter(user_totp::Column::LastStep.is_null().or(user_totp::Column::LastStep.lt(step)))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Spends the recovery code whose hash is `code_hash`: false when the user has no such unused
/// code. Returns whether it was spent.
pub async fn use_recovery(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
    code_hash: &str,
) -> Result<bool> {
    let res = recovery::Entity::delete_many()
        .filter(recovery::Column::TenantId.eq(tenant_id))
        .filter(recovery::Column::UserId.eq(user_id))
        .filter(recovery::Column::CodeHash.eq(code_hash))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records that a sign-in passed with a recovery code (the user should make new ones).
pub async fn audit_recovery_used(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    user_id: &str,
) -> Result<()> {
    let actor = audit::Actor { user_id: Some(user_id.to_owned()), ..audit::Actor::default() };
    audit_user(conn, d, (tenant_id, user_id), &actor, "user.totp_recovery_used", json!({})).await
}

/// Deletes the user's secret (pending or enabled); whether there was one.
async fn delete_secret(conn: &impl ConnectionTrait, tenant_id: &str, user_id: &str) -> Result<bool> {
    let gone = user_totp::Entity::delete_many()
        .filter(user_totp::Column::UserId.eq(user_id))
        .filter(user_totp::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(gone.rows_affected > 0)
}

/// Removes the user's secret and recovery codes and turns the flag off.
async fn remove(conn: &impl ConnectionTrait, tenant_id: &str, user_id: &str) -> Result<bool> {
    let gone = delete_secret(conn, tenant_id, user_id).await?;
    delete_recovery(conn, tenant_id, user_id).await?;
    set_flag(conn, tenant_id, user_id, false).await?;
    Ok(gone)
}

/// `disableTotp`: the caller (whose code was checked) turns two-factor sign-in off.
pub async fn disable(conn: &impl ConnectionTrait, d: Dialect, me: &Me<'_>) -> Result<()> {
    remove(conn, me.tenant_id, me.user_id).await?;
    audit_user(conn, d, (me.tenant_id, me.user_id), me.actor, "user.totp_disable", json!({})).await
}

/// `resetUserTotp`: an administrator turns a user's two-factor sign-in off (a lost device and
/// lost recovery codes); the user signs in with the password alone and may enrol again.
pub async fn admin_reset(
    conn: &impl ConnectionTrait,
    d: Dialect,
    admin: &Admin<'_>,
    user_id: &str,
) -> Result<UserView> {
    let u = accounts::find(conn, admin.tenant_id, user_id).await?;
    let role = roles::find(conn, admin.tenant_id, &u.role_id).await?;
    // Turning an owner's second factor off weakens the owner's account: owners only, as for
    // every other change to an owner.
    if roles::is_owner(&role) && admin.role != OWNER_ROLE {
        return Err(Error::Forbidden("only owners may reset an owner's two-factor sign-in".into()));
    }
    let role = role.name;
    let removed = remove(conn, admin.tenant_id, &u.id).await?;
    audit_user(
        conn,
        d,
        (admin.tenant_id, &u.id),
        admin.actor,
        "user.totp_reset",
        json!({"removed": removed}),
    )
    .await?;
    let mut view = UserView::of(&u, role);
    view.totp_enabled = false;
    Ok(view)
}

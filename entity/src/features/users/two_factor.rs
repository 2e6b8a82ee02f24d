//! TOTP two-factor sign-in in the data layer: enrolment (a pending secret), confirmation (the
//! secret turns on with a set of recovery codes), the single use of a code's time step or of a
//! recovery code at sign-in, and turning it off (by the user, or an administrator's reset).
//! The secret arrives sealed and the recovery codes hashed: the cryptography and the RFC 6238
//! arithmetic are the API's (`api::auth::totp`). Every use is a conditional statement, so of
//! two concurrent sign-ins with one code only one passes.

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
    let rows = codes.into_iter().map(|code_hash| recovery::ActiveModel {
        tenant_id: Set(me.tenant_id.to_owned()),
        user_id: Set(me.user_id.to_owned()),
        code_hash: Set(code_hash),
    });
    recovery::Entity::insert_many(rows).exec_without_returning(conn).await?;
    set_flag(conn, me.tenant_id, me.user_id, true).await?;
    audit_user(conn, d, (me.tenant_id, me.user_id), me.actor, "user.totp_enable", json!({})).await
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
    recovery::Entity::delete_many()
        .filter(recovery::Column::TenantId.eq(tenant_id))
        .filter(recovery::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
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

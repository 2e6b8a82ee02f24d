//! Deactivating and reactivating users (`deactivateUser`, `reactivateUser`, administrators).
//! A deactivated user cannot sign in, their sessions end and the API keys they created (which
//! act for them) are revoked at once, with every socket of those closed; reactivation restores
//! sign-in only (the revoked keys stay revoked). The tenant keeps at least one active owner, and
//! nobody deactivates themselves.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use serde_json::json;

use super::{Admin, OWNER_ROLE, UserView, accounts, api_keys, roles, sessions};
use crate::models::user;
use crate::runtime::time;
use crate::{Dialect, Error, Result};

/// `deactivateUser` (`active` false) or `reactivateUser` (`active` true). A user already in
/// that state is returned as is.
pub async fn set_active(
    conn: &impl ConnectionTrait,
    d: Dialect,
    admin: &Admin<'_>,
    user_id: &str,
    active: bool,
) -> Result<UserView> {
    let u = accounts::find(conn, admin.tenant_id, user_id).await?;
    let role = roles::find(conn, admin.tenant_id, &u.role_id).await?;
    if u.invite_hash.is_some() {
        return Err(Error::Conflict(format!("{} has not accepted the invitation yet", u.email)));
    }
    if u.is_active == active {
        return Ok(UserView::of(&u, role.name));
    }
    if !active {
        if roles::is_owner(&role) {
            check_owner_stays(conn, admin, &role.id).await?;
        }
        if u.id == admin.user_id {
            return Err(Error::field("userId", "you cannot deactivate yourself"));
        }
    }
    let mut am: user::ActiveModel = u.into();
    am.is_active = Set(active);
    am.updated_at = Set(time::now());
    let u = am.update(conn).await?;
    if active {
        admin.audit(conn, d, "user.reactivate", ("user", &u.id), json!({})).await?;
    } else {
        let sessions = sessions::revoke_live(conn, d, admin.tenant_id, &u.id, None).await?;
        let keys = api_keys::revoke_created_by(conn, d, admin.tenant_id, &u.id).await?;
        let changes = json!({"sessionsRevoked": sessions, "apiKeysRevoked": keys});
        admin.audit(conn, d, "user.deactivate", ("user", &u.id), changes).await?;
    }
    Ok(UserView::of(&u, role.name))
}

/// Refuses deactivating an active owner (role `owner_role`) unless the caller is an owner and
/// another owner stays active.
async fn check_owner_stays(conn: &impl ConnectionTrait, admin: &Admin<'_>, owner_role: &str) -> Result<()> {
    // The active owners' rows stay locked to the end of the transaction, so two owners
    // deactivating each other at once cannot both see the other still active (PostgreSQL;
    // SQLite runs one writer at a time).
    let owners: Vec<String> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::TenantId.eq(admin.tenant_id))
        .filter(user::Column::RoleId.eq(owner_role))
        .filter(user::Column::IsActive.eq(true))
        .lock_exclusive()
        .into_tuple()
        .all(conn)
        .await?;
    if owners.len() <= 1 {
        return Err(Error::field("userId", "a tenant keeps at least one active owner"));
    }
    if admin.role != OWNER_ROLE {
        return Err(Error::Forbidden("only owners may deactivate an owner".into()));
    }
    Ok(())
}

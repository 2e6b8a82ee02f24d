//! User accounts: the tenant's users with their role names, the lookups of a login (tenant by
//! slug, user by email), and assigning a role — under the owner rules: only owners make or
//! unmake owners, and a tenant keeps at least one active owner.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;

use super::{Admin, OWNER_ROLE, UserView, roles};
use crate::models::{role, tenant, user};
use crate::runtime::{signals, time};
use crate::{Dialect, Error, Result};

/// The tenant's users (invited ones included), oldest first (then by email), with their roles.
pub async fn list(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Vec<UserView>> {
    let users = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .order_by_asc(user::Column::CreatedAt)
        .all(conn)
        .await?;
    let mut views = with_roles(conn, tenant_id, &users).await?;
    views.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.email.cmp(&b.email)));
    Ok(views)
}

/// Users of a tenant by id, with role names (for `createdBy`/`owner` and `me`).
pub async fn by_id(conn: &impl ConnectionTrait, tenant_id: &str, ids: &[String]) -> Result<Vec<UserView>> {
    let users = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Id.is_in(ids.iter().cloned()))
        .all(conn)
        .await?;
    with_roles(conn, tenant_id, &users).await
}

/// `users` with the names of their roles (read in one statement: a tenant has few roles).
async fn with_roles(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    users: &[user::Model],
) -> Result<Vec<UserView>> {
    let roles = role::Entity::find().filter(role::Column::TenantId.eq(tenant_id)).all(conn).await?;
    Ok(users
        .iter()
        .map(|u| {
            let role = roles.iter().find(|r| r.id == u.role_id).map(|r| r.name.clone()).unwrap_or_default();
            UserView::of(u, role)
        })
        .collect())
}

/// The tenant with `slug` (tenants are readable before a tenant is set: a login names its
/// tenant by slug, and a signup checks that its slug is free).
pub async fn tenant_by_slug(conn: &impl ConnectionTrait, slug: &str) -> Result<Option<tenant::Model>> {
    Ok(tenant::Entity::find().filter(tenant::Column::Slug.eq(slug)).one(conn).await?)
}

/// The tenant's user with `email` (as stored: lower-case).
pub async fn by_email(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    email: &str,
) -> Result<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Email.eq(email))
        .one(conn)
        .await?)
}

/// The tenant's user `user_id`; `NOT_FOUND` when the tenant has none such.
pub async fn find(conn: &impl ConnectionTrait, tenant_id: &str, user_id: &str) -> Result<user::Model> {
    user::Entity::find_by_id(user_id.to_owned())
        .filter(user::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await?
        .ok_or_else(|| Error::NotFound("user".into()))
}

/// `assignRole`: gives a user another role, and tells every instance that their access changed.
pub async fn assign_role(
    conn: &impl ConnectionTrait,
    d: Dialect,
    admin: &Admin<'_>,
    user_id: &str,
    role_id: &str,
) -> Result<UserView> {
    let new_role = roles::find(conn, admin.tenant_id, role_id).await?;
    roles::check_grant(admin, &new_role)?;
    let u = find(conn, admin.tenant_id, user_id).await?;
    let old_role = roles::find(conn, admin.tenant_id, &u.role_id).await?;
    if roles::is_owner(&old_role) && !roles::is_owner(&new_role) {
        if admin.role != OWNER_ROLE {
            return Err(Error::Forbidden("only owners may change an owner's role".into()));
        }
        let owners = user::Entity::find()
            .filter(user::Column::TenantId.eq(admin.tenant_id))
            .filter(user::Column::RoleId.eq(&old_role.id))
            .filter(user::Column::IsActive.eq(true))
            .count(conn)
            .await?;
        if owners <= 1 {
            return Err(Error::Conflict("a tenant keeps at least one owner".into()));
        }
    }
    let mut am: user::ActiveModel = u.into();
    am.role_id = Set(new_role.id.clone());
    am.updated_at = Set(time::now());
    let u = am.update(conn).await?;
    let changes = json!({"role": {"old": old_role.name, "new": new_role.name}});
    admin.audit(conn, d, "user.role_assign", ("user", &u.id), changes).await?;
    signals::access_changed(conn, d, admin.tenant_id, None, Some(&u.id)).await?;
    Ok(UserView::of(&u, new_role.name))
}

/// A new, active user row of `tenant_id` in role `role_id`, created `now`, with an empty
/// profile, no invitation and no second factor: what signup, invitations and OpenID Connect
/// sign-ups start from (each sets what differs before inserting it).
pub(super) fn new_user(
    tenant_id: &str,
    email: &str,
    role_id: &str,
    password_hash: String,
    now: chrono::DateTime<chrono::Utc>,
) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(tenant_id.to_owned()),
        email: Set(email.to_owned()),
        name: Set(None),
        password_hash: Set(password_hash),
        role_id: Set(role_id.to_owned()),
        is_active: Set(true),
        invite_hash: Set(None),
        invite_expires_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        locale: Set(None),
        time_zone: Set(None),
        avatar: Set(None),
        totp_enabled: Set(false),
    }
}

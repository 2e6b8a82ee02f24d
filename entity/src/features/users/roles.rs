//! A tenant's roles and their permissions: the defaults every tenant starts with, listing,
//! creating, updating and deleting them. The owner role is built in: its permissions are fixed,
//! it keeps its name, and only owners hand it out (`check_grant`).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};

use super::{Admin, OWNER_ROLE};
use crate::models::{api_key, role, user};
use crate::runtime::meta::TenantMeta;
use crate::runtime::policy::Permissions;
use crate::runtime::{signals, time};
use crate::{Dialect, Error, FieldError, Result};

/// The default roles of a new tenant, with their permissions JSON (shared/API.md § Permissions;
/// `$admin` grants platform administration: definitions, users, roles, API keys, audit log).
pub fn default_roles() -> [(&'static str, &'static str, Value); 3] {
    let all = json!({"actions": ["create", "read", "update", "delete", "export"], "scope": "all"});
    [
        (OWNER_ROLE, "Everything, including ownership", json!({ "$admin": true, "*": all })),
        ("admin", "Administers the tenant and its data", json!({ "$admin": true, "*": all })),
        (
            "member",
            "Works with records",
            json!({ "*": {"actions": ["create", "read", "update"], "scope": "all"} }),
        ),
    ]
}

/// The role `id` of the tenant.
pub async fn find(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<role::Model> {
    role::Entity::find_by_id(id.to_owned())
        .filter(role::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await?
        .ok_or_else(|| Error::NotFound("role".into()))
}

/// The name of role `id` (empty when it is gone).
pub async fn name_of(conn: &impl ConnectionTrait, role_id: &str) -> Result<String> {
    Ok(role::Entity::find_by_id(role_id.to_owned()).one(conn).await?.map(|r| r.name).unwrap_or_default())
}

/// Whether `r` is the tenant's built-in owner role.
pub fn is_owner(r: &role::Model) -> bool {
    r.is_system && r.name == OWNER_ROLE
}

/// Only owners may hand out the owner role.
pub fn check_grant(admin: &Admin<'_>, r: &role::Model) -> Result<()> {
    if is_owner(r) && admin.role != OWNER_ROLE {
        return Err(Error::Forbidden("only owners may grant the owner role".into()));
    }
    Ok(())
}

/// The tenant's roles, oldest first.
pub async fn list(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Vec<role::Model>> {
    Ok(role::Entity::find()
        .filter(role::Column::TenantId.eq(tenant_id))
        .order_by_asc(role::Column::CreatedAt)
        .order_by_asc(role::Column::Name)
        .all(conn)
        .await?)
}

/// A role to store.
#[derive(Debug, Clone)]
pub struct NewRole<'a> {
    pub name: &'a str,
    pub description: Option<String>,
    /// The permissions JSON, checked (`Permissions::parse`) by the caller.
    pub permissions: Value,
}

/// Stores a role of the tenant, created at `at` (the roles a signup makes share their time, so
/// that they list by name).
pub async fn insert(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    new: NewRole<'_>,
    is_system: bool,
    at: DateTime<Utc>,
) -> Result<role::Model> {
    Ok(role::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(tenant_id.to_owned()),
        name: Set(new.name.to_owned()),
        description: Set(new.description),
        permissions: Set(new.permissions),
        is_system: Set(is_system),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(conn)
    .await?)
}

/// Sets the permissions of the tenant's role `name` (a template upgrade's change), updated at `at`.
pub async fn set_permissions(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    name: &str,
    permissions: Value,
    at: DateTime<Utc>,
) -> Result<()> {
    let row = role::ActiveModel { permissions: Set(permissions), updated_at: Set(at), ..Default::default() };
    role::Entity::update_many()
        .set(row)
        .filter(role::Column::TenantId.eq(tenant_id))
        .filter(role::Column::Name.eq(name))
        .exec(conn)
        .await?;
    Ok(())
}

/// `createRole` / `updateRole` input.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Value>,
}

/// Checks the name and permissions given, collecting what is wrong into `errors`; the parsed
/// permissions when they were given and are valid.
fn check_input(meta: &TenantMeta, input: &RoleInput, errors: &mut Vec<FieldError>) -> Option<Permissions> {
    if let Some(n) = &input.name
        && (n.trim().is_empty() || n.chars().count() > 100)
    {
        errors.push(FieldError::new("name", "must be 1 to 100 characters"));
    }
    match input.permissions.as_ref().map(|j| Permissions::parse(j, meta)) {
        Some(Ok(p)) => Some(p),
        Some(Err(Error::Validation(e))) => {
            errors.extend(e);
            None
        }
        Some(Err(e)) => {
            errors.push(FieldError::new("permissions", e.to_string()));
            None
        }
        None => None,
    }
}

/// Whether the tenant has a role named `name` (other than role `except`).
pub async fn name_taken(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    name: &str,
    except: Option<&str>,
) -> Result<bool> {
    let mut q =
        role::Entity::find().filter(role::Column::TenantId.eq(tenant_id)).filter(role::Column::Name.eq(name));
    if let Some(id) = except {
        q = q.filter(role::Column::Id.ne(id));
    }
    Ok(q.count(conn).await? > 0)
}

/// `createRole`: a role with a unique name and valid permissions.
pub async fn create(
    conn: &impl ConnectionTrait,
    d: Dialect,
    admin: &Admin<'_>,
    input: RoleInput,
) -> Result<role::Model> {
    let meta = TenantMeta::load(conn, admin.tenant_id).await?;
    let mut errors = Vec::new();
    let name = input.name.clone().unwrap_or_default();
    if input.name.is_none() {
        errors.push(FieldError::new("name", "is required"));
    }
    if input.permissions.is_none() {
        errors.push(FieldError::new("permissions", "is required"));
    }
    let perms = check_input(&meta, &input, &mut errors);
    if errors.is_empty() && name_taken(conn, admin.tenant_id, name.trim(), None).await? {
        errors.push(FieldError::new("name", "a role with this name exists"));
    }
    let Some(perms) = perms.filter(|_| errors.is_empty()) else { return Err(Error::Validation(errors)) };
    let new =
        NewRole { name: name.trim(), description: input.description.clone(), permissions: perms.to_json() };
    let r = insert(conn, admin.tenant_id, new, false, time::now()).await?;
    let changes = json!({"name": r.name, "permissions": r.permissions});
    admin.audit(conn, d, "role.create", ("role", &r.id), changes).await?;
    Ok(r)
}

/// `updateRole`: renames, describes or re-permits a role (not the owner's permissions or
/// name), and tells every instance that the role's access changed.
pub async fn update(
    conn: &impl ConnectionTrait,
    d: Dialect,
    admin: &Admin<'_>,
    id: &str,
    input: RoleInput,
) -> Result<role::Model> {
    let old = find(conn, admin.tenant_id, id).await?;
    if is_owner(&old) && input.permissions.is_some() {
        return Err(Error::field("permissions", "the owner role always has every permission"));
    }
    let meta = TenantMeta::load(conn, admin.tenant_id).await?;
    let mut errors = Vec::new();
    let perms = check_input(&meta, &input, &mut errors);
    if let Some(n) = &input.name
        && errors.is_empty()
        && (is_owner(&old) && n.trim() != OWNER_ROLE
            || name_taken(conn, admin.tenant_id, n.trim(), Some(id)).await?)
    {
        errors.push(FieldError::new("name", "this name is taken or cannot change"));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let mut am: role::ActiveModel = old.clone().into();
    if let Some(n) = &input.name {
        am.name = Set(n.trim().to_owned());
    }
    if input.description.is_some() {
        am.description = Set(input.description.clone());
    }
    if let Some(perms) = &perms {
        am.permissions = Set(perms.to_json());
    }
    am.updated_at = Set(time::now());
    let r = am.update(conn).await?;
    let changes = json!({"name": {"old": old.name, "new": r.name}, "permissions": {"old": old.permissions, "new": r.permissions}});
    admin.audit(conn, d, "role.update", ("role", &r.id), changes).await?;
    signals::access_changed(conn, d, admin.tenant_id, Some(&r.id), None).await?;
    Ok(r)
}

/// `deleteRole`: a role that is not built in and that no user or live API key holds.
pub async fn delete(conn: &impl ConnectionTrait, d: Dialect, admin: &Admin<'_>, id: &str) -> Result<()> {
    let r = find(conn, admin.tenant_id, id).await?;
    if r.is_system {
        return Err(Error::Conflict(format!("`{}` is a built-in role and cannot be deleted", r.name)));
    }
    let users = user::Entity::find()
        .filter(user::Column::TenantId.eq(admin.tenant_id))
        .filter(user::Column::RoleId.eq(id))
        .count(conn)
        .await?;
    let keys = api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(admin.tenant_id))
        .filter(api_key::Column::RoleId.eq(id))
        .filter(api_key::Column::RevokedAt.is_null())
        .count(conn)
        .await?;
    if users + keys > 0 {
        return Err(Error::Conflict(format!("the role is held by {users} users and {keys} API keys")));
    }
    role::Entity::delete_by_id(id.to_owned()).exec(conn).await?;
    admin.audit(conn, d, "role.delete", ("role", id), json!({"name": r.name})).await
}

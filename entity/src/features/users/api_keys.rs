//! API keys: integration credentials bound to a role and acting for the user who created them,
//! kept only as a hash (the key is shown once, by the API), revocable. `access` reads what a
//! key grants, for every request that is not answered from the credential cache.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Set,
};
use serde_json::json;

use super::{Access, AccessRow, Admin, roles, select_access};
use crate::models::{api_key, user};
use crate::runtime::{signals, time};
use crate::{Dialect, Error, Result};

/// The tenant's API keys (revoked ones included), oldest first.
pub async fn list(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Vec<api_key::Model>> {
    Ok(api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(tenant_id))
        .order_by_asc(api_key::Column::CreatedAt)
        .all(conn)
        .await?)
}

/// A key's name, checked (`KeyName::check`) before the key's transaction.
#[derive(Debug, Clone)]
pub struct KeyName(String);

impl KeyName {
    /// `name` trimmed, if it is 1 to 200 characters.
    pub fn check(name: &str) -> Result<KeyName> {
        if name.trim().is_empty() || name.chars().count() > 200 {
            return Err(Error::field("name", "must be 1 to 200 characters"));
        }
        Ok(KeyName(name.trim().to_owned()))
    }
}

/// A key to store: its name and role, the hash of the key and its first characters.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: KeyName,
    pub role_id: String,
    pub key_hash: String,
    pub key_prefix: String,
}

/// `createApiKey`: stores a key of role `new.role_id`, created by (and acting for) the caller.
pub async fn create(
    conn: &impl ConnectionTrait,
    d: Dialect,
    admin: &Admin<'_>,
    new: NewKey,
) -> Result<api_key::Model> {
    let r = roles::find(conn, admin.tenant_id, &new.role_id).await?;
    roles::check_grant(admin, &r)?;
    let k = api_key::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(admin.tenant_id.to_owned()),
        name: Set(new.name.0),
        role_id: Set(r.id.clone()),
        key_hash: Set(new.key_hash),
        key_prefix: Set(new.key_prefix),
        created_by: Set(Some(admin.user_id.to_owned())),
        created_at: Set(time::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(conn)
    .await?;
    let changes = json!({"name": k.name, "role": r.name});
    admin.audit(conn, d, "api_key.create", ("api_key", &k.id), changes).await?;
    Ok(k)
}

/// `revokeApiKey`: the key stops working at once (its sockets close).
pub async fn revoke(
    conn: &impl ConnectionTrait,
    d: Dialect,
    admin: &Admin<'_>,
    id: &str,
) -> Result<api_key::Model> {
    let k = api_key::Entity::find_by_id(id.to_owned())
        .filter(api_key::Column::TenantId.eq(admin.tenant_id))
        .one(conn)
        .await?
        .ok_or_else(|| Error::NotFound("API key".into()))?;
    let mut am: api_key::ActiveModel = k.into();
    am.revoked_at = Set(Some(chrono::Utc::now()));
    let k = am.update(conn).await?;
    admin.audit(conn, d, "api_key.revoke", ("api_key", &k.id), json!({"name": k.name})).await?;
    signals::session_revoked(conn, d, admin.tenant_id, &k.id).await?;
    Ok(k)
}

/// Revokes every live key created by `user_id` (who is deactivated: their keys act for them),
/// and tells every instance (the keys' sockets close). Returns how many.
pub(super) async fn revoke_created_by(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    user_id: &str,
) -> Result<u64> {
    let ids: Vec<String> = api_key::Entity::find()
        .select_only()
        .column(api_key::Column::Id)
        .filter(api_key::Column::TenantId.eq(tenant_id))
        .filter(api_key::Column::CreatedBy.eq(user_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .into_tuple()
        .all(conn)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(chrono::Utc::now()))
        .filter(api_key::Column::TenantId.eq(tenant_id))
        .filter(api_key::Column::Id.is_in(ids.iter().cloned()))
        .exec(conn)
        .await?;
    for id in &ids {
        signals::session_revoked(conn, d, tenant_id, id).await?;
    }
    Ok(ids.len() as u64)
}

/// What an API key grants, and whether it still may.
#[derive(Debug, Clone)]
pub struct KeyAccess {
    pub id: String,
    /// The user who created the key, on whose behalf it acts.
    pub created_by: Option<String>,
    /// Not revoked.
    pub live: bool,
    pub access: Access,
}

#[derive(Debug, FromQueryResult)]
struct KeyRow {
    id: String,
    created_by: Option<String>,
    live: bool,
    #[sea_orm(nested)]
    access: AccessRow,
}

/// The key of `tenant_id` whose hash is `key_hash`, with its role and the tenant's metadata
/// version, in one statement.
pub async fn access(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    key_hash: &str,
) -> Result<Option<KeyAccess>> {
    let mut q = api_key::Entity::find()
        .select_only()
        .column(api_key::Column::Id)
        .column(api_key::Column::CreatedBy)
        .column_as(Expr::col((api_key::Entity, api_key::Column::RevokedAt)).is_null(), "live");
    // The user the key acts for (gone when they were deleted: no time zone of their own).
    QueryTrait::query(&mut q).left_join(
        user::Entity,
        Expr::col((user::Entity, user::Column::Id)).equals((api_key::Entity, api_key::Column::CreatedBy)),
    );
    let row =
        select_access(q, api_key::Column::RoleId, api_key::Column::TenantId, api_key::Column::CreatedBy)
            .filter(api_key::Column::KeyHash.eq(key_hash))
            .filter(api_key::Column::TenantId.eq(tenant_id))
            .into_model::<KeyRow>()
            .one(conn)
            .await?;
    Ok(row.map(|r| KeyAccess { id: r.id, created_by: r.created_by, live: r.live, access: r.access.into() }))
}

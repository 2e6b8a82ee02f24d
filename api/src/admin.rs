//! Tenant administration (shared/API.md § Users and roles): roles and their permissions,
//! users and invitations, role assignment, forced logout, API keys, and the audit log. Every
//! change is one transaction with its audit entry; changes that alter what a connected client
//! may see are announced on the bus so its sockets reconnect.

use chrono::{Duration, Utc};
use entity::FieldError;
use entity::features::emails::{self, Email};
use entity::models::{api_key, role, session, user};
use entity::runtime::audit::{self, Actor, AuditFilter, AuditRow, Verification};
use entity::runtime::meta::TenantMeta;
use entity::runtime::policy::Permissions;
use entity::runtime::signals;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};

use crate::auth::principal::Principal;
use crate::auth::service::{self, AuthPayload, UserView};
use crate::auth::{password, tokens};
use crate::error::ApiError;
use crate::services::Services;

/// How long an invitation stays valid.
const INVITE_TTL_DAYS: i64 = 7;
/// The role that owns the tenant: its permissions are fixed and only owners grant it.
pub const OWNER_ROLE: &str = "owner";

async fn append(
    txn: &DatabaseTransaction,
    state: &Services,
    p: &Principal,
    actor: &Actor,
    action: &str,
    (object_type, object_id): (&str, &str),
    changes: Value,
) -> Result<(), ApiError> {
    let entry = audit::Entry { action, object_type, object_id: Some(object_id), changes };
    audit::append(txn, state.db.dialect, &p.tenant_id, actor, &entry).await?;
    Ok(())
}

async fn find_role(txn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<role::Model, ApiError> {
    role::Entity::find_by_id(id.to_owned())
        .filter(role::Column::TenantId.eq(tenant_id))
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::NotFound("role".into()))
}

fn is_owner_role(r: &role::Model) -> bool {
    r.is_system && r.name == OWNER_ROLE
}

/// Only owners may hand out the owner role.
fn check_grant(p: &Principal, r: &role::Model) -> Result<(), ApiError> {
    if is_owner_role(r) && p.role != OWNER_ROLE {
        return Err(ApiError::Forbidden("only owners may grant the owner role".into()));
    }
    Ok(())
}

/// The permissions JSON of a role row.
pub fn role_permissions(r: &role::Model) -> Value {
    r.permissions.clone()
}

pub async fn roles(state: &Services, p: &Principal) -> Result<Vec<role::Model>, ApiError> {
    let txn = state.db.begin_tenant_read(&p.tenant_id).await?;
    let roles = role::Entity::find()
        .filter(role::Column::TenantId.eq(&p.tenant_id))
        .order_by_asc(role::Column::CreatedAt)
        .order_by_asc(role::Column::Name)
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(roles)
}

/// `createRole` / `updateRole` input.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Value>,
}

fn check_role_input(
    meta: &TenantMeta,
    input: &RoleInput,
    errors: &mut Vec<FieldError>,
) -> Option<Permissions> {
    if let Some(n) = &input.name
        && (n.trim().is_empty() || n.chars().count() > 100)
    {
        errors.push(FieldError::new("name", "must be 1 to 100 characters"));
    }
    match input.permissions.as_ref().map(|j| Permissions::parse(j, meta)) {
        Some(Ok(p)) => Some(p),
        Some(Err(entity::Error::Validation(e))) => {
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

async fn name_taken(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    name: &str,
    except: Option<&str>,
) -> Result<bool, ApiError> {
    let mut q =
        role::Entity::find().filter(role::Column::TenantId.eq(tenant_id)).filter(role::Column::Name.eq(name));
    if let Some(id) = except {
        q = q.filter(role::Column::Id.ne(id));
    }
    Ok(q.count(txn).await? > 0)
}

pub async fn create_role(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    input: RoleInput,
) -> Result<role::Model, ApiError> {
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let meta = TenantMeta::load(&txn, &p.tenant_id).await?;
    let mut errors = Vec::new();
    let name = input.name.clone().unwrap_or_default();
    if input.name.is_none() {
        errors.push(FieldError::new("name", "is required"));
    }
    if input.permissions.is_none() {
        errors.push(FieldError::new("permissions", "is required"));
    }
    let perms = check_role_input(&meta, &input, &mut errors);
    if errors.is_empty() && name_taken(&txn, &p.tenant_id, name.trim(), None).await? {
        errors.push(FieldError::new("name", "a role with this name exists"));
    }
    let Some(perms) = perms.filter(|_| errors.is_empty()) else { return Err(ApiError::Validation(errors)) };
    let now = entity::runtime::time::now();
    let r = role::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(p.tenant_id.clone()),
        name: Set(name.trim().to_owned()),
        description: Set(input.description.clone()),
        permissions: Set(perms.to_json()),
        is_system: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    append(
        &txn,
        state,
        p,
        actor,
        "role.create",
        ("role", &r.id),
        json!({"name": r.name, "permissions": r.permissions}),
    )
    .await?;
    txn.commit().await?;
    Ok(r)
}

pub async fn update_role(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    id: &str,
    input: RoleInput,
) -> Result<role::Model, ApiError> {
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let old = find_role(&txn, &p.tenant_id, id).await?;
    if is_owner_role(&old) && input.permissions.is_some() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "permissions",
            "the owner role always has every permission",
        )]));
    }
    let meta = TenantMeta::load(&txn, &p.tenant_id).await?;
    let mut errors = Vec::new();
    let perms = check_role_input(&meta, &input, &mut errors);
    if let Some(n) = &input.name
        && errors.is_empty()
        && (is_owner_role(&old) && n.trim() != OWNER_ROLE
            || name_taken(&txn, &p.tenant_id, n.trim(), Some(id)).await?)
    {
        errors.push(FieldError::new("name", "this name is taken or cannot change"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
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
    am.updated_at = Set(entity::runtime::time::now());
    let r = am.update(&txn).await?;
    let changes = json!({"name": {"old": old.name, "new": r.name}, "permissions": {"old": old.permissions, "new": r.permissions}});
    append(&txn, state, p, actor, "role.update", ("role", &r.id), changes).await?;
    signals::access_changed(&txn, state.db.dialect, &p.tenant_id, Some(&r.id), None).await?;
    txn.commit().await?;
    Ok(r)
}

pub async fn delete_role(state: &Services, p: &Principal, actor: &Actor, id: &str) -> Result<(), ApiError> {
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let r = find_role(&txn, &p.tenant_id, id).await?;
    if r.is_system {
        return Err(ApiError::Conflict(format!("`{}` is a built-in role and cannot be deleted", r.name)));
    }
    let users = user::Entity::find()
        .filter(user::Column::TenantId.eq(&p.tenant_id))
        .filter(user::Column::RoleId.eq(id))
        .count(&txn)
        .await?;
    let keys = api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(&p.tenant_id))
        .filter(api_key::Column::RoleId.eq(id))
        .filter(api_key::Column::RevokedAt.is_null())
        .count(&txn)
        .await?;
    if users + keys > 0 {
        return Err(ApiError::Conflict(format!("the role is held by {users} users and {keys} API keys")));
    }
    role::Entity::delete_by_id(id.to_owned()).exec(&txn).await?;
    append(&txn, state, p, actor, "role.delete", ("role", id), json!({"name": r.name})).await?;
    txn.commit().await?;
    Ok(())
}

pub async fn users(state: &Services, p: &Principal) -> Result<Vec<UserView>, ApiError> {
    let txn = state.db.begin_tenant_read(&p.tenant_id).await?;
    let ids: Vec<String> = user::Entity::find()
        .filter(user::Column::TenantId.eq(&p.tenant_id))
        .order_by_asc(user::Column::CreatedAt)
        .all(&txn)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect();
    txn.commit().await?;
    let mut views = service::users_by_id(&state.db, &p.tenant_id, &ids).await?;
    views.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.email.cmp(&b.email)));
    Ok(views)
}

/// A new invitation: the user (inactive until accepted) and the token to hand them.
pub struct Invite {
    pub user: UserView,
    pub token: String,
    pub expires_at: chrono::DateTime<Utc>,
}

pub async fn invite_user(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    email: &str,
    role_id: &str,
) -> Result<Invite, ApiError> {
    let email = email.trim().to_lowercase();
    if !service::is_email(&email) {
        return Err(ApiError::Validation(vec![FieldError::new("email", "must be an email address")]));
    }
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let r = find_role(&txn, &p.tenant_id, role_id).await?;
    check_grant(p, &r)?;
    let exists = user::Entity::find()
        .filter(user::Column::TenantId.eq(&p.tenant_id))
        .filter(user::Column::Email.eq(&email))
        .count(&txn)
        .await?
        > 0;
    if exists {
        return Err(ApiError::Conflict(format!("{email} is already a user of this tenant")));
    }
    let token = tokens::new_refresh_token(&p.tenant_id)?;
    let now = entity::runtime::time::now();
    let expires_at = now + Duration::days(INVITE_TTL_DAYS);
    let u = user::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(p.tenant_id.clone()),
        email: Set(email.clone()),
        name: Set(None),
        // No password can match this until the invitation is accepted.
        password_hash: Set("!invited".into()),
        role_id: Set(r.id.clone()),
        is_active: Set(false),
        invite_hash: Set(Some(tokens::hash_refresh(&token))),
        invite_expires_at: Set(Some(expires_at)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    append(&txn, state, p, actor, "user.invite", ("user", &u.id), json!({"email": email, "role": r.name}))
        .await?;
    let tenant_name = entity::models::tenant::Entity::find_by_id(p.tenant_id.clone())
        .one(&txn)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let body = format!(
        "You have been invited to {tenant_name} on Alphery OS.\n\n\
         Your invitation token (valid for {INVITE_TTL_DAYS} days):\n\n{token}\n\n\
         Accept it with: mutation {{ acceptInvite(token: \"{token}\", password: \"...\") {{ accessToken }} }}\n"
    );
    let subject = format!("You are invited to {tenant_name}");
    let key = format!("invite:{}", u.id);
    let message = emails::NewEmail { idempotency_key: &key, to: &email, subject: &subject, body: &body };
    emails::queue(&txn, &p.tenant_id, &message).await?;
    txn.commit().await?;
    Ok(Invite { user: service::view(&u, r.name), token, expires_at })
}

/// `acceptInvite`: sets the password, activates the user and signs them in.
pub async fn accept_invite(
    state: &Services,
    token: &str,
    new_password: &str,
) -> Result<AuthPayload, ApiError> {
    let invalid = || ApiError::Unauthenticated("invalid or expired invitation".into());
    let tenant_id = tokens::refresh_tenant(token).ok_or_else(invalid)?;
    if new_password.chars().count() < password::MIN_LENGTH || new_password.len() > 1024 {
        return Err(ApiError::Validation(vec![FieldError::new("password", "must be 8 to 1024 characters")]));
    }
    let hash = password::hash(new_password).await?;
    let txn = state.db.begin_tenant_write(tenant_id).await?;
    let u = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::InviteHash.eq(tokens::hash_refresh(token)))
        .one(&txn)
        .await?
        .filter(|u| u.invite_expires_at.is_some_and(|e| e > Utc::now()))
        .ok_or_else(invalid)?;
    let mut am: user::ActiveModel = u.into();
    am.password_hash = Set(hash);
    am.is_active = Set(true);
    am.invite_hash = Set(None);
    am.invite_expires_at = Set(None);
    am.updated_at = Set(entity::runtime::time::now());
    let u = am.update(&txn).await?;
    let actor = Actor::user(&u.id, None);
    let entry = audit::Entry {
        action: "user.accept_invite",
        object_type: "user",
        object_id: Some(&u.id),
        changes: json!({}),
    };
    audit::append(&txn, state.db.dialect, tenant_id, &actor, &entry).await?;
    let payload = service::open_session_for(state, &txn, &u).await?;
    txn.commit().await?;
    Ok(payload)
}

pub async fn assign_role(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    user_id: &str,
    role_id: &str,
) -> Result<UserView, ApiError> {
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let new_role = find_role(&txn, &p.tenant_id, role_id).await?;
    check_grant(p, &new_role)?;
    let u = user::Entity::find_by_id(user_id.to_owned())
        .filter(user::Column::TenantId.eq(&p.tenant_id))
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound("user".into()))?;
    let old_role = find_role(&txn, &p.tenant_id, &u.role_id).await?;
    if is_owner_role(&old_role) && !is_owner_role(&new_role) {
        if p.role != OWNER_ROLE {
            return Err(ApiError::Forbidden("only owners may change an owner's role".into()));
        }
        let owners = user::Entity::find()
            .filter(user::Column::TenantId.eq(&p.tenant_id))
            .filter(user::Column::RoleId.eq(&old_role.id))
            .filter(user::Column::IsActive.eq(true))
            .count(&txn)
            .await?;
        if owners <= 1 {
            return Err(ApiError::Conflict("a tenant keeps at least one owner".into()));
        }
    }
    let mut am: user::ActiveModel = u.into();
    am.role_id = Set(new_role.id.clone());
    am.updated_at = Set(entity::runtime::time::now());
    let u = am.update(&txn).await?;
    append(
        &txn,
        state,
        p,
        actor,
        "user.role_assign",
        ("user", &u.id),
        json!({"role": {"old": old_role.name, "new": new_role.name}}),
    )
    .await?;
    signals::access_changed(&txn, state.db.dialect, &p.tenant_id, None, Some(&u.id)).await?;
    txn.commit().await?;
    Ok(service::view(&u, new_role.name))
}

/// Ends every live session of a user now (and their open sockets). Returns how many.
pub async fn revoke_sessions(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    user_id: &str,
) -> Result<u64, ApiError> {
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let live = session::Entity::find()
        .filter(session::Column::TenantId.eq(&p.tenant_id))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .all(&txn)
        .await?;
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(session::Column::TenantId.eq(&p.tenant_id))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    append(&txn, state, p, actor, "session.revoke_all", ("user", user_id), json!({"sessions": live.len()}))
        .await?;
    for s in &live {
        signals::session_revoked(&txn, state.db.dialect, &p.tenant_id, &s.id).await?;
    }
    txn.commit().await?;
    Ok(live.len() as u64)
}

pub async fn api_keys(state: &Services, p: &Principal) -> Result<Vec<api_key::Model>, ApiError> {
    let txn = state.db.begin_tenant_read(&p.tenant_id).await?;
    let keys = api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(&p.tenant_id))
        .order_by_asc(api_key::Column::CreatedAt)
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(keys)
}

/// Creates an API key; the key itself is returned once and only its hash is kept.
pub async fn create_api_key(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    name: &str,
    role_id: &str,
) -> Result<(String, api_key::Model), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ApiError::Validation(vec![FieldError::new("name", "must be 1 to 200 characters")]));
    }
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let r = find_role(&txn, &p.tenant_id, role_id).await?;
    check_grant(p, &r)?;
    let key = tokens::new_api_key(&p.tenant_id)?;
    let k = api_key::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(p.tenant_id.clone()),
        name: Set(name.trim().to_owned()),
        role_id: Set(r.id.clone()),
        key_hash: Set(tokens::hash_refresh(&key)),
        key_prefix: Set(key.chars().take(12).collect()),
        created_by: Set(Some(p.user_id.clone())),
        created_at: Set(entity::runtime::time::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    append(
        &txn,
        state,
        p,
        actor,
        "api_key.create",
        ("api_key", &k.id),
        json!({"name": k.name, "role": r.name}),
    )
    .await?;
    txn.commit().await?;
    Ok((key, k))
}

pub async fn revoke_api_key(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    id: &str,
) -> Result<api_key::Model, ApiError> {
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let k = api_key::Entity::find_by_id(id.to_owned())
        .filter(api_key::Column::TenantId.eq(&p.tenant_id))
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound("API key".into()))?;
    let mut am: api_key::ActiveModel = k.into();
    am.revoked_at = Set(Some(Utc::now()));
    let k = am.update(&txn).await?;
    append(&txn, state, p, actor, "api_key.revoke", ("api_key", &k.id), json!({"name": k.name})).await?;
    signals::session_revoked(&txn, state.db.dialect, &p.tenant_id, &k.id).await?;
    txn.commit().await?;
    Ok(k)
}

/// A page of the audit log, newest first.
pub async fn audit_log(
    state: &Services,
    p: &Principal,
    filter: &AuditFilter,
    first: u64,
    before_seq: Option<i64>,
) -> Result<(Vec<AuditRow>, bool, i64), ApiError> {
    let txn = state.db.begin_tenant_read(&p.tenant_id).await?;
    let page = audit::list(&txn, state.db.dialect, &p.tenant_id, filter, first, before_seq).await?;
    txn.commit().await?;
    Ok(page)
}

/// The tenant's outgoing emails, newest first.
pub async fn emails(
    state: &Services,
    p: &Principal,
    status: Option<&str>,
    first: u64,
) -> Result<Vec<Email>, ApiError> {
    let txn = state.db.begin_tenant_read(&p.tenant_id).await?;
    let list = emails::list(&txn, &p.tenant_id, status, first).await?;
    txn.commit().await?;
    Ok(list)
}

/// Sends a dead (or held) email again.
pub async fn retry_email(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    id: &str,
) -> Result<Email, ApiError> {
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    if !emails::requeue(&txn, &p.tenant_id, id).await? {
        let exists = emails::get(&txn, &p.tenant_id, id).await?.is_some();
        return Err(if exists {
            ApiError::Conflict("only dead or held emails can be retried".into())
        } else {
            ApiError::NotFound("email".into())
        });
    }
    append(&txn, state, p, actor, "email.retry", ("email", id), json!({})).await?;
    let email =
        emails::get(&txn, &p.tenant_id, id).await?.ok_or_else(|| ApiError::NotFound("email".into()))?;
    txn.commit().await?;
    Ok(email)
}

pub async fn verify_audit_chain(state: &Services, p: &Principal) -> Result<Verification, ApiError> {
    let txn = state.db.begin_tenant_read(&p.tenant_id).await?;
    let v = audit::verify(&txn, state.db.dialect, &p.tenant_id).await?;
    txn.commit().await?;
    Ok(v)
}

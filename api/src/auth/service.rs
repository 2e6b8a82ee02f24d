//! The session operations of shared/API.md: `signup`, `login`, `refreshToken`, `logout`.
//! Each is one transaction; refresh tokens rotate, and a rotated token presented again
//! revokes its whole session (it can only be a stolen copy).

use std::sync::LazyLock;

use chrono::{Duration, Utc};
use entity::FieldError;
use entity::models::{role, session, tenant, user};
use entity::runtime::audit::{self, Actor};
use entity::runtime::signals;
use entity::sql_buf::SqlBuf;
use regex::Regex;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

use super::{Principal, password, tokens};
use crate::error::ApiError;
use crate::state::AppState;

static SLUG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$").expect("static regex"));
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[^\s@]+@[^\s@]+\.[^\s@]+$").expect("static regex"));

/// What signup/login/refresh return.
#[derive(Debug, Clone)]
pub struct AuthPayload {
    pub access_token: String,
    pub refresh_token: String,
    pub user: UserView,
    pub tenant: tenant::Model,
}

/// A user as the API shows it.
#[derive(Debug, Clone)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub created_at: chrono::DateTime<Utc>,
}

/// `signup` input.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignupInput {
    pub tenant_name: String,
    pub tenant_slug: String,
    pub email: String,
    pub password: String,
    pub template: Option<String>,
}

/// `login` input.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginInput {
    pub tenant: String,
    pub email: String,
    pub password: String,
}

/// The default roles of a new tenant, with their permissions JSON (shared/API.md § Permissions;
/// `$admin` grants platform administration: definitions, users, roles, API keys, audit log).
pub fn default_roles() -> [(&'static str, &'static str, serde_json::Value); 3] {
    let all = json!({"actions": ["create", "read", "update", "delete", "export"], "scope": "all"});
    [
        ("owner", "Everything, including ownership", json!({ "$admin": true, "*": all })),
        ("admin", "Administers the tenant and its data", json!({ "$admin": true, "*": all })),
        (
            "member",
            "Works with records",
            json!({ "*": {"actions": ["create", "read", "update"], "scope": "all"} }),
        ),
    ]
}

const LOGIN_FAILED: &str = "invalid tenant, email or password";

/// Whether `s` looks like an email address.
pub fn is_email(s: &str) -> bool {
    EMAIL.is_match(s) && s.len() <= 320
}

/// Appends an authentication event to the tenant's audit trail inside `txn`.
async fn audit_auth(
    state: &AppState,
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: Option<&str>,
    action: &str,
    changes: serde_json::Value,
) -> Result<(), ApiError> {
    let actor = Actor { user_id: user_id.map(str::to_owned), ..Actor::default() };
    let entry = audit::Entry { action, object_type: "session", object_id: user_id, changes };
    audit::append(txn, state.db.dialect, tenant_id, &actor, &entry).await?;
    Ok(())
}

/// Creates a tenant, its default roles, the owner user and a first session.
pub async fn signup(state: &AppState, input: SignupInput) -> Result<AuthPayload, ApiError> {
    let mut errors = Vec::new();
    let name = input.tenant_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("tenantName", "must be 1 to 200 characters"));
    }
    if !SLUG.is_match(&input.tenant_slug) {
        errors.push(FieldError::new(
            "tenantSlug",
            "must be 3 to 63 lower-case letters, digits or dashes, not starting or ending with a dash",
        ));
    }
    let email = input.email.trim().to_lowercase();
    if !is_email(&email) {
        errors.push(FieldError::new("email", "must be an email address"));
    }
    if input.password.chars().count() < password::MIN_LENGTH || input.password.len() > 1024 {
        errors.push(FieldError::new("password", "must be 8 to 1024 characters"));
    }
    let catalogue = entity::features::templates::catalogue(state.config.templates_dir.as_deref())?;
    let template = match input.template.as_deref() {
        Some(slug) => match catalogue.iter().find(|t| t.slug == slug) {
            Some(t) => Some(t),
            None => {
                let known: Vec<&str> = catalogue.iter().map(|t| t.slug.as_str()).collect();
                errors.push(FieldError::new(
                    "template",
                    format!("unknown template `{slug}` (available: {})", known.join(", ")),
                ));
                None
            }
        },
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let password_hash = password::hash(&input.password).await?;
    let tenant_id = uuid::Uuid::new_v4().to_string();
    let txn = state.db.begin_tenant_write(&tenant_id).await?;
    let taken =
        tenant::Entity::find().filter(tenant::Column::Slug.eq(&input.tenant_slug)).one(&txn).await?.is_some();
    if taken {
        return Err(ApiError::Conflict(format!("the tenant slug `{}` is taken", input.tenant_slug)));
    }
    let now = entity::runtime::time::now();
    let t = tenant::ActiveModel {
        id: Set(tenant_id),
        name: Set(name.to_owned()),
        slug: Set(input.tenant_slug.clone()),
        time_zone: Set("UTC".into()),
        metadata_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let mut owner_role = String::new();
    for (role_name, description, permissions) in default_roles() {
        let r = role::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            tenant_id: Set(t.id.clone()),
            name: Set(role_name.into()),
            description: Set(Some(description.into())),
            permissions: Set(permissions),
            is_system: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        if role_name == "owner" {
            owner_role = r.id;
        }
    }
    let u = user::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(t.id.clone()),
        email: Set(email),
        name: Set(None),
        password_hash: Set(password_hash),
        role_id: Set(owner_role),
        is_active: Set(true),
        invite_hash: Set(None),
        invite_expires_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    if let Some(tpl) = template {
        let actor = entity::runtime::audit::Actor::user(&u.id, None);
        entity::features::templates::apply_in(&txn, &state.db, &t.id, tpl, &actor, false).await?;
    }
    let payload = open_session(state, &txn, &t, &u, "owner").await?;
    audit_auth(state, &txn, &t.id, Some(&u.id), "tenant.signup", json!({"slug": t.slug, "email": u.email}))
        .await?;
    txn.commit().await.map_err(ApiError::from)?;
    tracing::info!(tenant = %t.slug, "tenant signed up");
    Ok(payload)
}

/// Checks credentials and opens a session. Every failure says the same thing.
/// The tenant with `slug` and its user with `email` (lower-cased), each when it exists.
pub async fn find_login(
    state: &AppState,
    slug: &str,
    email: &str,
) -> Result<(Option<tenant::Model>, Option<user::Model>), ApiError> {
    let t = tenant::Entity::find().filter(tenant::Column::Slug.eq(slug.trim())).one(&state.db.conn).await?;
    let u = match &t {
        Some(t) => {
            let txn = state.db.begin_tenant_read(&t.id).await?;
            let u = user::Entity::find()
                .filter(user::Column::TenantId.eq(&t.id))
                .filter(user::Column::Email.eq(email))
                .one(&txn)
                .await?;
            txn.commit().await.map_err(ApiError::from)?;
            u
        }
        None => None,
    };
    Ok((t, u))
}

pub async fn login(state: &AppState, input: LoginInput) -> Result<AuthPayload, ApiError> {
    let email = input.email.trim().to_lowercase();
    let (t, u) = find_login(state, &input.tenant, &email).await?;
    let ok = password::verify(&input.password, u.as_ref().map(|u| u.password_hash.as_str())).await?;
    let Some(t) = t else { return Err(ApiError::Unauthenticated(LOGIN_FAILED.into())) };
    let Some(u) = u.filter(|u| ok && u.is_active) else {
        let txn = state.db.begin_tenant_write(&t.id).await?;
        audit_auth(state, &txn, &t.id, None, "auth.login_failed", json!({"email": email})).await?;
        txn.commit().await?;
        return Err(ApiError::Unauthenticated(LOGIN_FAILED.into()));
    };
    let txn = state.db.begin_tenant_write(&t.id).await?;
    let role = role_name(&txn, &u.role_id).await?;
    let payload = open_session(state, &txn, &t, &u, &role).await?;
    audit_auth(state, &txn, &t.id, Some(&u.id), "auth.login", json!({})).await?;
    txn.commit().await.map_err(ApiError::from)?;
    Ok(payload)
}

/// Opens a session for a user inside `txn` (after accepting an invitation).
pub async fn open_session_for(
    state: &AppState,
    txn: &impl ConnectionTrait,
    u: &user::Model,
) -> Result<AuthPayload, ApiError> {
    let t = tenant::Entity::find_by_id(u.tenant_id.clone())
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::NotFound("tenant".into()))?;
    let role = role_name(txn, &u.role_id).await?;
    open_session(state, txn, &t, u, &role).await
}

/// Rotates a refresh token: the presented one dies, a new pair is issued.
pub async fn refresh(state: &AppState, token: &str) -> Result<AuthPayload, ApiError> {
    let hash = tokens::hash_refresh(token);
    let tenant_id = tokens::refresh_tenant(token)
        .ok_or_else(|| ApiError::Unauthenticated("invalid refresh token".into()))?;
    let txn = state.db.begin_tenant_write(tenant_id).await?;
    let found = session::Entity::find().filter(session::Column::RefreshHash.eq(&hash)).one(&txn).await?;
    let Some(s) = found else {
        // A rotated token seen again: someone kept a copy. End that session.
        let mut buf = SqlBuf::new(state.db.dialect);
        buf.push("SELECT session_id FROM retired_refresh_tokens WHERE hash = ").bind(hash.clone());
        let retired: Option<String> = txn
            .query_one_raw(buf.into_statement())
            .await?
            .map(|r| r.try_get("", "session_id"))
            .transpose()?;
        let stolen = match retired {
            Some(sid) => {
                session::Entity::find_by_id(sid)
                    .filter(session::Column::RevokedAt.is_null())
                    .one(&txn)
                    .await?
            }
            None => None,
        };
        if let Some(s) = stolen {
            tracing::warn!(session = %s.id, "rotated refresh token reused: revoking the session");
            let sid = s.id.clone();
            let user_id = s.user_id.clone();
            let mut am: session::ActiveModel = s.into();
            am.revoked_at = Set(Some(Utc::now()));
            am.update(&txn).await?;
            audit_auth(state, &txn, tenant_id, Some(&user_id), "auth.refresh_reuse", json!({"session": sid}))
                .await?;
            signals::session_revoked(&txn, state.db.dialect, tenant_id, &sid).await?;
            txn.commit().await.map_err(ApiError::from)?;
        }
        return Err(ApiError::Unauthenticated("invalid refresh token".into()));
    };
    if s.revoked_at.is_some() || s.expires_at <= Utc::now() {
        return Err(ApiError::Unauthenticated("session revoked or expired".into()));
    }
    let u = user::Entity::find_by_id(s.user_id.clone())
        .one(&txn)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(|| ApiError::Unauthenticated("user is no longer active".into()))?;
    let t = tenant::Entity::find_by_id(s.tenant_id.clone())
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("tenant no longer exists".into()))?;
    let refresh_token = tokens::new_refresh_token(&t.id)?;
    let session_id = s.id.clone();
    // Remember the retired token, so that presenting it again is recognised as theft.
    let mut buf = SqlBuf::new(state.db.dialect);
    buf.push("INSERT INTO retired_refresh_tokens (hash, tenant_id, session_id, retired_at) VALUES (");
    buf.bind(hash.clone()).push(", ").bind(t.id.clone()).push(", ").bind(session_id.clone()).push(", ");
    buf.bind_ts(entity::runtime::time::now()).push(")");
    txn.execute_raw(buf.into_statement()).await?;
    let mut am: session::ActiveModel = s.into();
    am.previous_refresh_hash = Set(Some(hash));
    am.refresh_hash = Set(tokens::hash_refresh(&refresh_token));
    am.expires_at = Set(Utc::now() + Duration::seconds(state.config.refresh_token_ttl_secs as i64));
    am.update(&txn).await?;
    let role = role_name(&txn, &u.role_id).await?;
    txn.commit().await.map_err(ApiError::from)?;
    Ok(AuthPayload {
        access_token: state.keys.issue(&u.id, &t.id, &session_id)?,
        refresh_token,
        user: view(&u, role),
        tenant: t,
    })
}

/// Revokes the caller's session now.
pub async fn logout(state: &AppState, p: &Principal) -> Result<(), ApiError> {
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(session::Column::Id.eq(&p.session_id))
        .filter(session::Column::TenantId.eq(&p.tenant_id))
        .exec(&txn)
        .await?;
    audit_auth(state, &txn, &p.tenant_id, Some(&p.user_id), "auth.logout", json!({"session": p.session_id}))
        .await?;
    signals::session_revoked(&txn, state.db.dialect, &p.tenant_id, &p.session_id).await?;
    txn.commit().await?;
    Ok(())
}

async fn open_session(
    state: &AppState,
    txn: &impl ConnectionTrait,
    t: &tenant::Model,
    u: &user::Model,
    role: &str,
) -> Result<AuthPayload, ApiError> {
    let refresh_token = tokens::new_refresh_token(&t.id)?;
    let s = session::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(t.id.clone()),
        user_id: Set(u.id.clone()),
        refresh_hash: Set(tokens::hash_refresh(&refresh_token)),
        previous_refresh_hash: Set(None),
        created_at: Set(Utc::now()),
        expires_at: Set(Utc::now() + Duration::seconds(state.config.refresh_token_ttl_secs as i64)),
        revoked_at: Set(None),
    }
    .insert(txn)
    .await?;
    Ok(AuthPayload {
        access_token: state.keys.issue(&u.id, &t.id, &s.id)?,
        refresh_token,
        user: view(u, role.to_owned()),
        tenant: t.clone(),
    })
}

async fn role_name(conn: &impl ConnectionTrait, role_id: &str) -> Result<String, ApiError> {
    Ok(role::Entity::find_by_id(role_id.to_owned()).one(conn).await?.map(|r| r.name).unwrap_or_default())
}

/// The API view of a user row.
pub fn view(u: &user::Model, role: String) -> UserView {
    UserView {
        id: u.id.clone(),
        email: u.email.clone(),
        name: u.name.clone(),
        role,
        created_at: u.created_at,
    }
}

/// Users of a tenant by id, with role names (for `createdBy`/`owner` and `me`).
pub async fn users_by_id(
    db: &entity::Db,
    tenant_id: &str,
    ids: &[String],
) -> Result<Vec<UserView>, ApiError> {
    let txn = db.begin_tenant_read(tenant_id).await?;
    let users = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Id.is_in(ids.iter().cloned()))
        .all(&txn)
        .await?;
    let roles = role::Entity::find().filter(role::Column::TenantId.eq(tenant_id)).all(&txn).await?;
    txn.commit().await?;
    Ok(users
        .iter()
        .map(|u| {
            let role = roles.iter().find(|r| r.id == u.role_id).map(|r| r.name.clone()).unwrap_or_default();
            view(u, role)
        })
        .collect())
}

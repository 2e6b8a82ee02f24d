//! Tenant administration (shared/API.md § Users and roles): roles and their permissions,
//! users and invitations, role assignment, deactivation, forced logout, API keys, outgoing emails and the
//! audit log, for the GraphQL module `features::admin`. Each operation is one transaction,
//! opened and committed here around the data layer's `entity::features::users` (which writes
//! the audit entry and the access signals that close sockets and evict cached credentials);
//! what stays here is the API's part: the caller, and the tokens and keys handed out.

use chrono::Utc;
use entity::features::emails::{self, Email};
use entity::features::users::api_keys::{self, KeyName, NewKey};
use entity::features::users::invites::{self, Address, INVITE_TTL_DAYS};
use entity::features::users::{Admin, accounts, lifecycle, roles, sessions};
use entity::models::{api_key, role};
use entity::runtime::audit::{self, Actor, AuditFilter, AuditRow, Verification};
use sea_orm::DatabaseTransaction;
use serde_json::{Value, json};

pub use entity::features::users::roles::RoleInput;

use crate::auth::principal::Principal;
use crate::auth::service::{self, AuthPayload, UserView};
use crate::auth::{password, tokens};
use crate::error::ApiError;
use crate::services::{Services, Txn};

/// The caller as the data layer's administration functions take it.
pub(crate) fn admin<'a>(p: &'a Principal, actor: &'a Actor) -> Admin<'a> {
    Admin { tenant_id: &p.tenant_id, user_id: &p.user_id, role: &p.role, actor }
}

/// Appends the audit entry of a change this module makes itself (`retryEmail`).
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

pub async fn roles(state: &Services, p: &Principal) -> Result<Vec<role::Model>, ApiError> {
    state.in_tenant(&p.tenant_id, Txn::Read, async |txn| roles::list(txn, &p.tenant_id).await).await
}

pub async fn create_role(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    input: RoleInput,
) -> Result<role::Model, ApiError> {
    state
        .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
            roles::create(txn, state.db.dialect, &admin(p, actor), input).await
        })
        .await
}

pub async fn update_role(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    id: &str,
    input: RoleInput,
) -> Result<role::Model, ApiError> {
    state
        .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
            roles::update(txn, state.db.dialect, &admin(p, actor), id, input).await
        })
        .await
}

pub async fn delete_role(state: &Services, p: &Principal, actor: &Actor, id: &str) -> Result<(), ApiError> {
    state
        .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
            roles::delete(txn, state.db.dialect, &admin(p, actor), id).await
        })
        .await
}

pub async fn users(state: &Services, p: &Principal) -> Result<Vec<UserView>, ApiError> {
    state.in_tenant(&p.tenant_id, Txn::Read, async |txn| accounts::list(txn, &p.tenant_id).await).await
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
    let email = Address::check(email)?;
    let token = tokens::new_refresh_token(&p.tenant_id)?;
    let letter = |tenant_name: &str| {
        let body = format!(
            "You have been invited to {tenant_name} on Alphery OS.\n\n\
             Your invitation token (valid for {INVITE_TTL_DAYS} days):\n\n{token}\n\n\
             Accept it with: mutation {{ acceptInvite(token: \"{token}\", password: \"...\") {{ accessToken }} }}\n"
        );
        (format!("You are invited to {tenant_name}"), body)
    };
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let hash = tokens::hash_refresh(&token);
    let (user, expires_at) =
        invites::invite(&txn, state.db.dialect, &admin(p, actor), &email, role_id, hash, &letter).await?;
    txn.commit().await?;
    Ok(Invite { user, token, expires_at })
}

/// `acceptInvite`: sets the password, activates the user and signs them in.
pub async fn accept_invite(
    state: &Services,
    token: &str,
    new_password: &str,
) -> Result<AuthPayload, ApiError> {
    let invalid = || ApiError::Unauthenticated("invalid or expired invitation".into());
    let tenant_id = tokens::refresh_tenant(token).ok_or_else(invalid)?;
    if let Some(refused) = password::refusal("password", new_password) {
        return Err(ApiError::Validation(vec![refused]));
    }
    let hash = password::hash(new_password).await?;
    let (refresh_token, session) = service::new_session(state, tenant_id)?;
    let txn = state.db.begin_tenant_write(tenant_id).await?;
    let invite = tokens::hash_refresh(token);
    let opened = invites::accept(&txn, state.db.dialect, tenant_id, &invite, hash, session)
        .await?
        .ok_or_else(invalid)?;
    let payload = service::payload(state, opened, refresh_token)?;
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
    state
        .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
            accounts::assign_role(txn, state.db.dialect, &admin(p, actor), user_id, role_id).await
        })
        .await
}

/// `deactivateUser` (`active` false) or `reactivateUser`: sign-in refused or restored; on
/// deactivation the user's sessions and API keys end, with their sockets.
pub async fn set_user_active(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    user_id: &str,
    active: bool,
) -> Result<UserView, ApiError> {
    state
        .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
            lifecycle::set_active(txn, state.db.dialect, &admin(p, actor), user_id, active).await
        })
        .await
}

/// Ends every live session of a user now (and their open sockets). Returns how many.
pub async fn revoke_sessions(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    user_id: &str,
) -> Result<u64, ApiError> {
    state
        .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
            sessions::revoke_all(txn, state.db.dialect, &admin(p, actor), user_id).await
        })
        .await
}

pub async fn api_keys(state: &Services, p: &Principal) -> Result<Vec<api_key::Model>, ApiError> {
    state.in_tenant(&p.tenant_id, Txn::Read, async |txn| api_keys::list(txn, &p.tenant_id).await).await
}

/// Creates an API key; the key itself is returned once and only its hash is kept.
pub async fn create_api_key(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    name: &str,
    role_id: &str,
) -> Result<(String, api_key::Model), ApiError> {
    let name = KeyName::check(name)?;
    let key = tokens::new_api_key(&p.tenant_id)?;
    let new = NewKey {
        name,
        role_id: role_id.to_owned(),
        key_hash: tokens::hash_refresh(&key),
        key_prefix: key.chars().take(12).collect(),
    };
    let k = state
        .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
            api_keys::create(txn, state.db.dialect, &admin(p, actor), new).await
        })
        .await?;
    Ok((key, k))
}

pub async fn revoke_api_key(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    id: &str,
) -> Result<api_key::Model, ApiError> {
    state
        .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
            api_keys::revoke(txn, state.db.dialect, &admin(p, actor), id).await
        })
        .await
}

/// A page of the audit log, newest first.
pub async fn audit_log(
    state: &Services,
    p: &Principal,
    filter: &AuditFilter,
    first: u64,
    before_seq: Option<i64>,
) -> Result<(Vec<AuditRow>, bool, i64), ApiError> {
    state
        .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
            audit::list(txn, &state.sealer, state.db.dialect, &p.tenant_id, filter, first, before_seq).await
        })
        .await
}

/// The tenant's outgoing emails, newest first.
pub async fn emails(
    state: &Services,
    p: &Principal,
    status: Option<&str>,
    first: u64,
) -> Result<Vec<Email>, ApiError> {
    state
        .in_tenant(&p.tenant_id, Txn::Read, async |txn| emails::list(txn, &p.tenant_id, status, first).await)
        .await
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
    state.in_tenant(&p.tenant_id, Txn::Read, async |txn| audit::verify(txn, &p.tenant_id).await).await
}

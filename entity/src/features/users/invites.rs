//! Invitations: an invited user is inactive, with no password that can match, until the
//! invitation token (kept only as a hash, valid for `INVITE_TTL_DAYS`) is accepted with a
//! password; the invitation is emailed through the outgoing-email queue in the same
//! transaction. Accepting activates the user and opens their first session.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};
use serde_json::json;

use super::sessions::{self, NewSession, Opened};
use super::{Admin, UserView, accounts, roles};
use crate::features::emails;
use crate::models::{tenant, user};
use crate::runtime::audit::{self, Actor};
use crate::runtime::time;
use crate::runtime::value::is_email;
use crate::{Dialect, Error, Result};

/// How long an invitation stays valid.
pub const INVITE_TTL_DAYS: i64 = 7;

/// What the invitation email says: its subject and body, given the tenant's name.
pub type Letter<'a> = &'a (dyn Fn(&str) -> (String, String) + Sync);

/// `inviteUser`: a new, inactive user of the tenant at `email` with role `role_id`, who
/// accepts with the token whose hash is `token_hash`; the invitation (`letter`) is queued to
/// them. The user and when the invitation expires.
pub async fn invite(
    conn: &impl ConnectionTrait,
    d: Dialect,
    admin: &Admin<'_>,
    Address(email): &Address,
    role_id: &str,
    token_hash: String,
    letter: Letter<'_>,
) -> Result<(UserView, DateTime<Utc>)> {
    let r = roles::find(conn, admin.tenant_id, role_id).await?;
    roles::check_grant(admin, &r)?;
    let exists = user::Entity::find()
        .filter(user::Column::TenantId.eq(admin.tenant_id))
        .filter(user::Column::Email.eq(email))
        .count(conn)
        .await?
        > 0;
    if exists {
        return Err(Error::Conflict(format!("{email} is already a user of this tenant")));
    }
    let now = time::now();
    let expires_at = now + Duration::days(INVITE_TTL_DAYS);
    // No password can match `!invited` until the invitation is accepted.
    let mut u = accounts::new_user(admin.tenant_id, email, &r.id, "!invited".into(), now);
    u.is_active = Set(false);
    u.invite_hash = Set(Some(token_hash));
    u.invite_expires_at = Set(Some(expires_at));
    let u = u.insert(conn).await?;
    let changes = json!({"email": email, "role": r.name});
    admin.audit(conn, d, "user.invite", ("user", &u.id), changes).await?;
    let tenant_name = tenant::Entity::find_by_id(admin.tenant_id.to_owned())
        .one(conn)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let (subject, body) = letter(&tenant_name);
    let key = format!("invite:{}", u.id);
    let message =
        emails::NewEmail { idempotency_key: &key, to: email, subject: &subject, body: &body, about: None };
    emails::queue(conn, admin.tenant_id, &message).await?;
    Ok((UserView::of(&u, r.name), expires_at))
}

/// An address to invite, checked (`Address::check`) before the invitation's transaction.
#[derive(Debug, Clone)]
pub struct Address(String);

impl Address {
    /// `email` trimmed and lower-cased (the form logins are looked up in), if it is an address.
    pub fn check(email: &str) -> Result<Address> {
        let email = email.trim().to_lowercase();
        if !is_email(&email) {
            return Err(Error::field("email", "must be an email address"));
        }
        Ok(Address(email))
    }
}

/// `acceptInvite`: the invited user whose pending invitation has the token hash `token_hash`
/// gets the password (hash) and is activated, and a session is opened for them. `None` when no
/// such invitation is pending.
pub async fn accept(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    token_hash: &str,
    password_hash: String,
    new: NewSession,
) -> Result<Option<Opened>> {
    let found = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::InviteHash.eq(token_hash))
        .one(conn)
        .await?
        .filter(|u| u.invite_expires_at.is_some_and(|e| e > Utc::now()));
    let Some(u) = found else { return Ok(None) };
    let mut am: user::ActiveModel = u.into();
    am.password_hash = Set(password_hash);
    am.is_active = Set(true);
    am.invite_hash = Set(None);
    am.invite_expires_at = Set(None);
    am.updated_at = Set(time::now());
    let u = am.update(conn).await?;
    let actor = Actor::user(&u.id, None);
    let entry = audit::Entry {
        action: "user.accept_invite",
        object_type: "user",
        object_id: Some(&u.id),
        changes: json!({}),
    };
    audit::append(conn, d, tenant_id, &actor, &entry).await?;
    sessions::open_for(conn, u, new).await.map(Some)
}

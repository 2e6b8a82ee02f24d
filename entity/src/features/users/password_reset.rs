//! Password reset by emailed one-time token (`requestPasswordReset`, `resetPassword`). A
//! request for an active user stores the token's hash with its expiry, deletes the user's
//! older unused tokens (only the newest works) and queues the email, in one transaction; a
//! request within `COOLDOWN_SECS` of the previous one sends nothing (a flood of requests from
//! many addresses cannot flood the mailbox). Redeeming a token sets the password, marks the
//! token used, and ends every session of the user (whoever held the old password is out),
//! then opens a fresh one. The token itself is the API's: only its hash comes here.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

use super::audit_user;
use super::sessions::{self, NewSession, Opened};
use crate::features::emails;
use crate::models::{password_reset as reset, tenant, user};
use crate::runtime::audit::Actor;
use crate::runtime::time;
use crate::{Dialect, Result};

/// Seconds after a reset email during which another request for the same user sends nothing.
pub const COOLDOWN_SECS: i64 = 60;

/// What the reset email says: its subject and body, given the tenant's name.
pub type Letter<'a> = &'a (dyn Fn(&str) -> (String, String) + Sync);

/// A token to store: the hash of the one emailed, and how long it lives.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub hash: String,
    pub ttl: Duration,
}

/// Appends the audit entry of a reset step on user `user_id`, who acts (the token or the
/// mailbox is theirs).
async fn audit_reset(
    conn: &impl ConnectionTrait,
    d: Dialect,
    (tenant_id, user_id): (&str, &str),
    action: &str,
    changes: serde_json::Value,
) -> Result<()> {
    let actor = Actor { user_id: Some(user_id.to_owned()), ..Actor::default() };
    audit_user(conn, d, (tenant_id, user_id), &actor, action, changes).await
}

/// `requestPasswordReset` for `u` of tenant `t`: stores `token`, invalidates the user's older
/// unused tokens and queues the email (`letter`). Whether an email was queued: not for an
/// inactive user, nor within the cooldown. The caller answers the same either way.
pub async fn request(
    conn: &impl ConnectionTrait,
    d: Dialect,
    t: &tenant::Model,
    u: &user::Model,
    token: NewToken,
    letter: Letter<'_>,
) -> Result<bool> {
    if !u.is_active {
        return Ok(false);
    }
    let now = time::now();
    let recent = reset::Entity::find()
        .filter(reset::Column::TenantId.eq(&t.id))
        .filter(reset::Column::UserId.eq(&u.id))
        .filter(reset::Column::UsedAt.is_null())
        .filter(reset::Column::CreatedAt.gt(now - Duration::seconds(COOLDOWN_SECS)))
        .one(conn)
        .await?;
    if recent.is_some() {
        return Ok(false);
    }
    reset::Entity::delete_many()
        .filter(reset::Column::TenantId.eq(&t.id))
        .filter(reset::Column::UserId.eq(&u.id))
        .filter(reset::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    let id = uuid::Uuid::new_v4().to_string();
    let expires_at = now + token.ttl;
    reset::ActiveModel {
        id: Set(id.clone()),
        tenant_id: Set(t.id.clone()),
        user_id: Set(u.id.clone()),
        token_hash: Set(token.hash),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(conn)
    .await?;
    let (subject, body) = letter(&t.name);
    let key = format!("password-reset:{id}");
    let message =
        emails::NewEmail { idempotency_key: &key, to: &u.email, subject: &subject, body: &body, about: None };
    emails::queue(conn, &t.id, &message).await?;
    audit_reset(conn, d, (&t.id, &u.id), "user.password_reset_request", json!({"expiresAt": expires_at}))
        .await?;
    Ok(true)
}

/// What a reset token presented is.
#[derive(Debug)]
pub enum Lookup {
    /// Valid: the token and its (active) user.
    Valid(Box<(reset::Model, user::Model)>),
    /// No token has this hash (never issued, or replaced by a newer request), or its user is
    /// no longer active.
    Unknown,
    /// The token already set a password.
    Used,
    /// The token is past its expiry.
    Expired,
}

/// The reset token whose hash is `token_hash`, and its user.
pub async fn lookup(conn: &impl ConnectionTrait, tenant_id: &str, token_hash: &str) -> Result<Lookup> {
    let found = reset::Entity::find()
        .filter(reset::Column::TenantId.eq(tenant_id))
        .filter(reset::Column::TokenHash.eq(token_hash))
        .one(conn)
        .await?;
    let Some(r) = found else { return Ok(Lookup::Unknown) };
    if r.used_at.is_some() {
        return Ok(Lookup::Used);
    }
    if r.expires_at <= Utc::now() {
        return Ok(Lookup::Expired);
    }
    let found = user::Entity::find_by_id(r.user_id.clone())
        .filter(user::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await?
        .filter(|u| u.is_active);
    Ok(match found {
        Some(u) => Lookup::Valid(Box::new((r, u))),
        None => Lookup::Unknown,
    })
}

/// `resetPassword`: redeems reset token `r` of user `u` (`lookup`) with the new password's
/// hash: the password is set, every older session of the user ends, and a new one opens.
/// `None` when a concurrent use redeemed it first.
pub async fn redeem(
    conn: &impl ConnectionTrait,
    d: Dialect,
    r: &reset::Model,
    u: user::Model,
    password_hash: String,
    new: NewSession,
) -> Result<Option<Opened>> {
    // Only the statement that moves `used_at` from NULL redeems: of two concurrent uses, the
    // other reads "used".
    let marked = reset::Entity::update_many()
        .col_expr(reset::Column::UsedAt, Expr::value(time::now()))
        .filter(reset::Column::TenantId.eq(&r.tenant_id))
        .filter(reset::Column::Id.eq(&r.id))
        .filter(reset::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    if marked.rows_affected != 1 {
        return Ok(None);
    }
    let tenant_id = r.tenant_id.as_str();
    let mut am: user::ActiveModel = u.into();
    am.password_hash = Set(password_hash);
    am.updated_at = Set(time::now());
    let u = am.update(conn).await?;
    let ended = sessions::revoke_live(conn, d, tenant_id, &u.id, None).await?;
    audit_reset(conn, d, (tenant_id, &u.id), "user.password_reset", json!({"sessionsRevoked": ended}))
        .await?;
    sessions::open_for(conn, u, new).await.map(Some)
}

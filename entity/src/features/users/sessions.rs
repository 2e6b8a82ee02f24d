//! Sessions: opened by signup, login and an accepted invitation; their refresh tokens rotate
//! (`rotate`), and a rotated token presented again revokes its whole session (it can only be a
//! stolen copy, so the retired hashes are kept in `retired_refresh_tokens`); logout and
//! forced logout revoke them. `access` reads what a session grants, for every request that is
//! not answered from the credential cache. The tokens themselves are the API's: only their
//! hashes come here.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QuerySelect, Set,
};
use serde_json::{Value, json};

use super::{Access, AccessRow, Admin, roles, select_access};
use crate::models::{retired_refresh_token as retired, session, tenant, user};
use crate::runtime::audit::{self, Actor};
use crate::runtime::{signals, time};
use crate::{Dialect, Error, Result};

/// A session to open: the hash of its first refresh token and how long that token lives.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub refresh_hash: String,
    pub ttl: Duration,
}

/// A session just opened (or its token rotated), with whom and which tenant it is for.
#[derive(Debug, Clone)]
pub struct Opened {
    pub session: session::Model,
    pub user: user::Model,
    /// The user's role name.
    pub role: String,
    pub tenant: tenant::Model,
}

/// Appends an authentication event to the tenant's audit trail.
pub(super) async fn audit_auth(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    user_id: Option<&str>,
    action: &str,
    changes: Value,
) -> Result<()> {
    let actor = Actor { user_id: user_id.map(str::to_owned), ..Actor::default() };
    let entry = audit::Entry { action, object_type: "session", object_id: user_id, changes };
    audit::append(conn, d, tenant_id, &actor, &entry).await
}

/// Opens a session of `u` in its tenant.
pub(super) async fn open(
    conn: &impl ConnectionTrait,
    u: &user::Model,
    new: NewSession,
) -> Result<session::Model> {
    Ok(session::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(u.tenant_id.clone()),
        user_id: Set(u.id.clone()),
        refresh_hash: Set(new.refresh_hash),
        previous_refresh_hash: Set(None),
        created_at: Set(Utc::now()),
        expires_at: Set(Utc::now() + new.ttl),
        revoked_at: Set(None),
    }
    .insert(conn)
    .await?)
}

/// Opens a session for `u` of tenant `t`, whose credentials were checked (`login`).
pub async fn login(
    conn: &impl ConnectionTrait,
    d: Dialect,
    t: &tenant::Model,
    u: &user::Model,
    new: NewSession,
) -> Result<Opened> {
    let role = roles::name_of(conn, &u.role_id).await?;
    let session = open(conn, u, new).await?;
    audit_auth(conn, d, &t.id, Some(&u.id), "auth.login", json!({})).await?;
    Ok(Opened { session, user: u.clone(), role, tenant: t.clone() })
}

/// Records a failed login (whatever failed: every failure says the same).
pub async fn login_failed(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    email: &str,
) -> Result<()> {
    audit_auth(conn, d, tenant_id, None, "auth.login_failed", json!({"email": email})).await
}

/// Opens a session for `u` (after accepting an invitation).
pub(super) async fn open_for(conn: &impl ConnectionTrait, u: user::Model, new: NewSession) -> Result<Opened> {
    let tenant = tenant::Entity::find_by_id(u.tenant_id.clone())
        .one(conn)
        .await?
        .ok_or_else(|| Error::NotFound("tenant".into()))?;
    let role = roles::name_of(conn, &u.role_id).await?;
    let session = open(conn, &u, new).await?;
    Ok(Opened { session, user: u, role, tenant })
}

/// What presenting a refresh token came to.
#[derive(Debug)]
pub enum Refresh {
    /// The token is rotated: the session now answers to the new one.
    Rotated(Box<Opened>),
    /// No session answers to the token. `revoked`: it was a rotated token presented again,
    /// and its session is revoked now (the caller commits that).
    Unknown { revoked: bool },
    /// The session is revoked or expired.
    Ended,
    /// The session's user is deactivated (or gone).
    UserInactive,
    /// The session's tenant is gone.
    TenantGone,
}

/// Rotates refresh token `presented` (by hash) to `next`: the presented one is retired, and the
/// session lives `next.ttl` from now.
pub async fn rotate(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    presented: &str,
    next: NewSession,
) -> Result<Refresh> {
    let found = session::Entity::find().filter(session::Column::RefreshHash.eq(presented)).one(conn).await?;
    let Some(s) = found else {
        return Ok(Refresh::Unknown { revoked: revoke_reused(conn, d, tenant_id, presented).await? });
    };
    if s.revoked_at.is_some() || s.expires_at <= Utc::now() {
        return Ok(Refresh::Ended);
    }
    let Some(u) = user::Entity::find_by_id(s.user_id.clone()).one(conn).await?.filter(|u| u.is_active) else {
        return Ok(Refresh::UserInactive);
    };
    let Some(t) = tenant::Entity::find_by_id(s.tenant_id.clone()).one(conn).await? else {
        return Ok(Refresh::TenantGone);
    };
    // Remember the retired token, so that presenting it again is recognised as theft.
    retired::Entity::insert(retired::ActiveModel {
        hash: Set(presented.to_owned()),
        tenant_id: Set(t.id.clone()),
        session_id: Set(s.id.clone()),
        retired_at: Set(time::now()),
    })
    .exec_without_returning(conn)
    .await?;
    let mut am: session::ActiveModel = s.into();
    am.previous_refresh_hash = Set(Some(presented.to_owned()));
    am.refresh_hash = Set(next.refresh_hash);
    am.expires_at = Set(Utc::now() + next.ttl);
    let session = am.update(conn).await?;
    let role = roles::name_of(conn, &u.role_id).await?;
    Ok(Refresh::Rotated(Box::new(Opened { session, user: u, role, tenant: t })))
}

/// A refresh token no session answers to: when it is a retired one, someone kept a copy, and
/// its session (if still live) is revoked. Whether one was.
async fn revoke_reused(conn: &impl ConnectionTrait, d: Dialect, tenant_id: &str, hash: &str) -> Result<bool> {
    let retired: Option<String> = retired::Entity::find_by_id(hash.to_owned())
        .select_only()
        .column(retired::Column::SessionId)
        .into_tuple()
        .one(conn)
        .await?;
    let stolen = match retired {
        Some(sid) => {
            session::Entity::find_by_id(sid).filter(session::Column::RevokedAt.is_null()).one(conn).await?
        }
        None => None,
    };
    let Some(s) = stolen else { return Ok(false) };
    tracing::warn!(session = %s.id, "rotated refresh token reused: revoking the session");
    let sid = s.id.clone();
    let user_id = s.user_id.clone();
    let mut am: session::ActiveModel = s.into();
    am.revoked_at = Set(Some(Utc::now()));
    am.update(conn).await?;
    audit_auth(conn, d, tenant_id, Some(&user_id), "auth.refresh_reuse", json!({"session": sid})).await?;
    signals::session_revoked(conn, d, tenant_id, &sid).await?;
    Ok(true)
}

/// Revokes session `session_id` of `user_id` now (`logout`).
pub async fn logout(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    user_id: &str,
    session_id: &str,
) -> Result<()> {
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    audit_auth(conn, d, tenant_id, Some(user_id), "auth.logout", json!({"session": session_id})).await?;
    signals::session_revoked(conn, d, tenant_id, session_id).await
}

/// `revokeSessions`: ends every live session of a user now (and their open sockets). Returns
/// how many.
pub async fn revoke_all(
    conn: &impl ConnectionTrait,
    d: Dialect,
    admin: &Admin<'_>,
    user_id: &str,
) -> Result<u64> {
    let n = revoke_live(conn, d, admin.tenant_id, user_id, None).await?;
    admin.audit(conn, d, "session.revoke_all", ("user", user_id), json!({"sessions": n})).await?;
    Ok(n)
}

/// Ends every live session of `user_id` but `except` now, and tells every instance (their
/// sockets close, their cached credentials go). Returns how many.
pub(super) async fn revoke_live(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    user_id: &str,
    except: Option<&str>,
) -> Result<u64> {
    let mut live = session::Entity::find()
        .select_only()
        .column(session::Column::Id)
        .filter(session::Column::TenantId.eq(tenant_id))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null());
    if let Some(keep) = except {
        live = live.filter(session::Column::Id.ne(keep));
    }
    let ids: Vec<String> = live.into_tuple().all(conn).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(session::Column::TenantId.eq(tenant_id))
        .filter(session::Column::Id.is_in(ids.iter().cloned()))
        .exec(conn)
        .await?;
    for id in &ids {
        signals::session_revoked(conn, d, tenant_id, id).await?;
    }
    Ok(ids.len() as u64)
}

/// What a session grants, and whether it still may.
#[derive(Debug, Clone)]
pub struct SessionAccess {
    /// Not revoked.
    pub live: bool,
    pub expires_at: DateTime<Utc>,
    /// The user is active.
    pub active: bool,
    pub access: Access,
}

#[derive(Debug, FromQueryResult)]
struct SessionRow {
    live: bool,
    expires_at: DateTime<Utc>,
    is_active: bool,
    #[sea_orm(nested)]
    access: AccessRow,
}

/// Session `session_id` of `user_id` in `tenant_id` with its user's role and the tenant's
/// metadata version, in one statement (it runs for every request the credential cache does not
/// answer).
pub async fn access(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    session_id: &str,
    user_id: &str,
) -> Result<Option<SessionAccess>> {
    let q = session::Entity::find()
        .select_only()
        .column_as(Expr::col((session::Entity, session::Column::RevokedAt)).is_null(), "live")
        .column(session::Column::ExpiresAt)
        .column(user::Column::IsActive)
        .join(
            JoinType::InnerJoin,
            session::Entity::belongs_to(user::Entity)
                .from(session::Column::UserId)
                .to(user::Column::Id)
                .into(),
        );
    let row = select_access(q, user::Column::RoleId, session::Column::TenantId, session::Column::UserId)
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::TenantId.eq(tenant_id))
        .into_model::<SessionRow>()
        .one(conn)
        .await?;
    Ok(row.map(|r| SessionAccess {
        live: r.live,
        expires_at: r.expires_at,
        active: r.is_active,
        access: r.access.into(),
    }))
}

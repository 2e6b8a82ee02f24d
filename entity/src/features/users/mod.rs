//! Users and roles (shared/API.md § Users and roles, § Authentication) in the data layer: a
//! tenant's signup with its default roles and owner (`signup`), roles and their permissions
//! (`roles`), user accounts, role assignment and the lookups of login (`accounts`),
//! invitations (`invites`), a user's own profile and password (`profile`), deactivation
//! (`lifecycle`), password reset by emailed token (`password_reset`), TOTP two-factor
//! sign-in (`two_factor`), OpenID Connect providers and sign-in (`oidc`), sessions with their
//! rotating refresh tokens (`sessions`) and API
//! keys (`api_keys`), each with what a credential resolves to. Every change is written in the
//! caller's transaction with its audit entry, and a change that alters what a connected client
//! may see writes its access signal there too (`runtime::signals`), which closes sockets and
//! evicts cached credentials on every instance.
//!
//! Passwords, tokens and keys are the API's business: these functions take and store only
//! their hashes. Every statement is a SeaORM query on the models of `crate::models`.

pub mod accounts;
pub mod api_keys;
pub mod attributes;
pub mod invites;
pub mod lifecycle;
pub mod oidc;
pub mod password_reset;
pub mod profile;
pub mod roles;
pub mod sessions;
pub mod signup;
pub mod two_factor;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QuerySelect, QueryTrait, Select};
use serde_json::Value;

use crate::models::{role, tenant, user, user_attribute};
use crate::runtime::audit::{self, Actor};
use crate::runtime::policy::{Attributes, Permissions};
use crate::{Dialect, Result};

/// The role that owns the tenant: its permissions are fixed and only owners grant it.
pub const OWNER_ROLE: &str = "owner";

/// Who administers: the caller's tenant, user and role name, and who the audit trail names.
#[derive(Debug, Clone, Copy)]
pub struct Admin<'a> {
    pub tenant_id: &'a str,
    pub user_id: &'a str,
    /// The caller's role name: only owners grant (or take away) the owner role.
    pub role: &'a str,
    pub actor: &'a Actor,
}

impl Admin<'_> {
    /// Appends the audit entry of an administration change on `(object_type, object_id)`.
    async fn audit(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        d: Dialect,
        action: &str,
        (object_type, object_id): (&str, &str),
        changes: Value,
    ) -> Result<()> {
        let entry = audit::Entry { action, object_type, object_id: Some(object_id), changes };
        audit::append(conn, d, self.tenant_id, self.actor, &entry).await
    }
}

/// Appends the audit entry of `action` by `actor` on the account of user `user_id`.
async fn audit_user(
    conn: &impl sea_orm::ConnectionTrait,
    d: Dialect,
    (tenant_id, user_id): (&str, &str),
    actor: &Actor,
    action: &str,
    changes: Value,
) -> Result<()> {
    let entry = audit::Entry { action, object_type: "user", object_id: Some(user_id), changes };
    audit::append(conn, d, tenant_id, actor, &entry).await
}

/// A user as the API shows it: the account with its role's name.
#[derive(Debug, Clone)]
pub struct UserView {
    pub id: String,
    /// The user's tenant (where their attributes are read).
    pub tenant_id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub locale: Option<String>,
    pub time_zone: Option<String>,
    pub avatar: Option<String>,
    /// False while deactivated or invited (not yet accepted).
    pub active: bool,
    /// Sign-in asks for a TOTP (or recovery) code besides the password.
    pub totp_enabled: bool,
    pub created_at: DateTime<Utc>,
}

impl UserView {
    pub fn of(u: &user::Model, role: String) -> UserView {
        UserView {
            id: u.id.clone(),
            tenant_id: u.tenant_id.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            role,
            locale: u.locale.clone(),
            time_zone: u.time_zone.clone(),
            avatar: u.avatar.clone(),
            active: u.is_active,
            totp_enabled: u.totp_enabled,
            created_at: u.created_at,
        }
    }
}

/// What a credential grants, read with it in one statement: its role and the tenant's
/// metadata version (which selects the schema).
#[derive(Debug, Clone)]
pub struct Access {
    pub role_id: String,
    /// Role name (`owner`, `admin`, `member`, …).
    pub role: String,
    pub permissions: Arc<Permissions>,
    pub metadata_version: i64,
    /// The tenant is scheduled for deletion (`gdpr::tenant`): read-only until it is cancelled.
    pub tenant_deleting: bool,
    /// The user's attributes (`attributes`), which row rules read as `$user.<key>`.
    pub attributes: Arc<Attributes>,
    /// The user's own time zone (their profile's, when it names a known one): what their day
    /// is in, else the tenant's.
    pub time_zone: Option<chrono_tz::Tz>,
}

/// The role and tenant columns of a credential's row (`sessions::access`, `api_keys::access`).
#[derive(Debug, FromQueryResult)]
struct AccessRow {
    role_id: String,
    role: String,
    permissions: Value,
    metadata_version: i64,
    deletion_due_at: Option<DateTime<Utc>>,
    attributes: Option<Value>,
    time_zone: Option<String>,
}

/// `q`, a credential's row, with what the credential grants (`AccessRow`'s columns): its
/// role, joined on `role_id`, its tenant, joined on `tenant_id`, and the attributes of the
/// user it acts for (`user_id`), left-joined — in the same statement. `q` joins that user
/// (`users`) itself, whose time zone is read with them.
fn select_access<E: EntityTrait>(
    q: Select<E>,
    role_id: impl ColumnTrait,
    tenant_id: impl ColumnTrait,
    user_id: impl ColumnTrait,
) -> Select<E> {
    let mut q = q
        .column_as(role::Column::Id, "role_id")
        .column_as(role::Column::Name, "role")
        .column(role::Column::Permissions)
        .column(tenant::Column::MetadataVersion)
        .column(tenant::Column::DeletionDueAt)
        .column(user_attribute::Column::Attributes)
        .column(user::Column::TimeZone);
    QueryTrait::query(&mut q)
        .inner_join(role::Entity, Expr::col((role::Entity, role::Column::Id)).equals(role_id.as_column_ref()))
        .inner_join(
            tenant::Entity,
            Expr::col((tenant::Entity, tenant::Column::Id)).equals(tenant_id.as_column_ref()),
        )
        .left_join(
            user_attribute::Entity,
            Expr::col((user_attribute::Entity, user_attribute::Column::UserId))
                .equals(user_id.as_column_ref()),
        );
    q
}

impl From<AccessRow> for Access {
    fn from(r: AccessRow) -> Access {
        Access {
            role_id: r.role_id,
            role: r.role,
            permissions: Arc::new(Permissions::from_stored(&r.permissions)),
            metadata_version: r.metadata_version,
            tenant_deleting: r.deletion_due_at.is_some(),
            attributes: Arc::new(attributes::from_stored(r.attributes)),
            time_zone: r.time_zone.and_then(|z| z.parse().ok()),
        }
    }
}

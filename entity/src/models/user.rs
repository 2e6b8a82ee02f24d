//! `users`: people who sign in to one tenant (the email is unique within the tenant).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub name: Option<String>,
    pub password_hash: String,
    pub role_id: String,
    /// False for a deactivated user and for a pending invitation: no login, no session.
    pub is_active: bool,
    /// SHA-256 of a pending invitation token (cleared when accepted).
    pub invite_hash: Option<String>,
    pub invite_expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Preferred language, a BCP-47 tag (`en`, `hi-IN`).
    pub locale: Option<String>,
    /// Preferred IANA time zone (`Asia/Kolkata`).
    pub time_zone: Option<String>,
    /// Picture URL (http or https).
    pub avatar: Option<String>,
    /// Sign-in asks for a TOTP (or recovery) code besides the password (`user_totp`).
    pub totp_enabled: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

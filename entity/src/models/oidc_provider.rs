//! `oidc_providers`: a tenant's OpenID Connect identity providers, by key. The client secret is
//! sealed by the API with the server's key (`client_secret_sealed`); this crate never sees it
//! in clear.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oidc_providers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider_key: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret_sealed: String,
    /// Scopes asked for, a JSON array of strings (always with `openid`).
    pub scopes: Json,
    /// Name of the role a user created at first sign-in gets.
    pub default_role: String,
    pub allow_signup: bool,
    /// Email domains a new user may come from, a JSON array (empty: any).
    pub allowed_email_domains: Json,
    /// The redirect URIs a login may come back to, a JSON array (exact matches; empty: none).
    pub redirect_uris: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

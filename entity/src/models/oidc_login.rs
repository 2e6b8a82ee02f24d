//! `oidc_logins`: OpenID Connect logins under way, keyed by the SHA-256 of their `state`; each
//! is consumed once by `completeOidcLogin`, before it expires.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oidc_logins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_hash: String,
    pub tenant_id: String,
    pub provider_key: String,
    /// Must come back in the ID token.
    pub nonce: String,
    /// The PKCE verifier, sent with the code to the token endpoint.
    pub code_verifier: String,
    pub redirect_uri: String,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

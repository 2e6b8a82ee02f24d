//! `retired_refresh_tokens`: the hashes of refresh tokens already rotated away, with their
//! session, so that a retired token presented again is recognised as a stolen copy.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "retired_refresh_tokens")]
pub struct Model {
    /// SHA-256 of the retired token (hex).
    #[sea_orm(primary_key, auto_increment = false)]
    pub hash: String,
    pub tenant_id: String,
    pub session_id: String,
    pub retired_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `subject_keys`: the data key of one subject record (`runtime::personal`), sealed with the
//! server key. Deleting the row is the crypto-shredding of everything sealed under it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subject_keys")]
pub struct Model {
    /// Named in each sealed audit value, so a value sealed under a destroyed key stays erased
    /// even after the subject gets a new key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// The record the key belongs to.
    pub subject_id: String,
    /// The 256-bit key, sealed by the server key for this tenant and key id.
    pub sealed_key: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

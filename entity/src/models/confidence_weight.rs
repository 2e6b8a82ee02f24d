//! `confidence_weights`: a tenant's Deal Confidence Meter weights (one row per tenant, the
//! weights as JSON; `features::confidence::weights` reads and writes it).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "confidence_weights")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// A JSON array of `{signal, effect, threshold}`.
    #[sea_orm(column_type = "JsonBinary")]
    pub weights: Json,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

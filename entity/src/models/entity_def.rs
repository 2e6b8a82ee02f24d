//! `entity_defs`: a tenant's runtime-defined entities (Patient, Deal…).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entity_defs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name_singular: String,
    pub name_plural: String,
    pub label_singular: String,
    pub label_plural: String,
    pub icon: Option<String>,
    pub record_number_prefix: Option<String>,
    /// Language code → `{singular, plural}`.
    pub labels: Option<Json>,
    /// Every module holding it is off (`features::modules`): hidden from the API, data kept.
    pub switched_off: bool,
    /// Its stock configuration (`runtime::stock`): a movement ledger, a bill-of-materials line
    /// or a production order; absent for every other entity.
    pub stock: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

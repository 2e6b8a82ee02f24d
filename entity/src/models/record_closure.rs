//! `record_closure`: the transitive closure of the tenant's hierarchy links (RELATION fields
//! marked `hierarchy`): one row per (ancestor, descendant) record pair at `depth` ≥ 1, kept in
//! each write's transaction (`runtime::hierarchy`) and probed by `within` rules.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "record_closure")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub ancestor_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub descendant_id: String,
    /// Links between them: 1 for a record's parent.
    pub depth: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `user_attributes`: the attributes an administrator set on one user (`setUserAttributes`),
//! one JSON object per user. Row rules read them as `$user.<key>`
//! (`runtime::policy`); they are read with the user's credential (`features::users`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_attributes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub tenant_id: String,
    /// Key → value (a string, number, boolean or a list of them).
    #[sea_orm(column_type = "JsonBinary")]
    pub attributes: Json,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

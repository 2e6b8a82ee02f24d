//! `dashboards`: a tenant's dashboards — name and widgets as JSON, the roles shown them, the
//! template that brought one and its place in the list (unique key per tenant).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dashboards")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub key: String,
    /// Language code → text.
    #[sea_orm(column_type = "JsonBinary")]
    pub name: Json,
    /// Role names (empty: every role).
    #[sea_orm(column_type = "JsonBinary")]
    pub roles: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub widgets: Json,
    pub template: Option<String>,
    pub position: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Every module holding it is off (`features::modules`): it is hidden.
    pub switched_off: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `audit_log`: the append-only audit trail, a hash chain per tenant (`seq` numbers a tenant's
//! entries; `hash` = SHA-256 of `prev_hash` and the entry's canonical body). Entries are
//! written by `runtime::audit` in the statement of the change they record; the database refuses
//! updates and deletes.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: String,
    pub seq: i64,
    pub at: DateTimeUtc,
    pub actor_user_id: Option<String>,
    pub actor_api_key_id: Option<String>,
    pub request_id: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub changes: Json,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `files`: the document vault's uploaded files (metadata; the bytes live in the file store,
//! addressed by their SHA-256).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "files")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// The entity of the record it is attached to (`None`: uploaded, not attached yet).
    pub entity_id: Option<String>,
    pub record_id: Option<String>,
    /// The FILE field whose value it is (`None`: a generic attachment of the record).
    pub field_key: Option<String>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// SHA-256 of the content (hex): the key of its bytes in the file store.
    pub sha256: String,
    pub uploaded_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

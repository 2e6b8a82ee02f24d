//! `field_defs`: the fields of a runtime entity, with type, constraints and options.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "field_defs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub entity_id: String,
    pub key: String,
    pub label: String,
    pub field_type: String,
    pub required: bool,
    pub is_unique: bool,
    pub indexed: bool,
    /// Holds personal data (`runtime::personal`): sealed in audit entries, cleared by erasure.
    pub personal: bool,
    /// The index slot the field holds (`t3`), while it is indexed (`runtime::indexes`).
    pub index_slot: Option<String>,
    /// Every record of the entity carries the slot's key (the slot's build finished).
    pub index_ready: bool,
    /// Asked to be found by full-text search (`runtime::search`).
    pub searchable: bool,
    /// Every existing record's search entry of the field is written (the back-fill finished).
    pub search_ready: bool,
    /// `@name` / `@email` words in its text notify the users they name (`runtime::mentions`).
    pub mentions: bool,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub options: Option<Json>,
    pub related_entity_id: Option<String>,
    pub relation_kind: Option<String>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub default_value: Option<Json>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub validation: Option<Json>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub labels: Option<Json>,
    /// A SELECT field's lifecycle (`runtime::lifecycle::Lifecycle`), when it has one.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub lifecycle: Option<Json>,
    /// Translations of option labels: option → language code → label.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub option_labels: Option<Json>,
    /// A FORMULA field's `{expression, resultType}` (`runtime::formula`); `None` for a stored one.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub formula: Option<Json>,
    pub position: i32,
    /// A ROLLUP field's definition (`runtime::rollup_fields::RollupDef`), absent otherwise.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub rollup: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// A RELATION field linking a record to its parent in the tenant's hierarchy
    /// (`runtime::hierarchy`): its changes keep `record_closure`.
    pub hierarchy: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `ai_providers`: a tenant's model providers for the AI gateway; the API key is sealed with the
//! server key and only its hint is ever shown.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_providers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    /// `openai` (chat completions) or `anthropic` (messages).
    pub wire_format: String,
    #[sea_orm(column_type = "Text")]
    pub base_url: String,
    pub model: String,
    /// The API key, sealed (`sealed::Sealer`) for the tenant and provider.
    #[sea_orm(column_type = "Text")]
    pub api_key_sealed: String,
    /// The key's last four characters.
    pub key_hint: String,
    /// USD per million input tokens.
    pub input_price: f64,
    /// USD per million output tokens.
    pub output_price: f64,
    pub active: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

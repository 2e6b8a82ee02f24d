//! `user_totp`: a user's TOTP secret (sealed with the server key), pending until confirmed.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_totp")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub tenant_id: String,
    /// The secret, sealed by the API (never the clear bytes).
    pub secret: String,
    /// False while the enrolment awaits its first code (`confirmTotp`).
    pub enabled: bool,
    /// The last 30-second step a code was accepted for: no code of it or before counts again.
    pub last_step: Option<i64>,
    /// Wrong codes since `failed_since` (`features::users::two_factor::locked`).
    pub failed_codes: i32,
    /// When the current count of wrong codes began (`None`: no wrong code counted).
    pub failed_since: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

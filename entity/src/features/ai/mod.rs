//! The AI gateway's data layer: a tenant's providers (their API keys sealed with the server key
//! and never read back — only a hint of the last four characters is kept in the clear), the
//! usage log (one row per call: tokens, estimated cost, user, feature), the monthly budget and
//! what the month has spent, and the PII mask every prompt is passed through before it is
//! written to the audit log. Calling a provider is the job crate's (`jobs::ai`), which both the
//! API and the worker (workflows, Customer Memory) use.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use regex::Regex;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::models::{ai_budget, ai_provider, ai_usage};
use crate::runtime::time;
use crate::sealed::Sealer;
use crate::{Error, FieldError, Result};

/// A provider as stored (its sealed key included; never shown).
pub type Provider = ai_provider::Model;
/// One call's usage row.
pub type Usage = ai_usage::Model;

/// The wire formats the gateway speaks.
pub const WIRE_FORMATS: [&str; 2] = ["openai", "anthropic"];

/// What an administrator gives to configure a provider.
#[derive(Debug, Clone)]
pub struct ProviderInput {
    pub name: String,
    pub wire_format: String,
    pub base_url: String,
    pub model: String,
    pub api_key: String,
    pub input_price: f64,
    pub output_price: f64,
}

/// What a provider's key is sealed for: its tenant and id, so a sealed key copied onto another
/// row does not open.
pub fn key_context(tenant_id: &str, provider_id: &str) -> String {
    format!("ai-provider:{tenant_id}:{provider_id}")
}

/// The hint shown instead of a key: its last four characters.
pub fn key_hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("…{tail}")
}

/// Every problem of `input`, by input key (the base URL's reachability is checked by the caller).
pub fn check(input: &ProviderInput) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if input.name.trim().is_empty() || input.name.len() > 100 {
        errors.push(FieldError::new("name", "between 1 and 100 characters"));
    }
    if !WIRE_FORMATS.contains(&input.wire_format.as_str()) {
        errors.push(FieldError::new("wireFormat", "`openai` (chat completions) or `anthropic` (messages)"));
    }
    if input.model.trim().is_empty() || input.model.len() > 200 {
        errors.push(FieldError::new("model", "between 1 and 200 characters"));
    }
    if input.api_key.trim().len() < 4 {
        errors.push(FieldError::new("apiKey", "at least 4 characters"));
    }
    for (key, price) in [("inputPrice", input.input_price), ("outputPrice", input.output_price)] {
        if !price.is_finite() || price < 0.0 {
            errors.push(FieldError::new(key, "a price per million tokens of 0 or more"));
        }
    }
    errors
}

/// Stores a provider for `tenant_id`, its key sealed with `sealer`, in place of the one of
/// the same name if there is one (a new key, model or URL is configured again, never edited
/// in place: the old key is gone with its row).
pub async fn configure(
    conn: &impl ConnectionTrait,
    sealer: &Sealer,
    tenant_id: &str,
    input: &ProviderInput,
) -> Result<Provider> {
    let id = uuid::Uuid::new_v4().to_string();
    let row = Provider {
        api_key_sealed: sealer.seal(input.api_key.trim().as_bytes(), &key_context(tenant_id, &id))?,
        key_hint: key_hint(input.api_key.trim()),
        id,
        tenant_id: tenant_id.to_owned(),
        name: input.name.trim().to_owned(),
        wire_format: input.wire_format.clone(),
        base_url: input.base_url.trim_end_matches('/').to_owned(),
        model: input.model.trim().to_owned(),
        input_price: input.input_price,
        output_price: input.output_price,
        active: true,
        created_at: time::now(),
    };
    ai_provider::Entity::delete_many()
        .filter(ai_provider::Column::TenantId.eq(tenant_id))
        .filter(ai_provider::Column::Name.eq(&row.name))
        .exec(conn)
        .await?;
    ai_provider::Entity::insert(ai_provider::ActiveModel::from(row.clone()))
        .exec_without_returning(conn)
        .await?;
    Ok(row)
}

/// The tenant's providers, oldest first.
pub async fn list(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Vec<Provider>> {
    Ok(ai_provider::Entity::find()
        .filter(ai_provider::Column::TenantId.eq(tenant_id))
        .order_by_asc(ai_provider::Column::CreatedAt)
        .order_by_asc(ai_provider::Column::Id)
        .all(conn)
        .await?)
}

/// The provider calls go to: the oldest active one.
pub async fn active(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Option<Provider>> {
    Ok(list(conn, tenant_id).await?.into_iter().find(|p| p.active))
}

/// Deletes a provider; `false` when there was none.
pub async fn delete(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<bool> {
    let res = ai_provider::Entity::delete_many()
        .filter(ai_provider::Column::TenantId.eq(tenant_id))
        .filter(ai_provider::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(res.rows_affected > 0)
}

/// The provider's API key, opened with the server key.
pub fn open_key(sealer: &Sealer, p: &Provider) -> Result<String> {
    let plain = sealer.open(&p.api_key_sealed, &key_context(&p.tenant_id, &p.id)).ok_or_else(|| {
        Error::AiProvider(format!("the key of provider `{}` cannot be opened; configure it again", p.name))
    })?;
    String::from_utf8(plain).map_err(|_| Error::Internal("a sealed AI key is not text".into()))
}

/// The first instant of `at`'s month (UTC): budgets are per calendar month.
pub fn month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0).single().unwrap_or(at)
}

/// The tenant's monthly budget in micro-USD (`None`: no budget).
pub async fn budget(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Option<i64>> {
    Ok(ai_budget::Entity::find_by_id(tenant_id.to_owned()).one(conn).await?.map(|b| b.monthly_micros))
}

/// Sets (or with `None` removes) the tenant's monthly budget.
pub async fn set_budget(conn: &impl ConnectionTrait, tenant_id: &str, micros: Option<i64>) -> Result<()> {
    let Some(micros) = micros else {
        ai_budget::Entity::delete_by_id(tenant_id.to_owned()).exec(conn).await?;
        return Ok(());
    };
    let row = ai_budget::ActiveModel {
        tenant_id: Set(tenant_id.to_owned()),
        monthly_micros: Set(micros),
        updated_at: Set(time::now()),
    };
    ai_budget::Entity::insert(row)
        .on_conflict(
            OnConflict::column(ai_budget::Column::TenantId)
                .update_columns([ai_budget::Column::MonthlyMicros, ai_budget::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// What the tenant's calls have cost since `since` (micro-USD).
pub async fn spent(conn: &impl ConnectionTrait, tenant_id: &str, since: DateTime<Utc>) -> Result<i64> {
    let total: Option<i64> = ai_usage::Entity::find()
        .select_only()
        .column_as(Expr::cust("CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT)"), "spent")
        .filter(ai_usage::Column::TenantId.eq(tenant_id))
        .filter(ai_usage::Column::CreatedAt.gte(since))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(total.unwrap_or(0))
}

/// Refuses with `BUDGET_EXCEEDED` when the month's spending has reached the tenant's budget.
pub async fn check_budget(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<()> {
    let Some(limit) = budget(conn, tenant_id).await? else { return Ok(()) };
    let used = spent(conn, tenant_id, month_start(time::now())).await?;
    if used >= limit {
        return Err(Error::BudgetExceeded(format!(
            "the monthly AI budget of {} USD is spent ({} USD used this month)",
            usd(limit),
            usd(used)
        )));
    }
    Ok(())
}

/// Micro-USD as USD.
pub fn usd(micros: i64) -> f64 {
    micros as f64 / 1e6
}

/// Records one call's usage.
pub async fn record_usage(conn: &impl ConnectionTrait, usage: Usage) -> Result<()> {
    ai_usage::Entity::insert(ai_usage::ActiveModel::from(usage)).exec_without_returning(conn).await?;
    Ok(())
}

/// The tenant's most recent `first` calls, newest first.
pub async fn usage(conn: &impl ConnectionTrait, tenant_id: &str, first: u64) -> Result<Vec<Usage>> {
    Ok(ai_usage::Entity::find()
        .filter(ai_usage::Column::TenantId.eq(tenant_id))
        .order_by_desc(ai_usage::Column::CreatedAt)
        .order_by_desc(ai_usage::Column::Id)
        .limit(first)
        .all(conn)
        .await?)
}

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").expect("static regex"));
static PHONE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\+?\d[\d\s().-]{6,}\d").expect("static regex"));

/// `text` with e-mail addresses and phone-like numbers masked, and each of `personal` (the
/// values of personal fields that went into it) replaced: what the audit log keeps of a prompt.
pub fn mask(text: &str, personal: &[String]) -> String {
    let mut out = text.to_owned();
    for value in personal.iter().filter(|v| v.len() >= 2) {
        out = out.replace(value.as_str(), "[personal]");
    }
    let out = EMAIL.replace_all(&out, "[email]");
    PHONE.replace_all(&out, "[phone]").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_addresses_numbers_and_personal_values() {
        let masked = mask("Write to ann@example.com or +1 (555) 010-9999 about Ann Lee", &["Ann Lee".into()]);
        assert_eq!(masked, "Write to [email] or [phone] about [personal]");
    }

    #[test]
    fn a_hint_is_the_last_four_characters() {
        assert_eq!(key_hint("sk-abcdef1234"), "…1234");
        assert_eq!(key_hint("abc"), "…abc");
    }
}

//! `updateTenant(input: {name, timeZone, defaultLanguage})` (administrators): the tenant's
//! display name, its IANA time zone — the zone schedules, "today"/"this week" dashboard periods
//! and date buckets of aggregates follow — and its default language, the last fallback of
//! labels before their base text (`schema::i18n`).

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputObject, InputValue, TypeRef};
use entity::FieldError;
use entity::models::tenant;
use entity::runtime::naming::{fields as f, types as t};
use entity::runtime::{audit, i18n, signals};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use crate::error::ApiError;
use crate::schema::args::arg_json;
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot, admin_types};

pub fn input_type() -> InputObject {
    InputObject::new(t::UPDATE_TENANT_INPUT)
        .field(InputValue::new("name", TypeRef::named(TypeRef::STRING)))
        .field(InputValue::new("timeZone", TypeRef::named(TypeRef::STRING)))
        .field(
            InputValue::new("defaultLanguage", TypeRef::named(TypeRef::STRING))
                .description("A language tag (`hi`, `bn-IN`); an empty string removes it."),
        )
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Input {
    name: Option<String>,
    time_zone: Option<String>,
    default_language: Option<String>,
}

pub fn mutation() -> Field {
    Field::new(f::UPDATE_TENANT, TypeRef::named_nn(t::TENANT), |c| {
        FieldFuture::new(async move {
            ctx::require_admin(&c)?;
            let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
            let input: Input = serde_json::from_value(arg_json(&c, "input")?.unwrap_or_default())
                .map_err(|e| ApiError::BadRequest(format!("input: {e}")))?;
            let mut errors = Vec::new();
            if input.name.as_deref().is_some_and(|n| n.trim().is_empty() || n.chars().count() > 200) {
                errors.push(FieldError::new("name", "must be 1 to 200 characters"));
            }
            if let Some(z) = &input.time_zone
                && z.parse::<chrono_tz::Tz>().is_err()
            {
                errors.push(FieldError::new("timeZone", format!("`{z}` is not an IANA time zone")));
            }
            let language = input.default_language.as_deref().map(str::trim);
            if let Some(l) = language.filter(|l| !l.is_empty() && !i18n::is_language_tag(l)) {
                let msg = format!("`{l}` is not a BCP-47 language tag such as `en` or `hi-IN`");
                errors.push(FieldError::new("defaultLanguage", msg));
            }
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors).into());
            }
            let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
            let current = tenant::Entity::find_by_id(p.tenant_id.clone())
                .one(&txn)
                .await
                .map_err(ApiError::from)?
                .ok_or_else(|| ApiError::NotFound("tenant".into()))?;
            let current_zone = current.time_zone.clone();
            let mut row: tenant::ActiveModel = current.into();
            if let Some(n) = &input.name {
                row.name = Set(n.trim().to_owned());
            }
            if let Some(z) = &input.time_zone {
                row.time_zone = Set(z.clone());
            }
            if let Some(l) = language {
                row.default_language = Set(Some(l.to_owned()).filter(|l| !l.is_empty()));
            }
            row.updated_at = Set(entity::runtime::time::now());
            let zone_changed = input.time_zone.as_ref().is_some_and(|z| *z != current_zone);
            let updated = row.update(&txn).await.map_err(ApiError::from)?;
            if zone_changed {
                // Formulas' TODAY() is resolved with the definitions (`formula::Clock`): a new
                // zone is a new metadata version, so every instance reloads them.
                signals::metadata_changed(&txn, state.db.dialect, &p.tenant_id).await.map_err(ApiError::from)?;
            }
            let entry = audit::Entry {
                action: "tenant.update",
                object_type: "tenant",
                object_id: Some(&p.tenant_id),
                changes: serde_json::json!({"name": input.name, "timeZone": input.time_zone,
                                            "defaultLanguage": input.default_language}),
            };
            audit::append(&txn, state.db.dialect, &p.tenant_id, &ctx::actor(&c)?, &entry)
                .await
                .map_err(ApiError::from)?;
            txn.commit().await.map_err(ApiError::from)?;
            Ok(Some(FieldValue::owned_any(updated)))
        })
    })
    .argument(InputValue::new("input", TypeRef::named_nn(t::UPDATE_TENANT_INPUT)))
    .description(
        "Renames the tenant, sets its IANA time zone (schedules, dashboard periods and date buckets follow it) \
         or its default language (labels fall back to it).",
    )
}

/// The tenant's settings (administrators).
pub static FEATURE: Declared = Declared {
    mutations: &[(Slot::Admin, |_| vec![mutation()])],
    types: |a| admin_types(a, || vec![input_type().into()]),
    ..Declared::EMPTY
};

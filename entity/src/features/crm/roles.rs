//! Checking a tenant's CRM roles against its definitions and storing them (`setCrmRoles`, a
//! template's `crmRoles`): the roles themselves are plain data of the engine
//! (`runtime::crm_roles`), loaded with the definitions.

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::models::crm_role;
use crate::runtime::crm_roles::CrmRoles;
use crate::runtime::meta::{EntityDef, FieldType, TenantMeta};
use crate::runtime::{signals, time};
use crate::{Dialect, Error, FieldError, Result};

/// Checks the roles against the tenant's definitions: every entity named exists, the stage
/// is a SELECT offering the won and lost values, the position a NUMBER, the lead's status
/// a SELECT offering the converted value. Errors name the input fields.
pub fn validate(roles: &CrmRoles, meta: &TenantMeta) -> Result<()> {
    let mut errors = Vec::new();
    let pipeline = entity(meta, &mut errors, "pipeline", Some(&roles.pipeline));
    let lead = entity(meta, &mut errors, "lead", roles.lead.as_ref());
    for (at, name) in
        [("account", &roles.account), ("contact", &roles.contact), ("activity", &roles.activity)]
    {
        entity(meta, &mut errors, at, name.as_ref());
    }
    for n in roles.timeline_entities.iter().flatten() {
        entity(meta, &mut errors, "timelineEntities", Some(n));
    }
    let stage_values = [roles.won_value.as_deref(), roles.lost_value.as_deref()];
    field(&mut errors, ("stageField", pipeline), &roles.stage_field, FieldType::Select, &stage_values);
    field(&mut errors, ("positionField", pipeline), &roles.position_field, FieldType::Number, &[]);
    let converted = [Some(roles.converted_value.as_str())];
    field(&mut errors, ("leadStatusField", lead), &roles.lead_status_field, FieldType::Select, &converted);
    if errors.is_empty() { Ok(()) } else { Err(Error::Validation(errors)) }
}

/// Stores the roles (checked against `meta` first) in the caller's transaction and bumps
/// the metadata version, so every instance reloads the definitions with them.
pub async fn save(
    roles: &CrmRoles,
    conn: &impl ConnectionTrait,
    d: Dialect,
    meta: &TenantMeta,
) -> Result<()> {
    validate(roles, meta)?;
    let tenant_id = meta.tenant_id.as_str();
    crm_role::Entity::delete_by_id(tenant_id.to_owned()).exec(conn).await?;
    let row = crm_role::ActiveModel {
        tenant_id: sea_orm::Set(tenant_id.to_owned()),
        roles: sea_orm::Set(serde_json::to_value(roles).map_err(|e| Error::Internal(e.to_string()))?),
        updated_at: sea_orm::Set(time::now()),
    };
    crm_role::Entity::insert(row).exec_without_returning(conn).await?;
    signals::metadata_changed(conn, d, tenant_id).await
}

/// The entity `name` (when one is named), or an error on `at`.
fn entity<'m>(
    meta: &'m TenantMeta,
    errors: &mut Vec<FieldError>,
    at: &str,
    name: Option<&String>,
) -> Option<&'m EntityDef> {
    let name = name?;
    let found = meta.entity_by_name(name).map(|e| &**e);
    if found.is_none() {
        errors.push(FieldError::new(at, format!("no entity named `{name}`")));
    }
    found
}

/// Checks that `e` (when there is one) has a `ty` field `key` offering every one of `values`.
fn field(
    errors: &mut Vec<FieldError>,
    (at, e): (&str, Option<&EntityDef>),
    key: &str,
    ty: FieldType,
    values: &[Option<&str>],
) {
    let Some(e) = e else { return };
    match e.field_by_key(key) {
        Some(f) if f.ty == ty => {
            for v in values.iter().flatten() {
                if !f.options.iter().any(|o| o == v) {
                    errors.push(FieldError::new(at, format!("`{key}` has no option `{v}`")));
                }
            }
        }
        _ => errors
            .push(FieldError::new(at, format!("`{}` has no {} field `{key}`", e.name_singular, ty.as_str()))),
    }
}

//! CRM roles as metadata: which of a tenant's entities plays the CRM's pipeline, lead,
//! account, contact and activity, which pipeline field is the stage (and which the position
//! within it), which stage values mean won and lost, and which lead status means converted.
//! The CRM operations (`features::crm`) and the timeline read them instead of names, so they
//! work on any template. They are stored per tenant (`crm_roles`) and loaded with the
//! tenant's definitions (`TenantMeta::crm`), so reading them costs the data path nothing; a
//! change bumps the metadata version. A tenant that never set any has the corporate CRM's.

use sea_orm::{ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};

use super::meta::{EntityDef, FieldType, TenantMeta};
use crate::models::crm_role;
use crate::{Error, FieldError, Result};

/// The parts a tenant's entities and fields play in its CRM (entity `nameSingular`s, field keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrmRoles {
    /// The pipeline entity (deals, opportunities).
    pub pipeline: String,
    /// Its SELECT field holding the stage (default `stage`).
    #[serde(default = "default_stage")]
    pub stage_field: String,
    /// Its NUMBER field ordering records within a stage (`moveDeal`; default `position`).
    #[serde(default = "default_position")]
    pub position_field: String,
    /// The stage meaning won, if any.
    #[serde(default)]
    pub won_value: Option<String>,
    /// The stage meaning lost, if any.
    #[serde(default)]
    pub lost_value: Option<String>,
    /// The lead entity (`convertLead` turns one into an account, a contact and a pipeline record).
    #[serde(default)]
    pub lead: Option<String>,
    /// The lead's SELECT field holding its status (default `status`).
    #[serde(default = "default_status")]
    pub lead_status_field: String,
    /// The status a converted lead takes (default `Converted`).
    #[serde(default = "default_converted")]
    pub converted_value: String,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub contact: Option<String>,
    /// Activities (calls, meetings, notes): a lead's are linked to what it converts into, and
    /// a record's show in its timeline as notes.
    #[serde(default)]
    pub activity: Option<String>,
    /// The related entities a timeline shows records of; every one when absent.
    #[serde(default)]
    pub timeline_entities: Option<Vec<String>>,
}

fn default_stage() -> String {
    "stage".into()
}

fn default_position() -> String {
    "position".into()
}

fn default_status() -> String {
    "status".into()
}

fn default_converted() -> String {
    "Converted".into()
}

impl Default for CrmRoles {
    /// The corporate CRM's names (what the CRM operations were written for).
    fn default() -> Self {
        CrmRoles {
            pipeline: "deal".into(),
            stage_field: default_stage(),
            position_field: default_position(),
            won_value: Some("Closed Won".into()),
            lost_value: Some("Closed Lost".into()),
            lead: Some("lead".into()),
            lead_status_field: default_status(),
            converted_value: default_converted(),
            account: Some("account".into()),
            contact: Some("contact".into()),
            activity: Some("activity".into()),
            timeline_entities: None,
        }
    }
}

impl CrmRoles {
    /// Checks the roles against the tenant's definitions: every entity named exists, the stage
    /// is a SELECT offering the won and lost values, the position a NUMBER, the lead's status
    /// a SELECT offering the converted value. Errors name the input fields.
    pub fn validate(&self, meta: &TenantMeta) -> Result<()> {
        let mut errors = Vec::new();
        let pipeline = entity(meta, &mut errors, "pipeline", Some(&self.pipeline));
        let lead = entity(meta, &mut errors, "lead", self.lead.as_ref());
        for (at, name) in
            [("account", &self.account), ("contact", &self.contact), ("activity", &self.activity)]
        {
            entity(meta, &mut errors, at, name.as_ref());
        }
        for n in self.timeline_entities.iter().flatten() {
            entity(meta, &mut errors, "timelineEntities", Some(n));
        }
        let stage_values = [self.won_value.as_deref(), self.lost_value.as_deref()];
        field(&mut errors, ("stageField", pipeline), &self.stage_field, FieldType::Select, &stage_values);
        field(&mut errors, ("positionField", pipeline), &self.position_field, FieldType::Number, &[]);
        let converted = [Some(self.converted_value.as_str())];
        field(&mut errors, ("leadStatusField", lead), &self.lead_status_field, FieldType::Select, &converted);
        if errors.is_empty() { Ok(()) } else { Err(Error::Validation(errors)) }
    }

    /// The tenant's stored roles (the default when it has none, or when what is stored no
    /// longer parses — then the CRM operations find what they can by those names).
    pub async fn load(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<CrmRoles> {
        let row = crm_role::Entity::find_by_id(tenant_id.to_owned()).one(conn).await?;
        Ok(row
            .and_then(|r| match serde_json::from_value(r.roles) {
                Ok(roles) => Some(roles),
                Err(e) => {
                    tracing::warn!(tenant = %tenant_id, problem = %e, "stored CRM roles do not parse");
                    None
                }
            })
            .unwrap_or_default())
    }

    /// Stores the roles (checked against `meta` first) in the caller's transaction and bumps
    /// the metadata version, so every instance reloads the definitions with them.
    pub async fn save(
        &self,
        conn: &impl ConnectionTrait,
        d: crate::dialect::Dialect,
        meta: &TenantMeta,
    ) -> Result<()> {
        self.validate(meta)?;
        let tenant_id = meta.tenant_id.as_str();
        crm_role::Entity::delete_by_id(tenant_id.to_owned()).exec(conn).await?;
        let row = crm_role::ActiveModel {
            tenant_id: sea_orm::Set(tenant_id.to_owned()),
            roles: sea_orm::Set(serde_json::to_value(self).map_err(|e| Error::Internal(e.to_string()))?),
            updated_at: sea_orm::Set(super::time::now()),
        };
        crm_role::Entity::insert(row).exec_without_returning(conn).await?;
        super::signals::metadata_changed(conn, d, tenant_id).await
    }
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

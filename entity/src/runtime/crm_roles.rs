//! CRM roles as metadata: which of a tenant's entities plays the CRM's pipeline, lead,
//! account, contact and activity, which pipeline field is the stage (and which the position
//! within it), which stage values mean won and lost, and which lead status means converted.
//! The CRM operations (`features::crm`) and the timeline read them instead of names, so they
//! work on any template. They are stored per tenant (`crm_roles`) and loaded with the
//! tenant's definitions (`TenantMeta::crm`), so reading them costs the data path nothing; a
//! change bumps the metadata version. A tenant that never set any has the corporate CRM's.
//! This is the plain data; the loader reads it, `features::crm::roles` checks and stores it.

use serde::{Deserialize, Serialize};

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

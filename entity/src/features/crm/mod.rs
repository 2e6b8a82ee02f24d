//! The CRM built on the engine, for any tenant whose entities play the CRM's parts
//! (`runtime::crm_roles`: the corporate CRM's names unless the tenant set others): pipeline
//! records ordered within their stage (`moveDeal`) and lead conversion (`convertLead`). Both go
//! through the record store — validation, row rules, audit, change events — in one transaction
//! each. The record's timeline (`timeline`) and its 360° view (`record360`) live beside them.

pub mod record360;
pub mod roles;
pub mod timeline;

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::runtime::audit::Actor;
use crate::runtime::filter::{Filter, Target};
use crate::runtime::meta::{EntityDef, FieldDef, FieldType, TenantMeta};
use crate::runtime::record::Record;
use crate::runtime::sql::{Direction, SortKey};
use crate::runtime::store::{Caller, ListArgs, Store, WriteRequest};
use crate::{Error, Result};

/// The gap between neighbours when positions are (re)numbered.
const STEP: f64 = 1024.0;

/// A pipeline: the entity playing it, its stage SELECT and its position NUMBER (`CrmRoles`).
pub struct Pipeline {
    pub deal: Arc<EntityDef>,
    pub stage: FieldDef,
    pub position: FieldDef,
}

impl Pipeline {
    /// The tenant's pipeline, when it has one.
    pub fn of(meta: &TenantMeta) -> Option<Pipeline> {
        let roles = &meta.crm;
        let deal = meta.entity_by_name(&roles.pipeline)?.clone();
        let stage = deal.field_by_key(&roles.stage_field).filter(|f| f.ty == FieldType::Select)?.clone();
        let position =
            deal.field_by_key(&roles.position_field).filter(|f| f.ty == FieldType::Number)?.clone();
        Some(Pipeline { deal, stage, position })
    }

    fn position_of(&self, r: &Record) -> Option<f64> {
        r.data.get(self.position.key.as_str()).and_then(Value::as_f64)
    }

    /// Moves deal `id` to `stage`, at index `position` among the deals of that stage the caller
    /// sees (`seen`: the caller's read rule; ordered by position; default: last). One write in
    /// the usual case: the deal takes a position between its new neighbours; the stage is
    /// renumbered only when they leave no room (or lack positions). Every write stays within
    /// `caller.row`, the caller's update rule, which may be narrower than what they see: a
    /// deal outside it is `NOT_FOUND`, and a stage to renumber that holds one is `FORBIDDEN`.
    #[allow(clippy::too_many_arguments)]
    pub async fn move_deal(
        &self,
        store: &Store<'_>,
        meta: &TenantMeta,
        caller: Caller<'_>,
        seen: Option<&Filter>,
        id: &str,
        stage: &str,
        position: Option<usize>,
    ) -> Result<Record> {
        if !self.stage.options.iter().any(|o| o == stage) {
            return Err(Error::field(
                "stage",
                format!("`{stage}` is not a stage ({})", self.stage.options.join(", ")),
            ));
        }
        let in_stage = Filter::parse(&self.deal, &json!({ self.stage.graphql_name.clone(): {"eq": stage} }))?;
        let order = vec![
            SortKey { target: Target::Field(Box::new(self.position.clone())), direction: Direction::Asc },
            SortKey { target: Target::CreatedAt, direction: Direction::Asc },
        ];
        let args = ListArgs { filter: Some(in_stage), order, first: Some(500), ..ListArgs::default() }
            .restrict(seen);
        let siblings: Vec<Record> =
            store.list(&self.deal, &args, 500).await?.records.into_iter().filter(|r| r.id != id).collect();
        let at = position.unwrap_or(siblings.len()).min(siblings.len());
        let before = at.checked_sub(1).and_then(|i| siblings.get(i)).map(|r| self.position_of(r));
        let after = siblings.get(at).map(|r| self.position_of(r));
        let spot = match (before, after) {
            (None, None) => Some(STEP),
            (Some(Some(p)), None) => Some(p + STEP),
            (None, Some(Some(n))) => Some(n - STEP),
            (Some(Some(p)), Some(Some(n))) if n - p > 1e-6 => Some((p + n) / 2.0),
            _ => None,
        };
        let txn = store.db.begin_tenant_write(store.tenant_id).await?;
        let spot = match spot {
            Some(s) => s,
            None => {
                // Renumber the stage as the caller sees it, leaving the slot free.
                for (i, r) in siblings.iter().enumerate() {
                    let slot = if i < at { i } else { i + 1 };
                    let mut input = Map::new();
                    input.insert(self.position.graphql_name.clone(), json!((slot as f64 + 1.0) * STEP));
                    let w = WriteRequest { meta, entity: &self.deal, input: &input, owner: None, caller };
                    store.update_in(&txn, &r.id, w).await.map_err(|e| match e {
                        Error::NotFound(_) => Error::Forbidden(format!(
                            "the stage must be renumbered, and it holds {} your role may not change",
                            self.deal.label_plural
                        )),
                        other => other,
                    })?;
                }
                (at as f64 + 1.0) * STEP
            }
        };
        let mut input = Map::new();
        input.insert(self.stage.graphql_name.clone(), json!(stage));
        input.insert(self.position.graphql_name.clone(), json!(spot));
        let w = WriteRequest { meta, entity: &self.deal, input: &input, owner: None, caller };
        let moved = store.update_in(&txn, id, w).await?;
        txn.commit().await?;
        Ok(moved)
    }
}

/// What converting a lead made.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub lead: Record,
    pub contact: Record,
    pub account: Option<Record>,
    pub deal: Record,
}

/// The caller's row rules on the entities a conversion touches: for each record it writes,
/// the rule of that write's action (`Permissions::write_rule`: the read rule, narrowed by the
/// action's own scope), which may leave out records the caller reads.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// The lead's update.
    pub lead: Option<Filter>,
    /// The contact's create.
    pub contact: Option<Filter>,
    /// The account's create.
    pub account: Option<Filter>,
    /// The accounts the caller reads: one of the lead's company is reused.
    pub account_read: Option<Filter>,
    /// The pipeline record's create.
    pub deal: Option<Filter>,
    /// The activities' update: those of the lead within it are linked to the new records.
    pub activity: Option<Filter>,
}

/// The entities lead conversion needs (those playing the lead, contact, account, pipeline and
/// activity), the lead's status field and the status meaning converted.
pub struct Conversions {
    pub lead: Arc<EntityDef>,
    pub contact: Arc<EntityDef>,
    pub account: Arc<EntityDef>,
    pub deal: Arc<EntityDef>,
    pub activity: Option<Arc<EntityDef>>,
    status: FieldDef,
    converted: String,
    /// The pipeline's stage field, whose first option a new pipeline record takes.
    stage: Option<FieldDef>,
}

/// A conversion's write of `input` to `entity`, by `actor` within the caller's row rule `row`
/// on that entity.
fn write<'a>(
    (meta, actor): (&'a TenantMeta, &'a Actor),
    entity: &'a EntityDef,
    input: &'a Map<String, Value>,
    owner: Option<&'a str>,
    row: &'a Option<Filter>,
) -> WriteRequest<'a> {
    WriteRequest { meta, entity, input, owner, caller: Caller { actor, row: row.as_ref() } }
}

impl Conversions {
    /// The tenant's conversion, when its entities play every part it needs.
    pub fn of(meta: &TenantMeta) -> Option<Conversions> {
        let roles = &meta.crm;
        let named = |n: &Option<String>| n.as_deref().and_then(|n| meta.entity_by_name(n)).cloned();
        let lead = named(&roles.lead)?;
        let status =
            lead.field_by_key(&roles.lead_status_field).filter(|f| f.ty == FieldType::Select)?.clone();
        let deal = meta.entity_by_name(&roles.pipeline)?.clone();
        let stage = deal.field_by_key(&roles.stage_field).filter(|f| f.ty == FieldType::Select).cloned();
        Some(Conversions {
            contact: named(&roles.contact)?,
            account: named(&roles.account)?,
            activity: named(&roles.activity),
            converted: roles.converted_value.clone(),
            lead,
            deal,
            status,
            stage,
        })
    }

    /// Converts lead `id`: an account (from its company, reusing one of the same name), a
    /// contact and a pipeline record (in the first stage, for its estimated value) linked to
    /// each other and to the lead through their RELATION fields to those entities; the lead's
    /// activities (those the caller may update) are linked to them; the lead takes the
    /// converted status. One transaction. A lead outside the caller's update rule is
    /// `NOT_FOUND`; one already converted is `CONFLICT`.
    pub async fn convert(
        &self,
        store: &Store<'_>,
        meta: &TenantMeta,
        actor: &Actor,
        rows: &Rows,
        id: &str,
    ) -> Result<Conversion> {
        let lead = store
            .get(&self.lead, id, rows.lead.as_ref())
            .await?
            .ok_or_else(|| Error::NotFound(self.lead.label_singular.clone()))?;
        let text = |k: &str| {
            lead.data.get(k).and_then(Value::as_str).map(str::to_owned).filter(|s| !s.trim().is_empty())
        };
        if text(self.status.key.as_str()).as_deref() == Some(self.converted.as_str()) {
            return Err(Error::Conflict("the lead is already converted".into()));
        }
        let existing_account = match text("company").filter(|_| self.account.field_by_key("name").is_some()) {
            Some(company) => {
                let by_name = Filter::parse(&self.account, &json!({"name": {"eq": company}}))?;
                let args = ListArgs { filter: Some(by_name), first: Some(1), ..ListArgs::default() }
                    .restrict(rows.account_read.as_ref());
                store.list(&self.account, &args, 1).await?.records.into_iter().next()
            }
            None => None,
        };
        let activities = match self.activity.as_ref().and_then(|a| Some((a, link(a, &self.lead)?))) {
            Some((a, to_lead)) => {
                let of_lead = Filter::parse(a, &json!({ to_lead.graphql_name.clone(): {"eq": id} }))?;
                let args = ListArgs { filter: Some(of_lead), first: Some(500), ..ListArgs::default() }
                    .restrict(rows.activity.as_ref());
                store.list(a, &args, 500).await?.records
            }
            _ => Vec::new(),
        };
        let (owner, by) = (lead.owner_id.as_deref(), (meta, actor));
        let txn = store.db.begin_tenant_write(store.tenant_id).await?;
        let account = match (existing_account, text("company")) {
            (Some(a), _) => Some(a),
            (None, Some(company)) => {
                let input = pick(
                    &self.account,
                    &[
                        ("name", Value::String(company)),
                        ("industry", json!(text("industry"))),
                        ("city", json!(text("city"))),
                    ],
                );
                Some(store.create_in(&txn, write(by, &self.account, &input, owner, &rows.account)).await?)
            }
            (None, None) => None,
        };
        let account_id = account.as_ref().map(|a| json!(a.id)).unwrap_or(Value::Null);
        let contact_input = pick(
            &self.contact,
            &[
                ("full_name", json!(text("full_name"))),
                ("email", json!(text("email"))),
                ("phone", json!(text("phone"))),
                ("job_title", json!(text("job_title"))),
                ("city", json!(text("city"))),
                (link_key(&self.contact, &self.account).as_str(), account_id.clone()),
            ],
        );
        let contact =
            store.create_in(&txn, write(by, &self.contact, &contact_input, owner, &rows.contact)).await?;
        let first_stage = self.stage.as_ref().and_then(|f| f.options.first().cloned());
        let title = text("company").or(text("full_name")).unwrap_or_else(|| "Converted lead".into());
        let deal_input = pick(
            &self.deal,
            &[
                ("title", json!(title)),
                (self.stage.as_ref().map_or("stage", |f| f.key.as_str()), json!(first_stage)),
                ("amount", json!(text("estimated_value"))),
                ("source", json!(text("source"))),
                (link_key(&self.deal, &self.account).as_str(), account_id.clone()),
                (link_key(&self.deal, &self.contact).as_str(), json!(contact.id)),
                (link_key(&self.deal, &self.lead).as_str(), json!(lead.id)),
            ],
        );
        let deal = store.create_in(&txn, write(by, &self.deal, &deal_input, owner, &rows.deal)).await?;
        if let Some(a) = &self.activity {
            for act in &activities {
                let links = pick(
                    a,
                    &[
                        (link_key(a, &self.contact).as_str(), json!(contact.id)),
                        (link_key(a, &self.account).as_str(), account_id.clone()),
                        (link_key(a, &self.deal).as_str(), json!(deal.id)),
                    ],
                );
                store.update_in(&txn, &act.id, write(by, a, &links, None, &rows.activity)).await?;
            }
        }
        let converted = pick(&self.lead, &[(self.status.key.as_str(), json!(self.converted))]);
        let lead =
            store.update_in(&txn, &lead.id, write(by, &self.lead, &converted, None, &rows.lead)).await?;
        txn.commit().await?;
        Ok(Conversion { lead, contact, account, deal })
    }
}

/// `e`'s first RELATION field to `target`.
fn link<'e>(e: &'e EntityDef, target: &EntityDef) -> Option<&'e FieldDef> {
    e.fields
        .iter()
        .find(|f| f.ty == FieldType::Relation && f.related_entity_id.as_deref() == Some(target.id.as_str()))
}

/// The key of `e`'s first RELATION field to `target` (empty, which `pick` leaves out, when
/// it has none).
fn link_key(e: &EntityDef, target: &EntityDef) -> String {
    link(e, target).map(|f| f.key.as_str().to_owned()).unwrap_or_default()
}

/// An input map (GraphQL names) of the non-null values whose keys the entity has; a SELECT
/// value the field does not offer is left out rather than failing the conversion.
fn pick(e: &EntityDef, values: &[(&str, Value)]) -> Map<String, Value> {
    values
        .iter()
        .filter(|(_, v)| !v.is_null())
        .filter_map(|(k, v)| {
            let f = e.field_by_key(k)?;
            if f.ty == FieldType::Select && !v.as_str().is_some_and(|s| f.options.iter().any(|o| o == s)) {
                return None;
            }
            Some((f.graphql_name.clone(), v.clone()))
        })
        .collect()
}
